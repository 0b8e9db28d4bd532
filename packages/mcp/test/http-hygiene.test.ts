import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidValueError, QuotaExceededError, SessionManager } from '@mcp-session/core';
import { createDualEraListener } from '@mcp-session/mcp/dual-era';
import { MemorySessionStore } from '@mcp-session/memory';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { createMcpHandler } from '@modelcontextprotocol/server';
import express from 'express';
import { describe, expect, it, vi } from 'vitest';
import { StateHandles } from '../src/handles/index.js';
import { createMcpSessionHandler, type McpSessionHandlerOptions } from '../src/index.js';
import {
  cleanupAfterEach,
  demoServer,
  handleToolsServer,
  INITIALIZE_PARAMS,
  listen,
  OWNER_HEADER,
  ownerFromHeader,
  postHeaders,
  rawInitialize,
  rawInitialized,
} from './helpers.js';
import {
  nestedArrays,
  nodeRequest,
  parseRawResponse,
  type RawResponse,
  sendAndWaitForClose,
} from './raw-http.js';

const cleanups = cleanupAfterEach();
const MAX_BODY_BYTES = 8 * 1024;
const INITIALIZE = { jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE_PARAMS };

/**
 * A store that counts creates, so "nothing written" is told from "written, then purged"; `refuseCreates`
 * makes `create` throw the stored-session quota error core's manager throws for its quotas.
 */
class TestStore extends MemorySessionStore {
  creates = 0;
  refuseCreates: QuotaExceededError | null = null;
  protected override async createRecord(
    ...args: Parameters<MemorySessionStore['createRecord']>
  ): Promise<void> {
    if (this.refuseCreates) throw this.refuseCreates;
    this.creates++;
    return super.createRecord(...args);
  }
}

/**
 * The session handler on its own listener and, on another port, the dual-era listener over it with an SDK
 * 2.x leg — each behind a catch that answers 500 with an empty body, as the reference server did.
 */
async function setup(options: Partial<McpSessionHandlerOptions> = {}) {
  const store = new TestStore({ sweepIntervalMs: 0 });
  const manager = new SessionManager({ store });
  const errors: Error[] = [];
  const handler = await createMcpSessionHandler({
    sessions: manager,
    server: demoServer,
    owner: ownerFromHeader,
    sweepIntervalMs: null,
    maxBodyBytes: MAX_BODY_BYTES,
    onerror: (error) => errors.push(error),
    ...options,
  });
  const handles = new StateHandles(manager, { mintTool: 'open_state' });
  const modern = createMcpHandler(() => handleToolsServer(handles, 'http-hygiene-test'), {
    legacy: 'reject',
  });
  const dualEra = createDualEraListener({ sessions: handler, modern });
  const listening = await listen(handler);
  const single = { ...listening, port: Number(new URL(listening.url).port) };
  const dual = await serve((req, res) =>
    dualEra(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    }),
  );
  cleanups.push(async () => {
    await single.close();
    await dual.close();
    await modern.close();
    await handler.close();
    await manager.close();
  });
  return {
    store,
    manager,
    handler,
    errors,
    legs: { handler: single, 'dual-era listener': dual },
  };
}

