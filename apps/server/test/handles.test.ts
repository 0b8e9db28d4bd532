import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auth,
  callTool,
  connectHandleClient,
  postgresStore,
  postHeaders,
  redisStore,
  type ServerProcess,
  sqliteStore,
  startRoundRobinProxy,
  startServer,
  stopAllServers,
  type TestStore,
  TOKENS_ENV,
  type ToolResult,
  textOf,
} from './helpers.js';

const IDLE_TIMEOUT_MS = 60_000;
const NOT_FOUND =
  'State handle not found: it is unknown, expired, closed, or belongs to another user. Call open_state to get a new handle and retry with it.';

afterAll(stopAllServers);

async function openState(client: Awaited<ReturnType<typeof connectHandleClient>>['client']) {
  const result = await callTool(client, 'open_state', {});
  expect(result.isError, result.content[0]?.text).toBeFalsy();
  return textOf(result) as { handle: string; expiresAt: string };
}

function expectNotFound(result: ToolResult) {
  expect(result.isError).toBe(true);
  expect(result.content[0]?.text).toBe(NOT_FOUND);
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return Number(line?.split(' ').at(-1));
}

describe('2026-era clients with state handles, on the same endpoint as 2025 sessions', () => {
  let store: TestStore;
  let server: ServerProcess;

  beforeAll(async () => {
    store = await sqliteStore();
    server = await startServer({
      SESSION_STORE_URL: store.url,
      MCP_TOKENS: TOKENS_ENV,
      SESSION_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
      MCP_TEST_CONTROLS: '1',
      INSTANCE_NAME: 'handles',
    });
  });
  afterAll(async () => {
    await server.stop();
    await store.cleanup();
  });

  it('mints a handle in one call and uses it in later calls and connections, with no protocol session', async () => {
    const first = await connectHandleClient(server.url, 'alice');
    expect(first.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const { handle, expiresAt } = await openState(first.client);
    expect(handle).toMatch(/^h_[A-Za-z0-9_-]{32}$/);
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now());

    await callTool(first.client, 'remember', { handle, key: 'city', value: 'Lyon' });
    await first.client.close();

    const second = await connectHandleClient(server.url, 'alice');
    expect(textOf(await callTool(second.client, 'recall', { handle, key: 'city' }))).toEqual({
      key: 'city',
      value: 'Lyon',
    });
    const history = textOf(await callTool(second.client, 'history', { handle })) as {
      content: { tool: string };
    }[];
    expect(history.map((entry) => entry.content.tool)).toEqual(['remember', 'recall']);
    expect(textOf(await callTool(second.client, 'state_info', { handle }))).toMatchObject({
      owner: 'alice',
      instance: 'handles',
      state: 'active',
      messageCount: 2,
      contextKeys: 1,
    });
    expect([...first.sessionIdHeaders, ...second.sessionIdHeaders]).toEqual([]);
    await second.client.close();
  });

  it("gives a second user's token the clear tool error, and leaves the handle to its owner", async () => {
    const alice = await connectHandleClient(server.url, 'alice');
    const { handle } = await openState(alice.client);
    await callTool(alice.client, 'remember', { handle, key: 'secret', value: 's3cret' });

    const bob = await connectHandleClient(server.url, 'bob');
    const refusedBefore = await metric(server.base, 'mcp_state_handles_not_found_total');
    expectNotFound(await callTool(bob.client, 'recall', { handle, key: 'secret' }));
    expectNotFound(await callTool(bob.client, 'remember', { handle, key: 'secret', value: 'x' }));
    expectNotFound(await callTool(bob.client, 'close_state', { handle }));
    expect(await metric(server.base, 'mcp_state_handles_not_found_total')).toBe(refusedBefore + 3);

    expect(textOf(await callTool(alice.client, 'recall', { handle, key: 'secret' }))).toEqual({
      key: 'secret',
      value: 's3cret',
    });
    await Promise.all([alice.client.close(), bob.client.close()]);
  });

  it('expires a handle (server clock moved by the test control, no sleeping), and sweeps it', async () => {
    const alice = await connectHandleClient(server.url, 'alice');
    const { handle } = await openState(alice.client);
    await callTool(alice.client, 'remember', { handle, key: 'k', value: 'v' });
    // The server's clock is the wall clock plus the offset: leave a margin for the real time passing.
    await fetch(`${server.base}/_test/advance-clock?ms=${IDLE_TIMEOUT_MS - 5_000}`, {
      method: 'POST',
    });
    // Still alive shortly before the idle timeout; this use slides it again.
    expect(textOf(await callTool(alice.client, 'recall', { handle, key: 'k' }))).toMatchObject({
      value: 'v',
    });
    await fetch(`${server.base}/_test/advance-clock?ms=${IDLE_TIMEOUT_MS}`, { method: 'POST' });
    const { swept } = (await (
      await fetch(`${server.base}/_test/sweep`, { method: 'POST' })
    ).json()) as { swept: number };
    expect(swept).toBeGreaterThanOrEqual(1);
    expectNotFound(await callTool(alice.client, 'recall', { handle, key: 'k' }));
    // Closing is the other way out.
    const { handle: closing } = await openState(alice.client);
    expect(textOf(await callTool(alice.client, 'close_state', { handle: closing }))).toEqual({
      closed: true,
    });
    expectNotFound(await callTool(alice.client, 'recall', { handle: closing, key: 'k' }));
    await alice.client.close();
  });

  it('routes by protocol on /mcp and /mcp/ alike, and answers bodies it cannot classify itself', async () => {
    const slash = await connectHandleClient(`${server.url}/`, 'alice');
    const { handle } = await openState(slash.client);
    expect(textOf(await callTool(slash.client, 'recall', { handle, key: 'none' }))).toEqual({
      key: 'none',
      value: null,
    });
    await slash.client.close();

    const badJson = await fetch(server.url, {
      method: 'POST',
      headers: postHeaders(auth('alice')),
      body: '{"jsonrpc":',
    });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ error: { code: -32700 } });
    const tooLarge = await fetch(server.url, {
      method: 'POST',
      headers: postHeaders(auth('alice')),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'ping',
        params: { pad: 'x'.repeat(4 * 1024 * 1024) },
      }),
    });
    expect(tooLarge.status).toBe(413);
  });

  it('serves a 2025 session client and a 2026 handle client at once; neither id works as the other', async () => {
    const created = await metric(server.base, 'mcp_sessions_created_total');
    const legacy = new Client({ name: 'e2e-2025', version: '1.0.0' });
    const legacyTransport = new StreamableHTTPClientTransport(new URL(server.url), {
      requestInit: { headers: auth('alice') },
    });
    const [, modern] = await Promise.all([
      legacy.connect(legacyTransport),
      connectHandleClient(server.url, 'alice'),
    ]);
    const sessionId = legacyTransport.sessionId ?? '';
    expect(sessionId).not.toBe('');
    const { handle } = await openState(modern.client);

    await Promise.all([
      legacy.callTool({ name: 'remember', arguments: { key: 'era', value: '2025' } }),
      callTool(modern.client, 'remember', { handle, key: 'era', value: '2026' }),
    ]);
    const [fromSession, fromHandle] = await Promise.all([
      legacy.callTool({ name: 'recall', arguments: { key: 'era' } }),
      callTool(modern.client, 'recall', { handle, key: 'era' }),
    ]);
    expect(textOf(fromSession)).toEqual({ key: 'era', value: '2025' });
    expect(textOf(fromHandle)).toEqual({ key: 'era', value: '2026' });
    // One session and one handle, in the one store.
    expect(await metric(server.base, 'mcp_sessions_created_total')).toBe(created + 2);

    // A handle (or the id inside it) as Mcp-Session-Id: 404, like any unknown session.
    for (const presented of [handle, handle.slice(2)]) {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: postHeaders({ ...auth('alice'), 'mcp-session-id': presented }),
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(response.status, presented).toBe(404);
    }
    // A session id as a handle: the not-found tool error.
    for (const presented of [sessionId, `h_${sessionId}`]) {
      expectNotFound(await callTool(modern.client, 'recall', { handle: presented, key: 'era' }));
    }
    await Promise.all([legacy.close(), modern.client.close()]);
  });
});

