import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_TIMER_MS, ManualClock, registerStore, SessionManager } from '@mcp-session/core';
import { MemorySessionStore } from '@mcp-session/memory';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import express from 'express';
import { describe, expect, it, vi } from 'vitest';
import { createMcpSessionHandler } from '../src/index.js';
import {
  cleanupAfterEach,
  demoServer,
  INITIALIZE_PARAMS,
  listen,
  OWNER_HEADER,
  openSse,
  ownerFromHeader,
  postHeaders,
  rawCallTool,
  rawInitialize,
  rawInitialized,
  textOf,
} from './helpers.js';

const cleanups = cleanupAfterEach();

async function setup(options: { idleTimeoutMs?: number; evictAfterMs?: number } = {}) {
  const clock = new ManualClock();
  const manager = new SessionManager({
    store: new MemorySessionStore({ sweepIntervalMs: 0 }),
    clock,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
  });
  const errors: Error[] = [];
  const handler = await createMcpSessionHandler({
    sessions: manager,
    server: demoServer,
    owner: ownerFromHeader,
    sweepIntervalMs: null,
    ...(options.evictAfterMs === undefined ? {} : { evictAfterMs: options.evictAfterMs }),
    onerror: (error) => errors.push(error),
  });
  const http = await listen(handler);
  cleanups.push(async () => {
    await http.close();
    await handler.close();
    await manager.close();
  });
  return { clock, manager, handler, http, url: http.url, errors };
}

/** Another handler on the same manager, as a second server instance sharing the store would be. */
async function secondInstance(manager: SessionManager) {
  const handler = await createMcpSessionHandler({
    sessions: manager,
    server: demoServer,
    sweepIntervalMs: null,
  });
  const http = await listen(handler);
  cleanups.push(async () => {
    await http.close();
    await handler.close();
  });
  return { handler, http };
}

function rawPost(
  url: string,
  sessionId: string | null,
  body: unknown,
  extra: Record<string, string> = {},
) {
  return fetch(url, {
    method: 'POST',
    headers: postHeaders({
      ...(sessionId === null ? {} : { 'mcp-session-id': sessionId }),
      ...extra,
    }),
    body: JSON.stringify(body),
  });
}

const ping = { jsonrpc: '2.0', id: 7, method: 'ping' };

async function errorOf(response: Response): Promise<{ code: number; message: string }> {
  return ((await response.json()) as { error: { code: number; message: string } }).error;
}

async function expectNotFound(response: Response) {
  expect(response.status).toBe(404);
  expect(await response.json()).toEqual({
    jsonrpc: '2.0',
    error: { code: -32001, message: 'Session not found' },
    id: null,
  });
}