async function serve(listener: RequestListener) {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const LEGS = ['handler', 'dual-era listener'] as const;

/** A JSON-RPC error body as the glue and the SDK write them. */
function expectJsonRpcError(body: string, code: number, message: RegExp = /./) {
  expect(JSON.parse(body)).toEqual({
    jsonrpc: '2.0',
    error: { code, message: expect.stringMatching(message) },
    id: null,
  });
}

function initializeWith(url: string, headers: Record<string, string>): Promise<RawResponse> {
  return nodeRequest(url, {
    method: 'POST',
    headers: postHeaders(headers),
    body: JSON.stringify(INITIALIZE),
  });
}

describe('Host and Origin (DNS-rebinding protection), on by default', () => {
  for (const leg of LEGS) {
    it(`refuses a foreign Origin and a foreign Host with 403 naming the option, before writing anything (${leg})`, async () => {
      const env = await setup();
      const { url, port } = env.legs[leg];
      // Regression (issue 14): an initialize from http://evil.example.com got 200 and a session.
      const evilOrigin = await initializeWith(url, { origin: 'http://evil.example.com' });
      expect(evilOrigin.status).toBe(403);
      expectJsonRpcError(evilOrigin.body, -32000, /allowedOrigins/);
      const evilHost = await initializeWith(url, { host: `evil.example.com:${port}` });
      expect(evilHost.status).toBe(403);
      expectJsonRpcError(evilHost.body, -32000, /allowedHosts/);
      // GET and DELETE too (they go to the session handler on both legs).
      const get = await nodeRequest(url, {
        headers: { host: 'rebound.example.com', accept: 'text/event-stream' },
      });
      expect(get.status).toBe(403);
      expect(env.store.creates).toBe(0);
      expect(env.handler.stats().counters.forbidden).toBe(3);

      // Loopback hosts on any port, loopback origins, and no Origin at all pass.
      const passing: Record<string, string>[] = [
        { host: `localhost:${port}` },
        { host: `[::1]:${port}` },
        { origin: `http://localhost:5173` },
        { origin: `http://127.0.0.1:${port}` },
        {},
      ];
      for (const headers of passing) {
        expect((await initializeWith(url, headers)).status, JSON.stringify(headers)).toBe(200);
      }
    });
  }

  it('refuses a foreign Origin on the 2026 leg of the dual-era listener too', async () => {
    const env = await setup();
    const { url } = env.legs['dual-era listener'];
    const connect = async (headers: Record<string, string>) => {
      const client = new ClientV2(
        { name: 'era-2026', version: '1.0.0' },
        { versionNegotiation: { mode: { pin: '2026-07-28' } } },
      );
      await client.connect(new TransportV2(new URL(url), { requestInit: { headers } }));
      cleanups.push(() => client.close());
      return client;
    };
    const allowed = await connect({ origin: 'http://localhost:5173' });
    expect((await allowed.listTools()).tools.map((tool) => tool.name)).toContain('open_state');
    await expect(connect({ origin: 'https://evil.example.com' })).rejects.toThrow(/403/);
    expect(env.handler.stats().counters.forbidden).toBeGreaterThan(0);
  });

  it('serves the hosts and origins the options allow, and any with "*"', async () => {
    const env = await setup({
      allowedHosts: ['mcp.example.com', 'fixed.example.com:8443'],
      allowedOrigins: ['https://app.example.com'],
    });
    const { url } = env.legs.handler;
    const status = async (headers: Record<string, string>) =>
      (await initializeWith(url, headers)).status;
    expect(await status({ host: 'mcp.example.com' })).toBe(200);
    expect(await status({ host: 'MCP.example.com:9000' })).toBe(200);
    expect(await status({ host: 'fixed.example.com:8443' })).toBe(200);
    expect(await status({ host: 'fixed.example.com:8444' })).toBe(403);
    // Setting allowedHosts replaces the loopback default.
    expect(await status({})).toBe(403);
    expect(await status({ host: 'mcp.example.com', origin: 'https://app.example.com' })).toBe(200);
    expect(await status({ host: 'mcp.example.com', origin: 'http://app.example.com' })).toBe(403);
    expect(await status({ host: 'mcp.example.com', origin: 'null' })).toBe(403);

    const open = await setup({ allowedHosts: '*', allowedOrigins: '*' });
    expect(
      (
        await initializeWith(open.legs.handler.url, {
          host: 'anything.example',
          origin: 'https://evil.example.com',
        })
      ).status,
    ).toBe(200);
  });

  it('checks web-standard requests by their Host header, or their URL’s host', async () => {
    const env = await setup();
    const request = (url: string, headers: Record<string, string> = {}) =>
      env.handler.handleRequest(
        new Request(url, {
          method: 'POST',
          headers: postHeaders(headers),
          body: JSON.stringify(INITIALIZE),
        }),
      );
    expect((await request('http://localhost/mcp')).status).toBe(200);
    const foreign = await request('http://mcp.example.com/mcp');
    expect(foreign.status).toBe(403);
    expectJsonRpcError(await foreign.text(), -32000, /allowedHosts/);
    expect((await request('http://localhost/mcp', { origin: 'https://x.example' })).status).toBe(
      403,
    );
  });

  it('refuses entries that are not hosts or origins', async () => {
    const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
    cleanups.push(() => manager.close());
    for (const [options, name] of [
      [{ allowedHosts: ['https://mcp.example.com'] }, 'allowedHosts'],
      [{ allowedHosts: 'localhost' }, 'allowedHosts'],
      [{ allowedOrigins: ['app.example.com'] }, 'allowedOrigins'],
    ] as const) {
      const created = createMcpSessionHandler({
        sessions: manager,
        server: demoServer,
        ...(options as Partial<McpSessionHandlerOptions>),
      });
      await expect(created).rejects.toBeInstanceOf(InvalidValueError);
      await expect(created).rejects.toThrow(name);
    }
  });
});

describe('a declared Content-Length over maxBodyBytes', () => {
  for (const leg of LEGS) {
    it(`is answered 413 at once, with the connection closed and the body never read (regression: the socket was held) (${leg})`, async () => {
      const env = await setup();
      const { port, server } = env.legs[leg];
      // A client that announces a gigabyte and sends nothing: the answer must not wait for the body.
      const answer = await sendAndWaitForClose(
        port,
        'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
          'Accept: application/json, text/event-stream\r\nContent-Length: 1000000000\r\n\r\n',
      );
      const response = parseRawResponse(answer);
      expect(response.status).toBe(413);
      expect(response.headers.connection).toBe('close');
      expectJsonRpcError(response.body, -32000, new RegExp(`${MAX_BODY_BYTES} bytes`));
      await vi.waitFor(async () => {
        const open = await new Promise<number>((resolve, reject) =>
          server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
        );
        expect(open).toBe(0);
      });
      expect(env.store.creates).toBe(0);
    });
  }
});

describe('a body over maxBodyBytes that a client is really sending', () => {
  for (const leg of LEGS) {
    it(`gets its 413, not a broken pipe: the body is drained while it keeps arriving (${leg})`, async () => {
      const env = await setup();
      const response = await fetch(env.legs[leg].url, {
        method: 'POST',
        headers: postHeaders(),
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'ping',
          params: { pad: 'x'.repeat(4 * MAX_BODY_BYTES) },
        }),
      });
      expect(response.status).toBe(413);
      expectJsonRpcError(await response.text(), -32000, new RegExp(`${MAX_BODY_BYTES} bytes`));
      expect(env.store.creates).toBe(0);
    });
  }
});

