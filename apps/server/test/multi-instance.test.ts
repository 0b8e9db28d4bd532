import { connectRecoveringClient } from '@mcp-session/mcp';
import { afterAll, describe, expect, it } from 'vitest';
import {
  auth,
  openSse,
  postgresStore,
  rawCallTool,
  rawInitialize,
  redisStore,
  startRoundRobinProxy,
  startServer,
  stopAllServers,
  type TestStore,
  TOKENS_ENV,
  textOf,
} from './helpers.js';

afterAll(stopAllServers);

const SHARED_STORES = [
  { name: 'Redis', open: redisStore },
  { name: 'Postgres', open: postgresStore },
];

describe.each(SHARED_STORES)('two instances sharing $name', ({ open }) => {
  it('serve one conversation alternating between them, and resume an SSE stream on the other instance', async () => {
    const store: TestStore = await open();
    try {
      const env = { SESSION_STORE_URL: store.url, MCP_TOKENS: TOKENS_ENV };
      const [a, b] = await Promise.all([
        startServer({ ...env, INSTANCE_NAME: 'instance-a' }),
        startServer({ ...env, INSTANCE_NAME: 'instance-b' }),
      ]);
      if (!a || !b) throw new Error('servers did not start');
      const proxy = await startRoundRobinProxy([a.url, b.url]);
      try {
        await conversationThroughProxy(proxy);
        await sseResumeOnOtherInstance(a.url, b.url);
      } finally {
        await proxy.close();
        await Promise.all([a.stop(), b.stop()]);
      }
    } finally {
      await store.cleanup();
    }
  });
});

async function conversationThroughProxy(proxy: { url: string; hits: number[] }) {
  const { client, transport } = await connectRecoveringClient(proxy.url, {
    clientInfo: { name: 'e2e-round-robin', version: '1.0.0' },
    transport: { requestInit: { headers: auth('alice') } },
  });
  const sessionId = transport.sessionId;
  const instances = new Set<string>();
  for (let turn = 0; turn < 6; turn++) {
    await client.callTool({
      name: 'remember',
      arguments: { key: `turn${turn}`, value: String(turn) },
    });
    const recalled = textOf(
      await client.callTool({ name: 'recall', arguments: { key: `turn${turn}` } }),
    );
    expect(recalled).toEqual({ key: `turn${turn}`, value: String(turn) });
    const info = textOf(await client.callTool({ name: 'session_info', arguments: {} })) as {
      instance: string;
      sessionId: string;
    };
    expect(info.sessionId).toBe(sessionId);
    instances.add(info.instance);
  }
  // Both instances served this one session, and it never had to be renewed.
  expect(instances).toEqual(new Set(['instance-a', 'instance-b']));
  expect(transport.sessionId).toBe(sessionId);
  expect(proxy.hits.every((count) => count > 3)).toBe(true);
  const history = textOf(
    await client.callTool({ name: 'history', arguments: { limit: 100 } }),
  ) as unknown[];
  expect(history).toHaveLength(12);
  await client.close();
}

const dataOf = (event: { data: string }) =>
  (JSON.parse(event.data) as { params: { data: string } }).params.data;

async function sseResumeOnOtherInstance(urlA: string, urlB: string) {
  const alice = auth('alice');
  const s1 = (await rawInitialize(urlA, alice)).sessionId;
  const s2 = (await rawInitialize(urlA, alice)).sessionId;

  const stream = await openSse(urlA, { ...alice, 'mcp-session-id': s1 });
  expect(stream.status).toBe(200);
  await rawCallTool(urlA, s1, 'notify', { message: 'seen', count: 2 }, alice);
  const seen = await stream.next(2);
  expect(seen.map(dataOf)).toEqual(['seen 1/2', 'seen 2/2']);
  stream.close(); // the client's connection drops

  // Events it misses, on instance A, and another session's events meanwhile.
  await rawCallTool(urlA, s1, 'notify', { message: 'missed', count: 3 }, alice);
  await rawCallTool(urlA, s2, 'notify', { message: 'other session', count: 2 }, alice);

  const resumed = await openSse(urlB, {
    ...alice,
    'mcp-session-id': s1,
    'last-event-id': seen[1]?.id ?? '',
  });
  expect(resumed.status).toBe(200);
  const replayed = await resumed.next(3);
  expect(replayed.map(dataOf)).toEqual(['missed 1/3', 'missed 2/3', 'missed 3/3']);
  // The resumed stream on B is live: B's next event for the session arrives on it, and nothing else did.
  await rawCallTool(urlB, s1, 'notify', { message: 'after', count: 1 }, alice);
  expect((await resumed.next(1)).map(dataOf)).toEqual(['after 1/1']);
  resumed.close();
}
