import {
  connectRecoveringClient,
  RecoveringClientTransport,
  type SessionRenewedEvent,
} from '@mcp-session/mcp';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auth,
  postHeaders,
  rawCallTool,
  rawInitialize,
  type ServerProcess,
  sqliteStore,
  startServer,
  stopAllServers,
  type TestStore,
  TOKENS_ENV,
  textOf,
} from './helpers.js';

const IDLE_TIMEOUT_MS = 60_000;
let store: TestStore;
let server: ServerProcess;

beforeAll(async () => {
  store = await sqliteStore();
  server = await startServer({
    SESSION_STORE_URL: store.url,
    MCP_TOKENS: TOKENS_ENV,
    SESSION_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
    MCP_TEST_CONTROLS: '1',
    INSTANCE_NAME: 'protocol',
  });
});

afterAll(async () => {
  await stopAllServers();
  await store.cleanup();
});

const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };

function post(url: string, body: unknown, headers: Record<string, string>) {
  return fetch(url, { method: 'POST', headers: postHeaders(headers), body: JSON.stringify(body) });
}

async function expectNotFound(response: Response) {
  expect(response.status).toBe(404);
  expect(await response.json()).toEqual({
    jsonrpc: '2.0',
    error: { code: -32001, message: 'Session not found' },
    id: null,
  });
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${server.base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return Number(line?.split(' ').at(-1));
}

describe('HTTP surface', () => {
  it('requires a bearer token on /mcp, and serves /healthz and /metrics', async () => {
    expect((await post(server.url, ping, {})).status).toBe(401);
    expect(
      (await post(server.url, ping, { authorization: 'Bearer wrong-token-0000000000' })).status,
    ).toBe(401);
    const health = await fetch(`${server.base}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok', instance: 'protocol' });
    const metrics = await fetch(`${server.base}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await metrics.text()).toMatch(/^mcp_sessions\{state="active"\} \d+$/m);
  });

  it('answers a request without a session id with 400 and an unknown one with 404 -32001', async () => {
    const missing = await post(server.url, ping, auth('alice'));
    expect(missing.status).toBe(400);
    await expectNotFound(
      await post(server.url, ping, {
        ...auth('alice'),
        'mcp-session-id': 'no-such-session-0000000000000000',
      }),
    );
  });

  it('serves /mcp and /mcp/ the same way, without redirecting', async () => {
    for (const url of [server.url, `${server.url}/`]) {
      const { status, sessionId } = await rawInitialize(url, auth('alice'));
      expect(status, url).toBe(200);
      expect(sessionId, url).not.toBe('');
      for (const other of [server.url, `${server.url}/`]) {
        const call = await rawCallTool(other, sessionId, 'session_info', {}, auth('alice'));
        expect(call.result, other).toMatchObject({ sessionId, owner: 'alice' });
      }
      const stream = await fetch(url, {
        headers: { ...auth('alice'), accept: 'text/event-stream', 'mcp-session-id': sessionId },
      });
      expect(stream.status).toBe(200);
      await stream.body?.cancel();
      const deleted = await fetch(url, {
        method: 'DELETE',
        headers: { ...auth('alice'), 'mcp-session-id': sessionId },
      });
      expect(deleted.status).toBe(200);
      expect(deleted.redirected).toBe(false);
    }
  });

  it('closes a session on DELETE; reusing it gets 404', async () => {
    const { sessionId } = await rawInitialize(server.url, auth('alice'));
    const headers = { ...auth('alice'), 'mcp-session-id': sessionId };
    expect((await fetch(server.url, { method: 'DELETE', headers })).status).toBe(200);
    await expectNotFound(await post(server.url, ping, headers));
    await expectNotFound(await fetch(server.url, { method: 'DELETE', headers }));
  });

  it('hides a session from another owner: 404', async () => {
    const { sessionId } = await rawInitialize(server.url, auth('alice'));
    await expectNotFound(
      await post(server.url, ping, { ...auth('bob'), 'mcp-session-id': sessionId }),
    );
    expect(
      (await post(server.url, ping, { ...auth('alice'), 'mcp-session-id': sessionId })).status,
    ).toBe(200);
  });

  it('answers an expired session with 404 and sweeps it (server clock moved by the test control, no sleeping)', async () => {
    const { sessionId } = await rawInitialize(server.url, auth('bob'));
    const headers = { ...auth('bob'), 'mcp-session-id': sessionId };
    expect((await post(server.url, ping, headers)).status).toBe(200);
    const expiredBefore = await metric('mcp_sessions_expired_total');
    await fetch(`${server.base}/_test/advance-clock?ms=${IDLE_TIMEOUT_MS}`, { method: 'POST' });
    await expectNotFound(await post(server.url, ping, headers));
    const { swept } = (await (
      await fetch(`${server.base}/_test/sweep`, { method: 'POST' })
    ).json()) as {
      swept: number;
    };
    expect(swept).toBeGreaterThanOrEqual(1);
    expect(await metric('mcp_sessions_expired_total')).toBe(expiredBefore + swept);
  });
});

describe('client recovery', () => {
  it('renews transparently after its session is gone, and says so', async () => {
    const { client, transport } = await connectRecoveringClient(server.url, {
      clientInfo: { name: 'e2e-recovery', version: '1.0.0' },
      transport: { requestInit: { headers: auth('alice') } },
    });
    const renewals: SessionRenewedEvent[] = [];
    transport.on('renewed', (event) => renewals.push(event));
    const first = transport.sessionId ?? '';
    await client.callTool({ name: 'remember', arguments: { key: 'k', value: 'v' } });
    // Someone (another tab, an admin) ends the session.
    await fetch(server.url, {
      method: 'DELETE',
      headers: { ...auth('alice'), 'mcp-session-id': first },
    });

    const info = textOf(await client.callTool({ name: 'session_info', arguments: {} }));
    expect(info).toMatchObject({ owner: 'alice' });
    expect(transport.sessionId).not.toBe(first);
    expect(renewals).toEqual([
      expect.objectContaining({
        previousSessionId: first,
        sessionId: transport.sessionId,
        resumed: false,
      }),
    ]);
    await client.close();
  });

  it('gets its old session back with the preferred id; another owner presenting it gets a fresh session', async () => {
    const { client, transport } = await connectRecoveringClient(server.url, {
      clientInfo: { name: 'e2e-preferred', version: '1.0.0' },
      transport: { requestInit: { headers: auth('alice') } },
    });
    const id = transport.sessionId ?? '';
    await client.callTool({ name: 'remember', arguments: { key: 'color', value: 'teal' } });
    await client.close(); // the client process "restarts" and only remembers its session id

    const again = new Client({ name: 'e2e-preferred', version: '1.0.1' });
    const againTransport = new RecoveringClientTransport(server.url, {
      preferredSessionId: id,
      requestInit: { headers: auth('alice') },
    });
    await again.connect(againTransport);
    expect(againTransport.sessionId).toBe(id);
    expect(textOf(await again.callTool({ name: 'recall', arguments: { key: 'color' } }))).toEqual({
      key: 'color',
      value: 'teal',
    });
    await again.close();

    const mallory = new Client({ name: 'e2e-preferred', version: '1.0.1' });
    const malloryTransport = new RecoveringClientTransport(server.url, {
      preferredSessionId: id,
      requestInit: { headers: auth('bob') },
    });
    await mallory.connect(malloryTransport);
    expect(malloryTransport.sessionId).not.toBe(id);
    expect(textOf(await mallory.callTool({ name: 'recall', arguments: { key: 'color' } }))).toEqual(
      {
        key: 'color',
        value: null,
      },
    );
    await mallory.close();
  });
});

describe('tools', () => {
  it('remember, recall, history and session_info work on the session', async () => {
    const createdBefore = await metric('mcp_sessions_created_total');
    const messagesBefore = await metric('mcp_messages_total');
    const { client, transport } = await connectRecoveringClient(server.url, {
      clientInfo: { name: 'e2e-tools', version: '1.0.0' },
      transport: { requestInit: { headers: auth('bob') } },
    });
    await client.callTool({ name: 'remember', arguments: { key: 'a', value: '1' } });
    await client.callTool({ name: 'recall', arguments: { key: 'a' } });
    const history = textOf(await client.callTool({ name: 'history', arguments: {} })) as {
      role: string;
      content: { tool: string };
    }[];
    expect(history.map((entry) => entry.content.tool)).toEqual(['remember', 'recall']);
    const info = textOf(await client.callTool({ name: 'session_info', arguments: {} }));
    expect(info).toMatchObject({
      sessionId: transport.sessionId,
      owner: 'bob',
      state: 'active',
      messageCount: 2,
      contextKeys: 1,
    });
    expect(await metric('mcp_sessions_created_total')).toBe(createdBefore + 1);
    expect(await metric('mcp_messages_total')).toBe(messagesBefore + 2);
    await client.close();
  });
});