describe('deeply nested JSON', () => {
  for (const leg of LEGS) {
    it(`gets 400 -32600 with a body past 64 levels, never 500 (regression: a stack overflow answered 500 with an empty body) (${leg})`, async () => {
      const env = await setup({ maxBodyBytes: 4 * 1024 * 1024 });
      const { url } = env.legs[leg];
      const initialize = (capabilities: string) =>
        nodeRequest(url, {
          method: 'POST',
          headers: postHeaders(),
          body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","clientInfo":{"name":"deep","version":"1"},"capabilities":${capabilities}}}`,
        });
      // The envelope, params and capabilities are three levels: 62 arrays in them make 65.
      for (const depth of [100_000, 62]) {
        const response = await initialize(`{"x":${nestedArrays(depth)}}`);
        expect(response.status, String(depth)).toBe(400);
        expectJsonRpcError(response.body, -32600, /nested deeper than 64 levels/);
      }
      // At 64 levels the request goes on, and meets the store's own, smaller limit on stored values.
      const atLimit = await initialize(`{"x":${nestedArrays(61)}}`);
      expect(atLimit.status).toBe(400);
      expectJsonRpcError(atLimit.body, -32602, /nested deeper than 32 levels/);
      const raw = await nodeRequest(url, {
        method: 'POST',
        headers: postHeaders(),
        body: nestedArrays(65),
      });
      expect(raw.status).toBe(400);
      expectJsonRpcError(raw.body, -32600, /nested deeper than 64 levels/);
      expect(env.store.creates).toBe(0);
      const shallow = await initialize(`{"x":${nestedArrays(3)}}`);
      expect(shallow.status).toBe(200);
    });
  }

  it('is refused when a body parser in front parsed it (Express)', async () => {
    const env = await setup();
    const app = express();
    app.use(express.json({ limit: '1mb' }));
    app.use(env.handler.middleware());
    const http = await serve(app);
    cleanups.push(() => http.close());
    const response = await nodeRequest(http.url, {
      method: 'POST',
      headers: postHeaders(),
      body: JSON.stringify({
        ...INITIALIZE,
        params: { ...INITIALIZE_PARAMS, deep: JSON.parse(nestedArrays(200)) },
      }),
    });
    expect(response.status).toBe(400);
    expectJsonRpcError(response.body, -32600, /nested deeper/);
  });
});

