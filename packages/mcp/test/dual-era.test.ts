import { ManualClock, SessionManager } from '@mcp-session/core';
import { MemorySessionStore } from '@mcp-session/memory';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { StateHandles } from '../src/handles/index.js';
import { createMcpSessionHandler, HANDLE_METADATA_KEY, MCP_METADATA_KEY } from '../src/index.js';
import { cleanupAfterEach, demoServer, handleToolsServer, postHeaders, textOf } from './helpers.js';

const IDLE_MS = 60_000;
const SESSIONS_URL = 'http://mcp.test/mcp';
const HANDLES_URL = 'http://mcp.test/mcp-2026';
const TOKENS: Record<string, string> = { 'alice-token': 'alice', 'bob-token': 'bob' };

const cleanups = cleanupAfterEach();

/**
 * One SessionManager behind both eras: the SDK 1.x session glue (2025-11-25, `Mcp-Session-Id`) and an SDK
 * 2.x handler with handle tools (2026-07-28). Clients reach them in-process; a bearer token maps to the
 * owner both sides bind to (`authInfo.clientId`).
 */
async function setup() {
  const clock = new ManualClock();
  const manager = new SessionManager({
    store: new MemorySessionStore({ sweepIntervalMs: 0 }),
    clock,
    idleTimeoutMs: IDLE_MS,
  });
  const sessions = await createMcpSessionHandler({
    sessions: manager,
    server: demoServer,
    sweepIntervalMs: null,
    // Requests are made in-process to http://mcp.test, which the default allowedHosts (loopback) refuse.
    allowedHosts: ['mcp.test'],
  });
  const handles = new StateHandles(manager, { mintTool: 'open_state' });
  const modern = createMcpHandler(() => handleToolsServer(handles, 'dual-era-test'), {
    legacy: 'reject',
  });
  cleanups.push(async () => {
    await modern.close();
    await sessions.close();
    await manager.close();
  });

  /** Routes like a server would: the session glue on /mcp, the 2026 handler on /mcp-2026. */
  const fetchServer = async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    const token = /^Bearer (\S+)$/.exec(request.headers.get('authorization') ?? '')?.[1];
    const owner = token === undefined ? undefined : TOKENS[token];
    const authInfo =
      owner === undefined ? undefined : { token: token ?? '', clientId: owner, scopes: [] };
    const options = authInfo === undefined ? {} : { authInfo };
    return new URL(request.url).pathname === '/mcp'
      ? sessions.handleRequest(request, options)
      : modern.fetch(request, options);
  };

  async function sessionClient(token: string) {
    const client = new ClientV1({ name: 'era-2025', version: '1.0.0' });
    const transport = new TransportV1(new URL(SESSIONS_URL), {
      fetch: fetchServer,
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
    await client.connect(transport);
    cleanups.push(() => client.close());
    return { client, sessionId: transport.sessionId ?? '' };
  }

  async function handleClient(token: string) {
    const client = new ClientV2(
      { name: 'era-2026', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    const transport = new TransportV2(new URL(HANDLES_URL), {
      fetch: fetchServer,
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
    await client.connect(transport);
    cleanups.push(() => client.close());
    return client;
  }

  return { clock, manager, sessions, handles, fetchServer, sessionClient, handleClient };
}

type ToolResult = { content: { type: string; text: string }[]; isError?: boolean };
const callV2 = async (client: ClientV2, name: string, args: Record<string, unknown>) =>
  (await client.callTool({ name, arguments: args })) as ToolResult;

describe('one store behind a 2025 session endpoint and a 2026 handle endpoint', () => {
  it('serves a session-header client and a handle client at once, each with its own state', async () => {
    const { sessionClient, handleClient, manager } = await setup();
    const [old, modern] = await Promise.all([
      sessionClient('alice-token'),
      handleClient('alice-token'),
    ]);
    const { handle } = textOf(await callV2(modern, 'open_state', {})) as { handle: string };

    await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        await old.client.callTool({
          name: 'remember',
          arguments: { key: `k${i}`, value: `session-${i}` },
        });
        await callV2(modern, 'remember', { handle, key: `k${i}`, value: `handle-${i}` });
      }),
    );
    for (let i = 0; i < 5; i++) {
      expect(
        textOf(await old.client.callTool({ name: 'recall', arguments: { key: `k${i}` } })),
      ).toEqual({
        value: `session-${i}`,
      });
      expect(textOf(await callV2(modern, 'recall', { handle, key: `k${i}` }))).toEqual({
        value: `handle-${i}`,
      });
    }

    // Two records in one store, both bound to alice: an MCP session and a handle, each marked as such.
    const { records } = await manager.listSessions({ owner: 'alice' });
    expect(records).toHaveLength(2);
    const kinds = records.map((record) =>
      Object.hasOwn(record.metadata, MCP_METADATA_KEY)
        ? 'session'
        : Object.hasOwn(record.metadata, HANDLE_METADATA_KEY)
          ? 'handle'
          : 'unmarked',
    );
    expect(kinds.sort()).toEqual(['handle', 'session']);
  });

  it('refuses a handle as Mcp-Session-Id (404) and a session id as a handle (tool error)', async () => {
    const { sessionClient, handleClient, fetchServer } = await setup();
    const old = await sessionClient('alice-token');
    const modern = await handleClient('alice-token');
    const { handle } = textOf(await callV2(modern, 'open_state', {})) as { handle: string };

    for (const presented of [handle, handle.slice(2)]) {
      const response = await fetchServer(SESSIONS_URL, {
        method: 'POST',
        headers: postHeaders({ authorization: 'Bearer alice-token', 'mcp-session-id': presented }),
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(response.status, presented).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: -32001 } });
    }
    for (const presented of [old.sessionId, `h_${old.sessionId}`]) {
      const result = await callV2(modern, 'recall', { handle: presented, key: 'k' });
      expect(result.isError, presented).toBe(true);
      expect(result.content[0]?.text).toMatch(/State handle not found/);
    }
  });

  it('never resumes a handle as an MCP session through Mcp-Preferred-Session-Id', async () => {
    const { handleClient, fetchServer, handles } = await setup();
    const modern = await handleClient('alice-token');
    const { handle } = textOf(await callV2(modern, 'open_state', {})) as { handle: string };
    await callV2(modern, 'remember', { handle, key: 'kept', value: 'yes' });

    const initialized = await fetchServer(SESSIONS_URL, {
      method: 'POST',
      headers: postHeaders({
        authorization: 'Bearer alice-token',
        'mcp-preferred-session-id': handle.slice(2),
      }),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'preferred', version: '1' },
        },
      }),
    });
    await initialized.text();
    expect(initialized.status).toBe(200);
    const newId = initialized.headers.get('mcp-session-id');
    expect(newId).not.toBeNull();
    expect(newId).not.toBe(handle.slice(2));
    // The handle is untouched: still a handle, no MCP metadata, its state intact.
    const state = await handles.resolve(handle, 'alice');
    expect(await state.get('kept')).toBe('yes');
    expect(Object.hasOwn((await state.session()).metadata, MCP_METADATA_KEY)).toBe(false);
  });

  it('expires both kinds on the same clock, and one sweep removes both', async () => {
    const { sessionClient, handleClient, clock, sessions } = await setup();
    const old = await sessionClient('bob-token');
    const modern = await handleClient('bob-token');
    const { handle } = textOf(await callV2(modern, 'open_state', {})) as { handle: string };
    clock.advance(IDLE_MS);
    expect(await sessions.sweep()).toBe(2);
    await expect(old.client.callTool({ name: 'recall', arguments: { key: 'k' } })).rejects.toThrow(
      /404|Session not found/,
    );
    expect((await callV2(modern, 'recall', { handle, key: 'k' })).isError).toBe(true);
  });
});
