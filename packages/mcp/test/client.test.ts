import type { IncomingMessage, ServerResponse } from 'node:http';
import { SessionManager } from '@mcp-session/core';
import { MemorySessionStore } from '@mcp-session/memory';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { describe, expect, it, vi } from 'vitest';
import {
  connectRecoveringClient,
  createMcpSessionHandler,
  RecoveringClientTransport,
  type RecoveringClientTransportOptions,
  type SessionRenewedEvent,
} from '../src/index.js';
import {
  cleanupAfterEach,
  demoServer,
  listen,
  OWNER_HEADER,
  ownerFromHeader,
  textOf,
} from './helpers.js';

const cleanups = cleanupAfterEach();

/** A server whose every initialize is counted, with the preferred-id header it carried. */
async function setup() {
  const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
  const handler = await createMcpSessionHandler({
    sessions: manager,
    server: demoServer,
    owner: ownerFromHeader,
    sweepIntervalMs: null,
  });
  const initializes: (string | null)[] = [];
  const http = await listen(handler);
  http.server.removeAllListeners('request');
  http.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST' && !req.headers['mcp-session-id']) {
      const preferred = req.headers['mcp-preferred-session-id'];
      initializes.push(typeof preferred === 'string' ? preferred : null);
    }
    void handler.nodeListener(req, res);
  });
  cleanups.push(async () => {
    await http.close();
    await handler.close();
    await manager.close();
  });
  return { manager, handler, url: http.url, initializes };
}

async function connect(url: string, options: RecoveringClientTransportOptions = {}) {
  const transport = new RecoveringClientTransport(url, {
    requestInit: { headers: { [OWNER_HEADER]: 'alice' } },
    ...options,
  });
  const renewals: SessionRenewedEvent[] = [];
  transport.on('renewed', (event) => renewals.push(event));
  const client = new Client({ name: 'recovering', version: '1.0.0' });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, transport, renewals };
}

describe('RecoveringClientTransport', () => {
  it('exposes the session id and renews transparently after a 404, retrying the request once', async () => {
    const { url, manager, initializes } = await setup();
    const { client, transport, renewals } = await connect(url);
    const first = transport.sessionId ?? '';
    expect(first).not.toBe('');
    await manager.closeSession(first, { owner: 'alice' });

    const result = await client.callTool({ name: 'whoami', arguments: {} });
    const second = transport.sessionId ?? '';
    expect(second).not.toBe(first);
    expect(textOf(result)).toMatchObject({ sessionId: second, owner: 'alice' });
    expect(renewals).toEqual([
      expect.objectContaining({ previousSessionId: first, sessionId: second, resumed: false }),
    ]);
    // The closed session is not resumable, so the preferred id was asked for and refused.
    expect(initializes).toEqual([null, first]);
  });

  it('shares one renewal between concurrent requests that hit the same 404', async () => {
    const { url, manager, initializes } = await setup();
    const { client, transport, renewals } = await connect(url);
    await manager.closeSession(transport.sessionId ?? '', { owner: 'alice' });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        client.callTool({ name: 'remember', arguments: { key: `k${i}`, value: String(i) } }),
      ),
    );
    expect(results).toHaveLength(6);
    expect(renewals).toHaveLength(1);
    expect(initializes).toHaveLength(2);
    const recall = await client.callTool({ name: 'recall', arguments: { key: 'k5' } });
    expect(textOf(recall)).toEqual({ value: '5' });
  });

  it('gets its old session back, context included, when the server still holds it as resumable', async () => {
    const { url, manager } = await setup();
    const { client, transport, renewals } = await connect(url);
    const id = transport.sessionId ?? '';
    await client.callTool({ name: 'remember', arguments: { key: 'color', value: 'teal' } });
    // A server that cannot rebuild the session (here: its MCP metadata is gone) answers 404, but the
    // session itself is still resumable for its owner.
    await manager.updateSession(id, { metadata: {} }, { owner: 'alice' });

    const recall = await client.callTool({ name: 'recall', arguments: { key: 'color' } });
    expect(textOf(recall)).toEqual({ value: 'teal' });
    expect(transport.sessionId).toBe(id);
    expect(renewals).toEqual([
      expect.objectContaining({ previousSessionId: id, sessionId: id, resumed: true }),
    ]);
  });

  it('retries only once: a second 404 reaches the caller', async () => {
    const { url, initializes } = await setup();
    // A proxy that loses every session: each non-initialize POST with a session id gets 404.
    const losing: FetchLike = async (input, init) => {
      const headers = new Headers(init?.headers);
      if (
        init?.method === 'POST' &&
        headers.has('mcp-session-id') &&
        !String(init.body).includes('notifications/initialized')
      ) {
        return new Response('{}', { status: 404 });
      }
      return fetch(input, init);
    };
    const { client, renewals } = await connect(url, { fetch: losing });
    await expect(client.callTool({ name: 'whoami', arguments: {} })).rejects.toMatchObject({
      code: 404,
    });
    expect(renewals).toHaveLength(1);
    expect(initializes).toHaveLength(2);
  });

  it('does not treat a 404 on the GET stream as expiry', async () => {
    const { url } = await setup();
    let refusedGets = 0;
    const getsFail: FetchLike = async (input, init) => {
      if ((init?.method ?? 'GET') !== 'GET') return fetch(input, init);
      refusedGets++;
      return new Response(null, { status: 404 });
    };
    const { client, transport, renewals } = await connect(url, { fetch: getsFail });
    const id = transport.sessionId;
    await vi.waitFor(() => expect(refusedGets).toBeGreaterThan(0));
    await client.callTool({ name: 'whoami', arguments: {} });
    expect(transport.sessionId).toBe(id);
    expect(renewals).toHaveLength(0);
  });

  it('counts a 404 on DELETE as success', async () => {
    const { url, manager } = await setup();
    const { transport } = await connect(url);
    await manager.closeSession(transport.sessionId ?? '', { owner: 'alice' });
    await expect(transport.terminateSession()).resolves.toBeUndefined();
    expect(transport.sessionId).toBeUndefined();
  });

  it('starts with a preferred session id: a restarted client gets its session back, another owner does not', async () => {
    const { url } = await setup();
    const { client, transport } = await connect(url);
    const id = transport.sessionId ?? '';
    await client.callTool({ name: 'remember', arguments: { key: 'k', value: 'v' } });
    await client.close();

    const again = await connect(url, { preferredSessionId: id });
    expect(again.transport.sessionId).toBe(id);
    expect(
      textOf(await again.client.callTool({ name: 'recall', arguments: { key: 'k' } })),
    ).toEqual({ value: 'v' });

    const mallory = await connect(url, {
      preferredSessionId: id,
      requestInit: { headers: { [OWNER_HEADER]: 'mallory' } },
    });
    expect(mallory.transport.sessionId).not.toBe(id);
    expect(
      textOf(await mallory.client.callTool({ name: 'recall', arguments: { key: 'k' } })),
    ).toEqual({ value: null });
  });
});

