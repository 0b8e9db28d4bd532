import { rawInitialized, rawInitialize as sendInitialize } from '@mcp-session/test-utils/mcp';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  auth,
  openSse,
  postgresStore,
  rawCallTool,
  redisStore,
  sqliteStore,
  startServer,
  stopAllServers,
  type TestStore,
  type TOKENS,
  TOKENS_ENV,
} from './helpers.js';

/**
 * The limits of issue 14, tried against the reference server as a separate process, as a hostile client
 * would: one owner fills a quota or the pool, another owner must keep working, and nobody is told a live
 * session is gone.
 */
const stores: TestStore[] = [];
const streams: { close(): void }[] = [];

afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close();
  await stopAllServers();
  for (const store of stores.splice(0)) await store.cleanup();
});
afterAll(stopAllServers);

async function initialize(url: string, who: keyof typeof TOKENS) {
  const { response, sessionId, body } = await sendInitialize(url, auth(who));
  if (response.status === 200 && sessionId) await rawInitialized(url, sessionId, auth(who));
  return { status: response.status, sessionId: sessionId ?? '', headers: response.headers, body };
}

function jsonRpcError(body: string): { code: number; message: string } {
  const parsed = JSON.parse(body) as { jsonrpc: string; error: { code: number; message: string } };
  expect(parsed.jsonrpc).toBe('2.0');
  return parsed.error;
}

describe.each([
  { name: 'Redis', open: redisStore },
  { name: 'Postgres', open: postgresStore },
])('stored-session quota per owner on $name', ({ open }) => {
  it('an owner over its quota gets 429 while another owner works normally', async () => {
    const store = await open();
    stores.push(store);
    const server = await startServer({
      SESSION_STORE_URL: store.url,
      MCP_TOKENS: TOKENS_ENV,
      SESSION_MAX_PER_OWNER: '3',
    });
    const alice: string[] = [];
    for (let i = 0; i < 3; i++) {
      const session = await initialize(server.url, 'alice');
      expect(session.status).toBe(200);
      alice.push(session.sessionId);
    }
    const refused = await initialize(server.url, 'alice');
    expect(refused.status).toBe(429);
    expect(refused.sessionId).toBe('');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(jsonRpcError(refused.body).message).toMatch(/sessions/);

    // Bob is not affected, and Alice's existing sessions keep working.
    const bob = await initialize(server.url, 'bob');
    expect(bob.status).toBe(200);
    const remembered = await rawCallTool(
      server.url,
      bob.sessionId,
      'remember',
      { key: 'k', value: 'bob' },
      auth('bob'),
    );
    expect(remembered.status).toBe(200);
    const aliceCall = await rawCallTool(
      server.url,
      alice[0] as string,
      'recall',
      { key: 'k' },
      auth('alice'),
    );
    expect(aliceCall.status).toBe(200);

    // Closing a session frees its place.
    const deleted = await fetch(server.url, {
      method: 'DELETE',
      headers: { 'mcp-session-id': alice[1] as string, ...auth('alice') },
    });
    expect(deleted.status).toBe(200);
    expect((await initialize(server.url, 'alice')).status).toBe(200);
    expect((await initialize(server.url, 'alice')).status).toBe(429);
  });
});

describe('the live-session pool under one owner holding every place', () => {
  it('answers 503 with Retry-After, never 404, and serves the other owner once there is room', async () => {
    const store = await sqliteStore();
    stores.push(store);
    const server = await startServer({
      SESSION_STORE_URL: store.url,
      MCP_TOKENS: TOKENS_ENV,
      MCP_MAX_LIVE_SESSIONS: '3',
    });
    const bob = await initialize(server.url, 'bob');
    expect(bob.status).toBe(200);
    const stored = await rawCallTool(
      server.url,
      bob.sessionId,
      'remember',
      { key: 'k', value: 'kept' },
      auth('bob'),
    );
    expect(stored.status).toBe(200);

    // Alice fills the pool with sessions that each hold a GET stream: Bob's idle one is evicted for them.
    for (let i = 0; i < 3; i++) {
      const session = await initialize(server.url, 'alice');
      expect(session.status).toBe(200);
      const stream = await openSse(server.url, {
        'mcp-session-id': session.sessionId,
        ...auth('alice'),
      });
      expect(stream.status).toBe(200);
      streams.push(stream);
    }

    // Bob's existing session and his new initialize are refused for load, not declared gone.
    const busy = await rawCallTool(server.url, bob.sessionId, 'recall', { key: 'k' }, auth('bob'));
    expect(busy.status).toBe(503);
    expect(jsonRpcError(busy.result as string).message).toMatch(/busy/i);
    const fresh = await initialize(server.url, 'bob');
    expect(fresh.status).toBe(503);
    expect(Number(fresh.headers.get('retry-after'))).toBeGreaterThan(0);

    // Alice's streams end: the pool has room again, and Bob's session comes back with its context.
    for (const stream of streams.splice(0)) stream.close();
    let recalled = await rawCallTool(
      server.url,
      bob.sessionId,
      'recall',
      { key: 'k' },
      auth('bob'),
    );
    for (let attempt = 0; recalled.status === 503 && attempt < 50; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      recalled = await rawCallTool(server.url, bob.sessionId, 'recall', { key: 'k' }, auth('bob'));
    }
    expect(recalled).toMatchObject({ status: 200, result: { value: 'kept' } });
  });
});
