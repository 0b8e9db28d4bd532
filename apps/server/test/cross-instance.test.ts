import { createRequire } from 'node:module';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import {
  auth,
  type ProxiedRequest,
  postgresStore,
  type RoundRobinProxy,
  redisStore,
  type ServerProcess,
  sqliteStore,
  startRoundRobinProxy,
  startServer,
  stopAllServers,
  type TestStore,
  TOKENS,
  TOKENS_ENV,
  textOf,
} from './helpers.js';

afterAll(stopAllServers);

/** The slice of better-sqlite3 this file uses (its types are not a dependency of this app). */
const Database = createRequire(import.meta.url)('better-sqlite3') as new (
  file: string,
  options: { readonly: boolean },
) => { prepare(source: string): { all(): unknown[] }; close(): void };

/**
 * Issue 16: everything the server asks of or sends to the client works when every request goes to the
 * next instance (a proxy alternating per request, no stickiness): the client's answers, cancellations and
 * the standalone stream's messages cross instances over the store's message bus.
 */
const SETUPS = [
  { name: 'Redis', open: redisStore, instances: 3 },
  { name: 'Postgres', open: postgresStore, instances: 3 },
  { name: 'SQLite (one file, several processes)', open: sqliteStore, instances: 3 },
  { name: 'SQLite (one file, several processes)', open: sqliteStore, instances: 2 },
];

/** What a client heard from the server, in order. */
interface Heard {
  logs: string[];
  toolListChanged: number;
  resourceUpdates: string[];
  samplingRequests: number;
}

async function connect(url: string, who: keyof typeof TOKENS, samplingGate?: Promise<void>) {
  const heard: Heard = { logs: [], toolListChanged: 0, resourceUpdates: [], samplingRequests: 0 };
  const client = new Client(
    { name: `cross-instance-${who}`, version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } } },
  );
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    heard.samplingRequests++;
    await samplingGate;
    const first = request.params.messages[0]?.content;
    const text = first && !Array.isArray(first) && first.type === 'text' ? first.text : '';
    return {
      role: 'assistant',
      model: `model-of-${who}`,
      content: { type: 'text', text: `${text.length} characters` },
    };
  });
  client.setRequestHandler(ElicitRequestSchema, async () => ({
    action: 'accept',
    content: { confirmed: true },
  }));
  client.setRequestHandler(ListRootsRequestSchema, async () => ({
    roots: [{ uri: `file:///home/${who}/project`, name: `${who}'s project` }],
  }));
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    heard.logs.push(String(notification.params.data));
  });
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    heard.toolListChanged++;
  });
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
    heard.resourceUpdates.push(notification.params.uri);
  });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: auth(who) },
    reconnectionOptions: {
      initialReconnectionDelay: 100,
      maxReconnectionDelay: 1_000,
      reconnectionDelayGrowFactor: 1.5,
      maxRetries: 10,
    },
  });
  await client.connect(transport);
  return { client, transport, heard };
}