describe('an initialize the SDK would refuse', () => {
  it('is answered as the SDK would, before any session is created (regression: created, then purged)', async () => {
    const env = await setup();
    const { url } = env.legs.handler;
    const cases: [Record<string, string>, unknown, number, number, RegExp][] = [
      [{ accept: 'application/json' }, INITIALIZE, 406, -32000, /Not Acceptable/],
      [{ accept: 'text/event-stream' }, INITIALIZE, 406, -32000, /Not Acceptable/],
      [{ 'content-type': 'text/plain' }, INITIALIZE, 415, -32000, /Unsupported Media Type/],
      [{}, { method: 'initialize', params: INITIALIZE_PARAMS }, 400, -32700, /JSON-RPC message/],
      [{}, { ...INITIALIZE, id: null }, 400, -32700, /JSON-RPC message/],
    ];
    for (const [headers, body, status, code, message] of cases) {
      const response = await nodeRequest(url, {
        method: 'POST',
        headers: postHeaders(headers),
        body: JSON.stringify(body),
      });
      expect(response.status, JSON.stringify([headers, body])).toBe(status);
      expectJsonRpcError(response.body, code, message);
    }
    expect(env.store.creates).toBe(0);
    expect(env.handler.stats()).toMatchObject({ liveSessions: 0, counters: { initialized: 0 } });
    // Accept with parameters and a charset on the content type are fine, as for the SDK.
    const fine = await initializeWith(url, {
      accept: 'application/json;q=0.9, text/event-stream',
      'content-type': 'application/json; charset=utf-8',
    });
    expect(fine.status).toBe(200);
  });
});

describe('stored-session quotas (QuotaExceededError from the manager)', () => {
  it('answers an owner over its quota 429, and a full store 503, both with Retry-After and a JSON-RPC body', async () => {
    const env = await setup();
    const { url } = env.legs.handler;
    env.store.refuseCreates = new QuotaExceededError('owner', 3);
    const owner = await fetch(url, {
      method: 'POST',
      headers: postHeaders({ [OWNER_HEADER]: 'alice' }),
      body: JSON.stringify(INITIALIZE),
    });
    expect(owner.status).toBe(429);
    expect(Number(owner.headers.get('retry-after'))).toBeGreaterThan(0);
    expectJsonRpcError(await owner.text(), -32000, /already has 3 sessions/);

    env.store.refuseCreates = new QuotaExceededError('total', 100);
    const total = await fetch(url, {
      method: 'POST',
      headers: postHeaders(),
      body: JSON.stringify(INITIALIZE),
    });
    expect(total.status).toBe(503);
    expect(Number(total.headers.get('retry-after'))).toBeGreaterThan(0);
    expectJsonRpcError(await total.text(), -32000, /^Server busy/);

    expect(env.handler.stats()).toMatchObject({
      liveSessions: 0,
      counters: { ownerQuotaExceeded: 1, totalQuotaExceeded: 1 },
    });
    // The owner's refusal is theirs; a full store is the operator's, and reported.
    expect(env.errors.map((error) => error.message)).toEqual([
      expect.stringMatching(/store holds 100 sessions.*1 initialize request\(s\) answered 503/),
    ]);
    env.store.refuseCreates = null;
    expect((await rawInitialize(url)).response.status).toBe(200);
  });
});