describe('RecoveringClientTransport options', () => {
  it('refuses a renewTimeoutMs Node would fire after 1 ms (regression: no bound, so a renewal timed out at once)', () => {
    for (const renewTimeoutMs of [2 ** 31, 0, -1, 1.5, Number.NaN]) {
      expect(
        () => new RecoveringClientTransport('http://127.0.0.1:1/mcp', { renewTimeoutMs }),
        String(renewTimeoutMs),
      ).toThrow(/^renewTimeoutMs must be a whole number of milliseconds from 1 to 2147483647/);
    }
    expect(
      new RecoveringClientTransport('http://127.0.0.1:1/mcp', { renewTimeoutMs: 2 ** 31 - 1 }),
    ).toBeInstanceOf(RecoveringClientTransport);
  });
});

describe('connectRecoveringClient', () => {
  it('continues a known session id without initializing, and can still renew it', async () => {
    const { url, manager, initializes } = await setup();
    const first = await connectRecoveringClient(url, {
      clientInfo: { name: 'helper', version: '1' },
      transport: { requestInit: { headers: { [OWNER_HEADER]: 'alice' } } },
    });
    cleanups.push(() => first.client.close());
    const id = first.transport.sessionId ?? '';
    const resumed = await connectRecoveringClient(url, {
      clientInfo: { name: 'helper', version: '1' },
      transport: { sessionId: id, requestInit: { headers: { [OWNER_HEADER]: 'alice' } } },
    });
    cleanups.push(() => resumed.client.close());
    expect(initializes).toHaveLength(1);
    expect(textOf(await resumed.client.callTool({ name: 'whoami', arguments: {} }))).toMatchObject({
      sessionId: id,
    });

    await manager.closeSession(id, { owner: 'alice' });
    const after = textOf(await resumed.client.callTool({ name: 'whoami', arguments: {} })) as {
      sessionId: string;
      clientVersion: unknown;
    };
    expect(after.sessionId).not.toBe(id);
    expect(after.clientVersion).toEqual({ name: 'helper', version: '1' });
  });
});