/** Waits for `condition` (polling); fails naming `what` when it does not hold within 15 s. */
async function eventually(what: string, condition: () => boolean | Promise<boolean>) {
  const deadline = Date.now() + 15_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const bearer = (who: keyof typeof TOKENS) => `Bearer ${TOKENS[who]}`;

/** The open (answered 200) GET stream of `who`: the last one the proxy passed. */
function getStreamOf(proxy: RoundRobinProxy, who: keyof typeof TOKENS): ProxiedRequest | undefined {
  return proxy.requests.findLast(
    (request) =>
      request.method === 'GET' && request.authorization === bearer(who) && request.status === 200,
  );
}

/** The last POST of `who` whose body contains `marker`. */
function postWith(proxy: RoundRobinProxy, who: keyof typeof TOKENS, marker: string) {
  const found = proxy.requests.findLast(
    (request) =>
      request.method === 'POST' &&
      request.authorization === bearer(who) &&
      request.body.includes(marker),
  );
  if (!found) throw new Error(`no POST with ${marker}`);
  return found;
}

describe.each(SETUPS)(
  '$instances instances on $name behind a round-robin proxy',
  ({ open, instances }) => {
    it('route every server→client message, keep owners apart, and survive the GET stream’s instance dying', async () => {
      const store: TestStore = await open();
      const servers: ServerProcess[] = [];
      let proxy: RoundRobinProxy | undefined;
      try {
        const env = { SESSION_STORE_URL: store.url, MCP_TOKENS: TOKENS_ENV };
        servers.push(
          ...(await Promise.all(
            Array.from({ length: instances }, (_, i) =>
              startServer({ ...env, INSTANCE_NAME: `instance-${i}` }),
            ),
          )),
        );
        proxy = await startRoundRobinProxy(servers.map((server) => server.url));
        const alice = await connect(proxy.url, 'alice');
        const bob = await connect(proxy.url, 'bob');
        const { client } = alice;
        const p = proxy;
        await eventually(
          'both GET streams',
          () => !!getStreamOf(p, 'alice') && !!getStreamOf(p, 'bob'),
        );

        // Sampling: the client's answer is POSTed to another instance than the one running the tool.
        const summary = textOf(
          await client.callTool({ name: 'summarize', arguments: { text: 'a'.repeat(42) } }),
        );
        expect(summary).toEqual({
          summary: `${'Summarize:\n'.length + 42} characters`,
          model: 'model-of-alice',
        });
        const call = postWith(proxy, 'alice', '"summarize"');
        const answer = postWith(proxy, 'alice', 'model-of-alice');
        expect(answer.target).not.toBe(call.target);
        // Its 202 may reach the proxy after the tool's result did.
        await eventually('the answer’s 202', () => answer.status !== undefined);
        expect(answer.status).toBe(202);

        // Elicitation (form mode) and roots/list, the same way.
        expect(
          textOf(await client.callTool({ name: 'confirm', arguments: { question: 'Deploy?' } })),
        ).toEqual({ action: 'accept', content: { confirmed: true } });
        expect(textOf(await client.callTool({ name: 'list_roots', arguments: {} }))).toEqual({
          roots: [{ uri: 'file:///home/alice/project', name: "alice's project" }],
        });
        expect(postWith(proxy, 'alice', 'alice/project').target).not.toBe(
          postWith(proxy, 'alice', '"list_roots"').target,
        );

        // Progress arrives on the tool call's own stream, from the instance running it.
        const progress: number[] = [];
        await client.callTool(
          { name: 'count_slowly', arguments: { steps: 3, delayMs: 1 } },
          undefined,
          {
            onprogress: ({ progress: step }) => progress.push(step),
          },
        );
        expect(progress).toEqual([1, 2, 3]);

        // Cancellation: notifications/cancelled reaches another instance, which aborts the tool's signal.
        const controller = new AbortController();
        const cancelled = client.callTool(
          { name: 'count_slowly', arguments: { steps: 1000, delayMs: 20 } },
          undefined,
          {
            signal: controller.signal,
            onprogress: ({ progress: step }) => {
              if (step === 2) controller.abort('enough');
            },
          },
        );
        await expect(cancelled).rejects.toThrow();
        const outcome = async () =>
          (
            textOf(
              await client.callTool({ name: 'recall', arguments: { key: 'count_slowly' } }),
            ) as {
              value: { outcome: string } | null;
            }
          ).value;
        await eventually(
          'the tool to see its cancellation',
          async () => (await outcome())?.outcome === 'cancelled',
        );
        expect(postWith(proxy, 'alice', 'notifications/cancelled').target).not.toBe(
          postWith(proxy, 'alice', '"steps":1000').target,
        );

        // Standalone-stream messages sent from every instance reach the GET stream wherever it is. Each is
        // awaited before the next is sent: the bus orders messages per publisher only, so two instances'
        // messages may arrive in either order (see the glue's README).
        const heard = alice.heard;
        for (let i = 0; i < instances; i++) {
          await client.callTool({ name: 'notify', arguments: { message: `log ${i}`, count: 1 } });
          await eventually(`log ${i}`, () => heard.logs.length === i + 1);
          await client.callTool({ name: 'refresh_lists', arguments: {} });
          await eventually(`list_changed ${i}`, () => heard.toolListChanged === i + 1);
        }
        await client.subscribeResource({ uri: 'session://notes' });
        for (let i = 0; i < instances; i++) {
          await client.callTool({ name: 'add_note', arguments: { text: `note ${i}` } });
          await eventually(`resource update ${i}`, () => heard.resourceUpdates.length === i + 1);
        }
        const expectedLogs = Array.from({ length: instances }, (_, i) => `log ${i} 1/1`);
        expect(heard.logs).toEqual(expectedLogs);
        expect(heard.toolListChanged).toBe(instances);
        expect(heard.resourceUpdates).toEqual(
          Array.from({ length: instances }, () => 'session://notes'),
        );
        // The tools ran on every instance, so most of these crossed the bus.
        const instancesUsed = new Set(
          proxy.requests
            .filter((request) => request.authorization === bearer('alice'))
            .filter((request) => /"(notify|refresh_lists|add_note)"/.test(request.body))
            .map((request) => request.target),
        );
        expect(instancesUsed.size).toBe(instances);

        // Bob, on the same instances, heard none of it and was asked nothing.
        expect(bob.heard).toEqual({
          logs: [],
          toolListChanged: 0,
          resourceUpdates: [],
          samplingRequests: 0,
        });
        // A response posted into alice's session with bob's token is refused like any request of his.
        const forged = await fetch(proxy.url, {
          method: 'POST',
          headers: {
            ...auth('bob'),
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-session-id': alice.transport.sessionId ?? '',
            'mcp-protocol-version': '2025-11-25',
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 0, result: { content: [] } }),
        });
        expect(forged.status).toBe(404);
        // Bob's own session works as alice's does.
        await bob.client.callTool({ name: 'notify', arguments: { message: 'bob', count: 1 } });
        await eventually('bob’s own log', () => bob.heard.logs.length === 1);
        expect(bob.heard.logs).toEqual(['bob 1/1']);
        expect(alice.heard.logs).toEqual(expectedLogs);

        // The instance holding alice's GET stream dies: what is sent meanwhile arrives by resume elsewhere.
        const holder = getStreamOf(proxy, 'alice');
        if (!holder) throw new Error('no GET stream');
        proxy.drop(holder.target);
        await servers[holder.target]?.stop('SIGKILL');
        await client.callTool({ name: 'notify', arguments: { message: 'meanwhile', count: 2 } });
        await eventually(
          'the messages sent meanwhile',
          () => alice.heard.logs.length >= instances + 2,
        );
        await eventually(
          'a new GET stream',
          () => (getStreamOf(p, 'alice')?.target ?? holder.target) !== holder.target,
        );
        await client.callTool({ name: 'notify', arguments: { message: 'after', count: 1 } });
        await eventually('the message after', () => alice.heard.logs.length >= instances + 3);
        // Nothing delivered live before the kill came again with the resume.
        expect(alice.heard.logs).toEqual([
          ...expectedLogs,
          'meanwhile 1/2',
          'meanwhile 2/2',
          'after 1/1',
        ]);

        await alice.client.close();
        await bob.client.close();
        if (store.url.startsWith('sqlite:'))
          expectNothingInClear(store.url, instances, [
            alice.transport.sessionId,
            bob.transport.sessionId,
          ]);
      } finally {
        await proxy?.close();
        await Promise.all(servers.map((server) => server.stop()));
        await store.cleanup();
      }
    });
  },
);