describe('every error answer has a JSON-RPC body', () => {
  for (const leg of LEGS) {
    it(`405, 404 (path), 403, 413, 400, 503 (${leg})`, async () => {
      const env = await setup();
      const { url, port } = env.legs[leg];
      const base = `http://127.0.0.1:${port}`;
      const answers: [string, RawResponse, number][] = [
        ['PUT', await nodeRequest(url, { method: 'PUT' }), 405],
        ['other path', await nodeRequest(`${base}/elsewhere`, { method: 'POST', body: '{}' }), 404],
        ['foreign host', await nodeRequest(url, { headers: { host: 'evil.example' } }), 403],
        [
          'streamed body over the limit',
          await nodeRequest(url, {
            method: 'POST',
            headers: postHeaders({ 'transfer-encoding': 'chunked' }),
            body: JSON.stringify({ pad: 'x'.repeat(2 * MAX_BODY_BYTES) }),
          }),
          413,
        ],
        [
          'not JSON',
          await nodeRequest(url, { method: 'POST', headers: postHeaders(), body: '{' }),
          400,
        ],
      ];
      await env.handler.close();
      answers.push([
        'shutting down',
        await nodeRequest(url, {
          method: 'POST',
          headers: postHeaders(),
          body: JSON.stringify(INITIALIZE),
        }),
        503,
      ]);
      for (const [what, response, status] of answers) {
        expect(response.status, what).toBe(status);
        expect(response.headers['content-type'], what).toMatch(/^application\/json/);
        expect(JSON.parse(response.body), what).toMatchObject({
          jsonrpc: '2.0',
          id: null,
          error: { code: expect.any(Number), message: expect.any(String) },
        });
      }
    });
  }
});

describe('transport options', () => {
  it.skipIf(process.env.MCP_SDK_UNDER_TEST === '1.26')(
    'passes the SDK transport’s own options through (keepAliveMs; SDK 1.26 has none beyond those passed before)',
    async () => {
      const env = await setup({ transport: { keepAliveMs: 20 } });
      const { url } = env.legs.handler;
      const { sessionId } = await rawInitialize(url);
      await rawInitialized(url, sessionId ?? '');
      const controller = new AbortController();
      cleanups.push(() => controller.abort());
      const stream = await fetch(url, {
        headers: { accept: 'text/event-stream', 'mcp-session-id': sessionId ?? '' },
        signal: controller.signal,
      });
      const reader = stream.body?.getReader();
      const decoder = new TextDecoder();
      let received = '';
      // Three keep-alives come in ~60 ms at 20 ms; at the SDK's default (15 s) the test would time out.
      while (received.split(': keepalive').length <= 3) {
        const chunk = await reader?.read();
        if (!chunk || chunk.done) throw new Error(`stream ended after ${JSON.stringify(received)}`);
        received += decoder.decode(chunk.value, { stream: true });
      }
    },
  );

  it('refuses the options the handler owns, naming what to use instead', async () => {
    const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
    cleanups.push(() => manager.close());
    for (const [transport, instead] of [
      [{ eventStore: {} }, /transport.eventStore .*eventStore option/],
      [{ allowedHosts: ['x'] }, /transport.allowedHosts .*allowedHosts option/],
      [{ enableDnsRebindingProtection: true }, /allowedHosts and allowedOrigins options/],
      [{ maxRequestBodySize: 10 }, /maxBodyBytes option/],
      [{ sessionIdGenerator: () => 'x' }, /transport.sessionIdGenerator/],
    ] as const) {
      await expect(
        createMcpSessionHandler({
          sessions: manager,
          server: demoServer,
          transport: transport as never,
        }),
      ).rejects.toThrow(instead);
    }
  });
});
