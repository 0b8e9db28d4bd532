import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SessionManager } from '@mcp-session/core';
import { createDualEraListener } from '@mcp-session/mcp/dual-era';
import { MemorySessionStore } from '@mcp-session/memory';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createMcpHandler } from '@modelcontextprotocol/server';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { StateHandles } from '../src/handles/index.js';
import { createMcpSessionHandler, HANDLE_METADATA_KEY, MCP_METADATA_KEY } from '../src/index.js';
import {
  cleanupAfterEach,
  demoServer,
  handleToolsServer,
  openSse,
  postHeaders,
  rawInitialize,
  rawInitialized,
  textOf,
} from './helpers.js';

const MAX_BODY_BYTES = 8 * 1024;
const cleanups = cleanupAfterEach();

type AuthedRequest = IncomingMessage & { auth?: { token: string; clientId: string; scopes: [] } };

/** A bearer token names its owner: `Bearer alice` is alice (a stand-in for real authentication). */
function authenticate(req: AuthedRequest): void {
  const owner = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (owner !== undefined) req.auth = { token: owner, clientId: owner, scopes: [] };
}

/**
 * `createDualEraListener` over one manager: the SDK 1.x session handler and an SDK 2.x handler with handle
 * tools, on one HTTP endpoint. `via: 'express'` mounts it behind `express.json()` next to another route.
 */
async function setup(via: 'node' | 'express' = 'node') {
  const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
  const sessions = await createMcpSessionHandler({
    sessions: manager,
    server: demoServer,
    sweepIntervalMs: null,
    maxBodyBytes: MAX_BODY_BYTES,
  });
  const handles = new StateHandles(manager, { mintTool: 'open_state' });
  const modern = createMcpHandler(() => handleToolsServer(handles, 'dual-era-listener-test'), {
    legacy: 'reject',
  });
  const listener = createDualEraListener({ sessions, modern });

  let app: RequestListener;
  if (via === 'express') {
    const router = express();
    router.use(express.json({ limit: '1mb' }));
    router.use((req, _res, next) => {
      authenticate(req);
      next();
    });
    router.use((req, res, next) => void listener(req, res, next));
    router.get('/other', (_req, res) => {
      res.send('other');
    });
    app = router;
  } else {
    app = (req, res) => {
      authenticate(req);
      void listener(req, res);
    };
  }
  const http = createServer(app);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  cleanups.push(async () => {
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
    await modern.close();
    await sessions.close();
    await manager.close();
  });

  async function sessionClient(path: string, owner: string) {
    const client = new ClientV1({ name: 'era-2025', version: '1.0.0' });
    const transport = new TransportV1(new URL(`${base}${path}`), {
      requestInit: { headers: { authorization: `Bearer ${owner}` } },
    });
    await client.connect(transport);
    cleanups.push(() => client.close());
    return { client, sessionId: transport.sessionId ?? '' };
  }

  async function handleClient(path: string, owner: string) {
    const client = new ClientV2(
      { name: 'era-2026', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await client.connect(
      new TransportV2(new URL(`${base}${path}`), {
        requestInit: { headers: { authorization: `Bearer ${owner}` } },
      }),
    );
    cleanups.push(() => client.close());
    return client;
  }

  return { base, url: `${base}/mcp`, manager, sessions, sessionClient, handleClient };
}

/** A request body sent in chunks, without a Content-Length. */
function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + 16 * 1024));
      offset += 16 * 1024;
    },
  });
}

const callV2 = async (client: ClientV2, name: string, args: Record<string, unknown>) =>
  (await client.callTool({ name, arguments: args })) as {
    content: { type: string; text: string }[];
    isError?: boolean;
  };

async function bothEras(env: Awaited<ReturnType<typeof setup>>) {
  for (const path of ['/mcp', '/mcp/']) {
    const old = await env.sessionClient(path, 'alice');
    const modern = await env.handleClient(path, 'alice');
    const { handle } = textOf(await callV2(modern, 'open_state', {})) as { handle: string };
    await old.client.callTool({ name: 'remember', arguments: { key: 'era', value: '2025' } });
    await callV2(modern, 'remember', { handle, key: 'era', value: '2026' });
    expect(
      textOf(await old.client.callTool({ name: 'recall', arguments: { key: 'era' } })),
      path,
    ).toEqual({ value: '2025' });
    expect(textOf(await callV2(modern, 'recall', { handle, key: 'era' })), path).toEqual({
      value: '2026',
    });
  }
  // Each path made one MCP session and one handle, in the one store, both bound to alice.
  const { records } = await env.manager.listSessions({ owner: 'alice' });
  const kinds = records.map((record) =>
    Object.hasOwn(record.metadata, MCP_METADATA_KEY)
      ? 'session'
      : Object.hasOwn(record.metadata, HANDLE_METADATA_KEY)
        ? 'handle'
        : 'unmarked',
  );
  expect(kinds.sort()).toEqual(['handle', 'handle', 'session', 'session']);
}

describe('@mcp-session/mcp/dual-era: both protocol eras on one endpoint', () => {
  it('serves a 2025 session client and a 2026 handle client on /mcp and /mcp/ alike', async () => {
    await bothEras(await setup());
  });

  it('sends the GET stream and DELETE to the session handler', async () => {
    const { url, sessions } = await setup();
    const { sessionId } = await rawInitialize(url);
    expect(sessionId).not.toBeNull();
    await rawInitialized(url, sessionId ?? '');
    const stream = await openSse(url, { 'mcp-session-id': sessionId ?? '' });
    expect(stream.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(sessions.stats().busySessions).toBe(1);
    stream.close();

    const deleted = await fetch(url, {
      method: 'DELETE',
      headers: { 'mcp-session-id': sessionId ?? '' },
    });
    expect(deleted.status).toBe(200);
    expect(sessions.stats().counters.deleted).toBe(1);
    const after = await fetch(url, {
      method: 'POST',
      headers: postHeaders({ 'mcp-session-id': sessionId ?? '' }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(after.status).toBe(404);
  });

  it('reads each body once: 400 -32700 for bad JSON, 413 for a body over maxBodyBytes (a streamed one read, so the client gets the answer)', async () => {
    const { url } = await setup();
    const badJson = await fetch(url, {
      method: 'POST',
      headers: postHeaders(),
      body: '{"jsonrpc":',
    });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ error: { code: -32700 } });

    const tooLarge = await fetch(url, {
      method: 'POST',
      headers: postHeaders(),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'ping',
        params: { pad: 'x'.repeat(4 * MAX_BODY_BYTES) },
      }),
    });
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({
      error: { message: expect.stringContaining(`${MAX_BODY_BYTES} bytes`) },
    });

    // Past 16 times the limit a body is no longer drained: the connection is dropped unanswered. (Streamed,
    // without Content-Length: a declared length over the limit is answered before any of it is read.)
    await expect(
      fetch(url, {
        method: 'POST',
        headers: postHeaders(),
        body: streamOf(JSON.stringify({ pad: 'x'.repeat(32 * MAX_BODY_BYTES) })),
        duplex: 'half',
      } as RequestInit),
    ).rejects.toThrow();
  });

  it('answers another path with 404', async () => {
    const { base } = await setup();
    const response = await fetch(`${base}/elsewhere`, {
      method: 'POST',
      headers: postHeaders(),
      body: '{}',
    });
    expect(response.status).toBe(404);
  });

  it('works as Express middleware behind express.json(), passing other paths on', async () => {
    const env = await setup('express');
    await bothEras(env);
    expect(await (await fetch(`${env.base}/other`)).text()).toBe('other');
  });
});