describe('a server without authentication', () => {
  it('refuses to mint handles, with a tool error that says why', async () => {
    const server = await startServer({ SESSION_STORE_URL: 'memory:', INSTANCE_NAME: 'anonymous' });
    const anonymous = await connectHandleClient(server.url, null);
    const result = await callTool(anonymous.client, 'open_state', {});
    expect(result.isError).toBe(true);
    expect(result.content[0]?.text).toMatch(/needs an authenticated user/);
    expect(await metric(server.base, 'mcp_state_handles_unauthenticated_total')).toBe(1);
    await anonymous.client.close();
    await server.stop();
  });
});

const DURABLE_STORES = [
  { name: 'SQLite', open: sqliteStore },
  { name: 'Redis', open: redisStore },
];

describe.each(DURABLE_STORES)('restart on the $name store', ({ open }) => {
  it('a handle minted before a SIGKILL works after the restart', async () => {
    const store = await open();
    try {
      const env = { SESSION_STORE_URL: store.url, MCP_TOKENS: TOKENS_ENV };
      const first = await startServer({ ...env, INSTANCE_NAME: 'before-crash' });
      const client = await connectHandleClient(first.url, 'alice');
      const { handle } = await openState(client.client);
      await callTool(client.client, 'remember', { handle, key: 'city', value: 'Lyon' });

      expect(await first.stop('SIGKILL')).toBeNull();
      const second = await startServer({ ...env, INSTANCE_NAME: 'after-restart' }, first.port);

      // The same client object: the 2026 protocol has no session for the restart to break.
      expect(textOf(await callTool(client.client, 'recall', { handle, key: 'city' }))).toEqual({
        key: 'city',
        value: 'Lyon',
      });
      expect(textOf(await callTool(client.client, 'state_info', { handle }))).toMatchObject({
        owner: 'alice',
        instance: 'after-restart',
        messageCount: 2,
      });
      await client.client.close();
      await second.stop();
    } finally {
      await store.cleanup();
    }
  });
});

