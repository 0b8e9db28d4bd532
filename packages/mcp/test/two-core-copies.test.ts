import type * as Core from '@mcp-session/core';
import type { SessionStore } from '@mcp-session/core';
import { MemorySessionStore } from '@mcp-session/memory';
import { importSecondCoreCopy, type SecondCoreCopy } from '@mcp-session/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callWithHandle, HandleNotFoundError, StateHandles } from '../src/handles/index.js';
import { createMcpSessionHandler } from '../src/index.js';
import {
  cleanupAfterEach,
  demoServer,
  INITIALIZE_PARAMS,
  listen,
  postHeaders,
  rawCallTool,
  rawInitialize,
  rawInitialized,
} from './helpers.js';

/**
 * Regression: the glue decided with `instanceof` on core's classes, which is false for a manager or an
 * error made by a second copy of core (two versions installed side by side). A second copy's manager was
 * refused as "not a SessionManager", its errors were answered 500 instead of 400 or 503, and an unknown
 * state handle surfaced as a raw SessionNotFoundError instead of the handle tool error. Here the second
 * copy is real: core's sources, copied to a temporary directory and imported from there
 * (`importSecondCoreCopy`).
 */

const cleanups = cleanupAfterEach();
let second: SecondCoreCopy;
let Copy: typeof Core;

beforeAll(async () => {
  second = await importSecondCoreCopy();
  Copy = second.core;
});

afterAll(async () => {
  await second.remove();
});

/** A memory store whose reads fail with the second copy's StoreUnavailableError once `down` is set. */
function storeThatFails() {
  const store = new MemorySessionStore({ sweepIntervalMs: 0 });
  const state = { down: false };
  const failing = new Proxy(store, {
    get(target, property) {
      if (property === 'get' && state.down) {
        return async () => {
          throw new Copy.StoreUnavailableError('second copy: backend down');
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as SessionStore;
  return { store: failing, state };
}

async function secondCopyManager(
  store: SessionStore = new MemorySessionStore({ sweepIntervalMs: 0 }),
) {
  const manager = new Copy.SessionManager({ store });
  cleanups.push(() => manager.close());
  return manager as unknown as Core.SessionManager;
}

describe('a second copy of core', () => {
  it('the copy really is another one: its classes are not this copy’s', async () => {
    const core = await import('@mcp-session/core');
    expect(new Copy.SessionNotFoundError()).not.toBeInstanceOf(core.SessionNotFoundError);
    expect(core.isSessionError(new Copy.SessionNotFoundError(), 'SESSION_NOT_FOUND')).toBe(true);
  });

  it('serves MCP sessions from its SessionManager, and maps its errors by code (400, 503)', async () => {
    const { store, state } = storeThatFails();
    const manager = await secondCopyManager(store);
    const errors: Error[] = [];
    const handler = await createMcpSessionHandler({
      sessions: manager,
      server: demoServer,
      sweepIntervalMs: null,
      onerror: (error) => errors.push(error),
    });
    const http = await listen(handler);
    cleanups.push(async () => {
      await http.close();
      await handler.close();
    });

    const { sessionId } = await rawInitialize(http.url);
    expect(sessionId).not.toBeNull();
    await rawInitialized(http.url, sessionId ?? '');
    await rawCallTool(http.url, sessionId ?? '', 'remember', { key: 'k', value: 'v' });
    expect((await rawCallTool(http.url, sessionId ?? '', 'recall', { key: 'k' })).result).toEqual({
      value: 'v',
    });

    // The copy's PayloadTooLargeError: the client's fault, 400 -32602.
    const tooBig = await fetch(http.url, {
      method: 'POST',
      headers: postHeaders(),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          ...INITIALIZE_PARAMS,
          capabilities: { experimental: { big: { blob: 'x'.repeat(70_000) } } },
        },
      }),
    });
    expect(tooBig.status).toBe(400);
    expect(await tooBig.json()).toMatchObject({ error: { code: -32602 } });

    // The copy's StoreUnavailableError: 503 with Retry-After, never 404 or 500.
    state.down = true;
    const down = await fetch(http.url, {
      method: 'POST',
      headers: postHeaders({ 'mcp-session-id': sessionId ?? '' }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
    });
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(errors.map((error) => error.message)).toContain('second copy: backend down');
  });

  it('backs state handles with its SessionManager; an unknown handle is the handle tool error', async () => {
    const manager = await secondCopyManager();
    const handles = new StateHandles(manager, { mintTool: 'open_state' });
    const { handle } = await handles.mint('alice');
    await (await handles.resolve(handle, 'alice')).set('k', 'v');

    const unknown = `h_${'A'.repeat(32)}`;
    await expect(handles.resolve(unknown, 'alice')).rejects.toBeInstanceOf(HandleNotFoundError);
    expect(await handles.close(unknown, 'alice')).toBe(false);
    expect(handles.stats().notFound).toBe(2);

    const result = await callWithHandle(handles, { clientId: 'alice' }, handle, async (state) => {
      await state.close();
      // Closed while the tool ran: the copy's SessionNotFoundError, which must become the tool error.
      return state.get('k');
    });
    expect(result).toMatchObject({ isError: true });
  });
});