describe('initialize', () => {
  it('creates a session bound to the owner and persists what a rebuild needs', async () => {
    const { url, manager, handler } = await setup();
    const { response, sessionId } = await rawInitialize(url, { [OWNER_HEADER]: 'alice' });
    expect(response.status).toBe(200);
    expect(sessionId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const session = await manager.getSession(sessionId ?? '', { owner: 'alice' });
    expect(session).toMatchObject({ owner: 'alice', state: 'active' });
    expect(session?.metadata).toEqual({
      mcp: { format: 1, generation: 1, initialize: INITIALIZE_PARAMS, logLevel: null },
    });
    // Hashing at rest stays on: the store holds the digest, not the id.
    expect(await manager.store.get(sessionId ?? '', { now: manager.clock.now() })).toBeNull();
    expect(handler.stats().counters.initialized).toBe(1);
  });

  it('serves /mcp and /mcp/ identically: no redirect, session id in the initialize response', async () => {
    const { http, manager } = await setup();
    for (const path of ['/mcp', '/mcp/', '/mcp?x=1', '/mcp/?x=1']) {
      const { response, sessionId } = await rawInitialize(`${http.base}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.redirected).toBe(false);
      expect(sessionId, path).not.toBeNull();
      await rawInitialized(`${http.base}${path}`, sessionId ?? '');
      const call = await rawCallTool(`${http.base}${path}`, sessionId ?? '', 'whoami', {});
      expect(call.result).toMatchObject({ sessionId });
      expect(await manager.getSession(sessionId ?? '')).not.toBeNull();
    }
    expect((await fetch(`${http.base}/other`)).status).toBe(404);
    expect((await fetch(`${http.base}/mcpx`, { method: 'POST' })).status).toBe(404);
  });

  it('leaves no session behind when the SDK refuses the initialize (406 without Accept)', async () => {
    const { url, manager } = await setup();
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: INITIALIZE_PARAMS,
      }),
    });
    expect(response.status).toBe(406);
    expect((await manager.getMetrics()).store.total).toBe(0);
  });

  it('refuses an initialize batched with other messages, before creating anything', async () => {
    const { url, manager } = await setup();
    const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE_PARAMS };
    const response = await rawPost(url, null, [initialize, ping]);
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe(-32600);
    expect((await manager.getMetrics()).store.total).toBe(0);
  });

  it('leaves no session behind when the server factory throws', async () => {
    const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
    const errors: Error[] = [];
    const handler = await createMcpSessionHandler({
      sessions: manager,
      server: () => {
        throw new Error('factory broke');
      },
      sweepIntervalMs: null,
      onerror: (error) => errors.push(error),
    });
    const http = await listen(handler);
    cleanups.push(async () => {
      await http.close();
      await handler.close();
      await manager.close();
    });
    const { response } = await rawInitialize(http.url);
    expect(response.status).toBe(500);
    expect((await manager.getMetrics()).store.total).toBe(0);
    expect(errors.map((e) => e.message)).toEqual(['factory broke']);
  });

  it('answers initialize params the store refuses with 400 -32602', async () => {
    const { url } = await setup();
    const params = {
      ...INITIALIZE_PARAMS,
      capabilities: { experimental: { big: { blob: 'x'.repeat(70_000) } } },
    };
    const response = await rawPost(url, null, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params,
    });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe(-32602);
  });
});

describe('status codes', () => {
  it('answers a non-initialize request without a session id with 400, on every method', async () => {
    const { url } = await setup();
    for (const response of [
      await rawPost(url, null, ping),
      await fetch(url, { headers: { accept: 'text/event-stream' } }),
      await fetch(url, { method: 'DELETE' }),
    ]) {
      expect(response.status).toBe(400);
      expect(await errorOf(response)).toEqual({
        code: -32000,
        message: 'Bad Request: Mcp-Session-Id header is required',
      });
    }
  });

  it('treats an empty session id header as missing (400)', async () => {
    const { url } = await setup();
    expect((await rawPost(url, '', ping)).status).toBe(400);
  });

  it('answers 503, never 404, when the store is unavailable, so clients keep their session', async () => {
    const { url, manager, errors } = await setup();
    const { sessionId } = await rawInitialize(url);
    await manager.store.close();
    const response = await rawPost(url, sessionId, ping);
    expect(response.status).toBe(503);
    expect((await errorOf(response)).code).toBe(-32603);
    expect(errors.some((e) => e.name === 'StoreClosedError')).toBe(true);
  });

  it('answers unknown and malformed ids with 404 -32001 on POST, GET and DELETE', async () => {
    const { url, handler } = await setup();
    for (const id of [
      'unknown-session-id-000000000000000',
      'bad id with spaces',
      'x'.repeat(300),
    ]) {
      await expectNotFound(await rawPost(url, id, ping));
      await expectNotFound(
        await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': id } }),
      );
      await expectNotFound(
        await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': id } }),
      );
    }
    expect(handler.stats().counters.notFound).toBe(9);
  });

  it('answers an expired session with 404 (manager clock, no sleeping)', async () => {
    const { url, clock } = await setup({ idleTimeoutMs: 1_000 });
    const { sessionId } = await rawInitialize(url);
    expect((await rawPost(url, sessionId, ping)).status).toBe(200);
    clock.advance(1_000);
    await expectNotFound(await rawPost(url, sessionId, ping));
  });

  it('closes the session on DELETE (tombstone) and answers 404 afterwards', async () => {
    const { url, manager, handler } = await setup();
    const { sessionId } = await rawInitialize(url, { [OWNER_HEADER]: 'alice' });
    const id = sessionId ?? '';
    const owner = { [OWNER_HEADER]: 'alice' };
    const deleted = await fetch(url, {
      method: 'DELETE',
      headers: { 'mcp-session-id': id, ...owner },
    });
    expect(deleted.status).toBe(200);
    const record = await manager.store.get(manager.storageId(id), { now: manager.clock.now() });
    expect(record?.state).toBe('closed');
    expect(handler.stats().liveSessions).toBe(0);
    await expectNotFound(await rawPost(url, id, ping, owner));
    await expectNotFound(
      await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': id, ...owner } }),
    );
  });

  it('answers another owner with 404, and never lets an owner use an unbound session or vice versa', async () => {
    const { url } = await setup();
    const alice = (await rawInitialize(url, { [OWNER_HEADER]: 'alice' })).sessionId ?? '';
    const unbound = (await rawInitialize(url)).sessionId ?? '';
    await expectNotFound(await rawPost(url, alice, ping, { [OWNER_HEADER]: 'bob' }));
    await expectNotFound(await rawPost(url, alice, ping));
    await expectNotFound(await rawPost(url, unbound, ping, { [OWNER_HEADER]: 'bob' }));
    await expectNotFound(
      await fetch(url, {
        method: 'DELETE',
        headers: { 'mcp-session-id': alice, [OWNER_HEADER]: 'bob' },
      }),
    );
    expect((await rawPost(url, alice, ping, { [OWNER_HEADER]: 'alice' })).status).toBe(200);
    expect((await rawPost(url, unbound, ping)).status).toBe(200);
  });

  it('answers other methods with 405 and oversized bodies with 413', async () => {
    const { url } = await setup();
    const put = await fetch(url, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST, DELETE');
    const big = await fetch(url, {
      method: 'POST',
      headers: postHeaders(),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'ping',
        params: { x: 'y'.repeat(5 * 1024 * 1024) },
      }),
    });
    expect(big.status).toBe(413);
    const broken = await fetch(url, { method: 'POST', headers: postHeaders(), body: '{nope' });
    expect(broken.status).toBe(400);
    expect((await errorOf(broken)).code).toBe(-32700);
  });
});

describe('rebuilding sessions this process does not hold', () => {
  it('continues a session after a restart with the same id, its context, capabilities and log level', async () => {
    const { manager, http, handler } = await setup();
    const client = new Client(
      { name: 'restart-client', version: '2.0.0' },
      { capabilities: { elicitation: {}, roots: {}, sampling: {} } },
    );
    client.setRequestHandler(
      (await import('@modelcontextprotocol/sdk/types.js')).CreateMessageRequestSchema,
      async () => ({
        model: 'test',
        role: 'assistant',
        content: { type: 'text', text: 'sampled' },
      }),
    );
    client.setRequestHandler(
      (await import('@modelcontextprotocol/sdk/types.js')).ElicitRequestSchema,
      async () => ({ action: 'accept', content: { ok: true } }),
    );
    client.setRequestHandler(
      (await import('@modelcontextprotocol/sdk/types.js')).ListRootsRequestSchema,
      async () => ({ roots: [{ uri: 'file:///work', name: 'work' }] }),
    );
    const logs: string[] = [];
    client.setNotificationHandler(
      (await import('@modelcontextprotocol/sdk/types.js')).LoggingMessageNotificationSchema,
      (notification) => {
        logs.push(String(notification.params.data));
      },
    );
    const transport = new StreamableHTTPClientTransport(new URL(http.url));
    await client.connect(transport);
    cleanups.push(() => client.close());
    const sessionId = transport.sessionId;
    await client.callTool({ name: 'remember', arguments: { key: 'city', value: 'Lyon' } });
    await client.setLoggingLevel('warning');

    // "Restart": a new handler (a new process would be the same) over the same store.
    await handler.close();
    const restarted = await createMcpSessionHandler({
      sessions: manager,
      server: demoServer,
      owner: ownerFromHeader,
      sweepIntervalMs: null,
    });
    cleanups.push(() => restarted.close());
    http.server.removeAllListeners('request');
    http.server.on('request', restarted.nodeListener);

    const recall = await client.callTool({ name: 'recall', arguments: { key: 'city' } });
    expect(recall.content).toEqual([{ type: 'text', text: JSON.stringify({ value: 'Lyon' }) }]);
    expect(transport.sessionId).toBe(sessionId);
    const who = textOf(await client.callTool({ name: 'whoami', arguments: {} }));
    expect(who).toMatchObject({
      sessionId,
      extraSessionId: sessionId,
      clientCapabilities: { elicitation: {}, roots: {}, sampling: {} },
      clientVersion: { name: 'restart-client', version: '2.0.0' },
    });
    // Capability checks work on the rebuilt session: elicitation and roots round-trip.
    const elicited = await client.callTool({ name: 'elicit', arguments: {} });
    expect(textOf(elicited)).toEqual({ action: 'accept', content: { ok: true } });
    const sampled = await client.callTool({ name: 'sample', arguments: {} });
    expect(textOf(sampled)).toEqual({ type: 'text', text: 'sampled' });
    const roots = await client.callTool({ name: 'roots', arguments: {} });
    expect(textOf(roots)).toEqual([{ uri: 'file:///work', name: 'work' }]);
    // The restored level filters: only warning and error arrive (on the client's GET stream, which the
    // SDK client reopens on its own about a second after the restart).
    await vi.waitFor(() => expect(restarted.stats().busySessions).toBe(1), { timeout: 10_000 });
    await client.callTool({
      name: 'log',
      arguments: { levels: ['debug', 'info', 'warning', 'error'] },
    });
    await vi.waitFor(() => expect(logs).toEqual(['at warning', 'at error']));
    expect(restarted.stats().counters.rebuilt).toBe(1);
  });

  it('rebuilds once for concurrent first requests (single flight)', async () => {
    const { url, manager } = await setup();
    const { sessionId } = await rawInitialize(url);
    const { handler: other, http: second } = await secondInstance(manager);
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => rawPost(second.url, sessionId, ping)),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(other.stats().counters.rebuilt).toBe(1);
  });

  it('closes a session on DELETE through another instance; the instance holding it then answers 404', async () => {
    const { url, manager, handler } = await setup();
    const { sessionId } = await rawInitialize(url);
    expect(handler.stats().liveSessions).toBe(1);
    const { handler: other, http: second } = await secondInstance(manager);
    const deleted = await fetch(second.url, {
      method: 'DELETE',
      headers: { 'mcp-session-id': sessionId ?? '' },
    });
    expect(deleted.status).toBe(200);
    expect(other.stats().counters.rebuilt).toBe(0); // closing needs no transport
    await expectNotFound(await rawPost(url, sessionId, ping));
    expect(handler.stats().liveSessions).toBe(0);
  });

  it('does not disturb the owner’s live session when another owner presents its id', async () => {
    const { url, handler } = await setup();
    const { sessionId } = await rawInitialize(url, { [OWNER_HEADER]: 'alice' });
    await expectNotFound(await rawPost(url, sessionId, ping, { [OWNER_HEADER]: 'mallory' }));
    expect(handler.stats()).toMatchObject({ liveSessions: 1, counters: { rebuilt: 0 } });
  });

  it('answers a session it cannot rebuild (no MCP metadata) with 404 instead of guessing', async () => {
    const { url, manager } = await setup();
    const foreign = await manager.createSession({ metadata: { app: 'other' } });
    await expectNotFound(await rawPost(url, foreign.id, ping));
    // Still resumable: a re-initialize with the preferred id brings it back.
    const again = await rawInitialize(url, { 'mcp-preferred-session-id': foreign.id });
    expect(again.sessionId).toBe(foreign.id);
    expect((await manager.getSession(foreign.id))?.metadata.app).toBe('other');
  });

  it('drops a transport built for an older generation when the session was re-initialized elsewhere', async () => {
    const { url, manager, handler } = await setup();
    const { sessionId } = await rawInitialize(url);
    const id = sessionId ?? '';
    expect((await rawPost(url, id, ping)).status).toBe(200);
    const { http: second } = await secondInstance(manager);
    const reinit = await fetch(second.url, {
      method: 'POST',
      headers: postHeaders({ 'mcp-preferred-session-id': id }),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { ...INITIALIZE_PARAMS, clientInfo: { name: 'renamed', version: '9' } },
      }),
    });
    expect(reinit.headers.get('mcp-session-id')).toBe(id);
    const who = await rawCallTool(url, id, 'whoami', {});
    expect(who.result).toMatchObject({ clientVersion: { name: 'renamed', version: '9' } });
    expect(handler.stats().counters.rebuilt).toBe(1);
  });
});

describe('preferred session id', () => {
  it('gives a resumable session back to its owner, with its context, under either header spelling', async () => {
    const { url, manager, handler } = await setup();
    for (const header of ['mcp-preferred-session-id', 'mcp-prefered-session-id']) {
      const first = (await rawInitialize(url, { [OWNER_HEADER]: 'alice' })).sessionId ?? '';
      await manager.setContext(first, 'note', 'kept', { owner: 'alice' });
      const again = await rawInitialize(url, { [OWNER_HEADER]: 'alice', [header]: first });
      expect(again.sessionId, header).toBe(first);
      const recall = await rawCallTool(
        url,
        first,
        'recall',
        { key: 'note' },
        { [OWNER_HEADER]: 'alice' },
      );
      expect(recall.result).toEqual({ value: 'kept' });
    }
    expect(handler.stats().counters.resumed).toBe(2);
  });

  it('mints a fresh id for another owner, an unknown id, or a closed session', async () => {
    const { url, manager } = await setup();
    const alice = (await rawInitialize(url, { [OWNER_HEADER]: 'alice' })).sessionId ?? '';
    const stolen = await rawInitialize(url, {
      [OWNER_HEADER]: 'bob',
      'mcp-preferred-session-id': alice,
    });
    expect(stolen.sessionId).not.toBe(alice);
    expect((await manager.getSession(stolen.sessionId ?? '', { owner: 'bob' }))?.owner).toBe('bob');
    const anonymous = await rawInitialize(url, { 'mcp-preferred-session-id': alice });
    expect(anonymous.sessionId).not.toBe(alice);
    const unknown = await rawInitialize(url, {
      'mcp-preferred-session-id': 'never-issued-id-0000000000000',
    });
    expect(unknown.sessionId).not.toBe('never-issued-id-0000000000000');
    await manager.closeSession(alice, { owner: 'alice' });
    const closed = await rawInitialize(url, {
      [OWNER_HEADER]: 'alice',
      'mcp-preferred-session-id': alice,
    });
    expect(closed.sessionId).not.toBe(alice);
  });
});

describe('eviction', () => {
  it('drops idle sessions from memory, marks them idle in the store, and rebuilds them on demand', async () => {
    const { url, handler, manager, clock } = await setup({ evictAfterMs: 5_000 });
    const { sessionId } = await rawInitialize(url);
    const id = sessionId ?? '';
    await rawInitialized(url, id);
    expect(handler.stats().liveSessions).toBe(1);
    clock.advance(4_000);
    expect(await handler.evictIdle()).toBe(0);
    clock.advance(1_000);
    expect(await handler.evictIdle()).toBe(1);
    expect(handler.stats()).toMatchObject({ liveSessions: 0, counters: { evicted: 1 } });
    expect((await manager.getSession(id))?.state).toBe('idle');

    const call = await rawCallTool(url, id, 'whoami', {});
    expect(call.result).toMatchObject({
      sessionId: id,
      clientVersion: INITIALIZE_PARAMS.clientInfo,
    });
    expect((await manager.getSession(id))?.state).toBe('active');
    expect(handler.stats().counters.rebuilt).toBe(1);
  });

  it('never evicts a session with an open stream', async () => {
    const { url, handler, clock } = await setup({ evictAfterMs: 1_000 });
    const { sessionId } = await rawInitialize(url);
    const id = sessionId ?? '';
    await rawInitialized(url, id);
    const stream = await openSse(url, { 'mcp-session-id': id });
    expect(stream.status).toBe(200);
    clock.advance(10_000);
    expect(await handler.evictIdle()).toBe(0);
    stream.close();
    await vi.waitFor(() => expect(handler.stats().busySessions).toBe(0));
    clock.advance(10_000);
    expect(await handler.evictIdle()).toBe(1);
  });

  it('keeps at most maxLiveSessions in memory, evicting the least recently used', async () => {
    const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
    const handler = await createMcpSessionHandler({
      sessions: manager,
      server: demoServer,
      maxLiveSessions: 3,
      sweepIntervalMs: null,
    });
    const http = await listen(handler);
    cleanups.push(async () => {
      await http.close();
      await handler.close();
      await manager.close();
    });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await rawInitialize(http.url)).sessionId ?? '');
    await vi.waitFor(() => expect(handler.stats().liveSessions).toBe(3));
    expect(handler.stats().counters.evicted).toBe(2);
    // The evicted ones still work (rebuilt), pushing others out in turn.
    expect((await rawPost(http.url, ids[0] ?? '', ping)).status).toBe(200);
    await vi.waitFor(() => expect(handler.stats().liveSessions).toBe(3));
  });
});

describe('sessionOf(extra)', () => {
  it('gives a request handler its session’s context and history, bound to the owner', async () => {
    const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
    let handler: Awaited<ReturnType<typeof createMcpSessionHandler>> | undefined;
    handler = await createMcpSessionHandler({
      sessions: manager,
      owner: ownerFromHeader,
      sweepIntervalMs: null,
      server: () => {
        const server = new McpServer({ name: 'session-of', version: '1.0.0' });
        server.registerTool('note', {}, async (extra) => {
          const session = handler?.sessionOf(extra);
          if (!session) throw new Error('no handler');
          await session.set('noted', true);
          await session.addMessage({ role: 'tool', content: 'noted' });
          return {
            content: [
              { type: 'text', text: JSON.stringify({ id: session.id, owner: session.owner }) },
            ],
          };
        });
        return server;
      },
    });
    const http = await listen(handler);
    cleanups.push(async () => {
      await http.close();
      await handler?.close();
      await manager.close();
    });
    const { sessionId } = await rawInitialize(http.url, { [OWNER_HEADER]: 'alice' });
    const call = await rawCallTool(
      http.url,
      sessionId ?? '',
      'note',
      {},
      { [OWNER_HEADER]: 'alice' },
    );
    expect(call.result).toEqual({ id: sessionId, owner: 'alice' });
    expect(await manager.getContext(sessionId ?? '', 'noted', { owner: 'alice' })).toBe(true);
    expect(
      (await manager.getHistory(sessionId ?? '', { owner: 'alice' })).map((e) => e.data),
    ).toEqual([{ role: 'tool', content: 'noted' }]);
    expect(() => handler?.sessionOf({ sessionId: 'not-held' })).toThrow(/live MCP session/);
  });
});

describe('close()', () => {
  it('keeps every session in the store and refuses new requests', async () => {
    const { url, handler, manager } = await setup();
    const { sessionId } = await rawInitialize(url);
    await handler.close();
    expect((await manager.getSession(sessionId ?? ''))?.state).toBe('active');
    expect((await rawPost(url, sessionId, ping)).status).toBe(503);
  });
});

describe('options', () => {
  it('refuses manager options next to a ready manager, and bad numbers', async () => {
    const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
    cleanups.push(() => manager.close());
    await expect(
      createMcpSessionHandler({ sessions: manager, server: demoServer, idleTimeoutMs: 5 }),
    ).rejects.toThrow(/idleTimeoutMs/);
    await expect(
      createMcpSessionHandler({ sessions: manager, server: demoServer, evictAfterMs: 0 }),
    ).rejects.toThrow(/evictAfterMs/);
    await expect(
      createMcpSessionHandler({ sessions: manager, server: demoServer, path: 'mcp' }),
    ).rejects.toThrow(/path/);
  });

  it('refuses a sweepIntervalMs Node would fire after 1 ms (regression: an interval above 2^31-1 ms swept in a loop)', async () => {
    const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
    cleanups.push(() => manager.close());
    for (const sweepIntervalMs of [
      2 ** 31,
      Number.MAX_SAFE_INTEGER,
      0,
      1.5,
      Number.POSITIVE_INFINITY,
    ]) {
      const error = await createMcpSessionHandler({
        sessions: manager,
        server: demoServer,
        sweepIntervalMs,
      }).catch((caught: unknown) => caught);
      expect(error, String(sweepIntervalMs)).toMatchObject({
        code: 'INVALID_VALUE',
        path: 'sweepIntervalMs',
      });
      expect((error as Error).message).toMatch(/^sweepIntervalMs must be .* from 1 to 2147483647/);
    }
    const handler = await createMcpSessionHandler({
      sessions: manager,
      server: demoServer,
      sweepIntervalMs: MAX_TIMER_MS,
    });
    await handler.close();
  });

  it('opens no store for a bad option, and closes the one it opened when the manager refuses its options (regression: the store was opened first and leaked)', async () => {
    const opened: MemorySessionStore[] = [];
    registerStore('mcp-options-test', async () => {
      const store = new MemorySessionStore({ sweepIntervalMs: 0 });
      opened.push(store);
      return store;
    });
    await expect(
      createMcpSessionHandler({
        sessions: 'mcp-options-test:',
        server: demoServer,
        evictAfterMs: 0,
      }),
    ).rejects.toThrow(/evictAfterMs/);
    expect(opened).toHaveLength(0);

    await expect(
      createMcpSessionHandler({
        sessions: 'mcp-options-test:',
        server: demoServer,
        idleTimeoutMs: -1,
      }),
    ).rejects.toThrow(/idleTimeoutMs/);
    expect(opened).toHaveLength(1);
    await expect(opened[0]?.get('any-id', { now: 0 })).rejects.toThrow(/closed/);
  });

  it('opens a store from a URL and closes it with the handler', async () => {
    const handler = await createMcpSessionHandler({
      sessions: 'memory:',
      server: demoServer,
      sweepIntervalMs: null,
    });
    const http = await listen(handler);
    const { sessionId } = await rawInitialize(http.url);
    expect(sessionId).not.toBeNull();
    await http.close();
    await handler.close();
    await expect(handler.manager.getSession(sessionId ?? '')).rejects.toThrow(/closed/);
  });
});

describe('Express middleware', () => {
  for (const parsed of [false, true]) {
    it(`serves /mcp and /mcp/ and passes other paths on (${parsed ? 'with' : 'without'} express.json())`, async () => {
      const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
      const handler = await createMcpSessionHandler({
        sessions: manager,
        server: demoServer,
        sweepIntervalMs: null,
      });
      const app = express();
      if (parsed) app.use(express.json());
      app.use((req, _res, next) => {
        (req as typeof req & { auth?: unknown }).auth = {
          token: 't',
          clientId: 'carol',
          scopes: [],
        };
        next();
      });
      app.use(handler.middleware());
      app.get('/other', (_req, res) => {
        res.send('other');
      });
      const server = createServer(app);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      cleanups.push(async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await handler.close();
        await manager.close();
      });
      for (const path of ['/mcp', '/mcp/']) {
        const { sessionId } = await rawInitialize(`${base}${path}`);
        // The default owner resolver binds to authInfo.clientId (req.auth).
        expect((await manager.getSession(sessionId ?? '', { owner: 'carol' }))?.owner).toBe(
          'carol',
        );
        const call = await rawCallTool(`${base}${path}`, sessionId ?? '', 'whoami', {});
        expect(call.result).toMatchObject({ owner: 'carol' });
      }
      expect(await (await fetch(`${base}/other`)).text()).toBe('other');
    });
  }
});