const SHARED_STORES = [
  { name: 'Redis', open: redisStore },
  { name: 'Postgres', open: postgresStore },
];

describe.each(SHARED_STORES)('two instances sharing $name', ({ open }) => {
  it('a handle works on both, alternately, behind a round-robin proxy', async () => {
    const store = await open();
    try {
      const env = { SESSION_STORE_URL: store.url, MCP_TOKENS: TOKENS_ENV };
      const [a, b] = await Promise.all([
        startServer({ ...env, INSTANCE_NAME: 'instance-a' }),
        startServer({ ...env, INSTANCE_NAME: 'instance-b' }),
      ]);
      if (!a || !b) throw new Error('servers did not start');
      const proxy = await startRoundRobinProxy([a.url, b.url]);
      try {
        const { client } = await connectHandleClient(proxy.url, 'alice');
        const { handle } = await openState(client);
        const instances = new Set<string>();
        for (let turn = 0; turn < 4; turn++) {
          await callTool(client, 'remember', { handle, key: `turn${turn}`, value: String(turn) });
          expect(textOf(await callTool(client, 'recall', { handle, key: `turn${turn}` }))).toEqual({
            key: `turn${turn}`,
            value: String(turn),
          });
          const info = textOf(await callTool(client, 'state_info', { handle })) as {
            instance: string;
          };
          instances.add(info.instance);
        }
        expect(instances).toEqual(new Set(['instance-a', 'instance-b']));
        expect(proxy.hits.every((count) => count > 3)).toBe(true);
        const history = textOf(await callTool(client, 'history', { handle, limit: 100 }));
        expect(history).toHaveLength(8);
        // Another user, through either instance, cannot use it.
        const bob = await connectHandleClient(proxy.url, 'bob');
        expectNotFound(await callTool(bob.client, 'recall', { handle, key: 'turn0' }));
        expectNotFound(await callTool(bob.client, 'recall', { handle, key: 'turn0' }));
        await Promise.all([client.close(), bob.client.close()]);
      } finally {
        await proxy.close();
        await Promise.all([a.stop(), b.stop()]);
      }
    } finally {
      await store.cleanup();
    }
  });
});