describe('an instance dying with a pending server→client request', () => {
  it('leaves the client waiting no longer than its request timeout; the late answer is accepted and goes nowhere', async () => {
    const store: TestStore = await redisStore();
    const servers: ServerProcess[] = [];
    let proxy: RoundRobinProxy | undefined;
    try {
      const env = { SESSION_STORE_URL: store.url, MCP_TOKENS: TOKENS_ENV };
      servers.push(
        ...(await Promise.all(
          [0, 1].map((i) => startServer({ ...env, INSTANCE_NAME: `instance-${i}` })),
        )),
      );
      proxy = await startRoundRobinProxy(servers.map((server) => server.url));
      let answer = () => {};
      const gate = new Promise<void>((resolve) => {
        answer = resolve;
      });
      const alice = await connect(proxy.url, 'alice', gate);
      const pendingCall = alice.client.callTool(
        { name: 'summarize', arguments: { text: 'lost' } },
        undefined,
        { timeout: 3_000 },
      );
      const outcome = pendingCall.then(
        () => 'answered',
        (error: unknown) => (error as { code?: number }).code,
      );
      await eventually('the sampling request', () => alice.heard.samplingRequests === 1);
      const running = postWith(proxy, 'alice', '"summarize"');
      proxy.drop(running.target);
      await servers[running.target]?.stop('SIGKILL');
      answer();
      // The client's request timeout (SDK error -32001) ends the wait: the tool died with its instance.
      expect(await outcome).toBe(-32001);
      const p = proxy;
      await eventually('the answer to be accepted', () => {
        const posted = p.requests.find((request) => request.body.includes('model-of-alice'));
        return posted?.status === 202;
      });
      // The session itself lives on, on the surviving instance.
      const recalled = textOf(
        await alice.client.callTool({ name: 'recall', arguments: { key: 'nothing' } }),
      );
      expect(recalled).toEqual({ key: 'nothing', value: null });
      await alice.client.close();
    } finally {
      await proxy?.close();
      await Promise.all(servers.map((server) => server.stop()));
      await store.cleanup();
    }
  });
});

/**
 * Out of band: SQLite's message table (rows are kept a minute) holds no session id and nothing of the
 * messages in clear — neither in channels nor in payloads.
 */
function expectNothingInClear(url: string, instances: number, sessionIds: (string | undefined)[]) {
  const database = new Database(url.slice('sqlite:'.length), { readonly: true });
  try {
    const rows = database.prepare('SELECT channel, payload FROM messages').all() as {
      channel: string;
      payload: string;
    }[];
    expect(rows.length).toBeGreaterThan(instances);
    const secrets = [
      ...sessionIds.map((id) => {
        if (!id) throw new Error('no session id');
        return id;
      }),
      'model-of-alice',
      'alice/project',
      'log 0',
      'session://notes',
      'alice',
    ];
    for (const { channel, payload } of rows) {
      for (const secret of secrets) {
        expect(channel).not.toContain(secret);
        expect(payload).not.toContain(secret);
      }
    }
  } finally {
    database.close();
  }
}
