/**
 * Issue 15, "raw session ids at rest": a tool reply that contained the session id (`session_info`) put
 * the raw id into the SQLite, file, Redis and Postgres dumps, and an id copied from a dump worked; any
 * tool returning a secret leaked it the same way. Now the event store seals what it keeps.
 *
 * A scripted conversation with the reference server (a child process) whose tool replies and
 * notifications carry the session id, a state handle minted on the 2026 leg and a secret, all over SSE
 * (the events the store keeps); then everything the backend holds is dumped out of band — every file,
 * every key and value, every row — and must hold none of them, raw or base64-encoded.
 *
 * Not covered yet: context and history, which stay in clear until at-rest encryption lands. The script
 * keeps the three strings out of them (`notify` and `session_info` write neither), so a leak here is the
 * event store's.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { adminPool, POSTGRES_URL } from '@mcp-session/test-utils/postgres';
import { REDIS_URL } from '@mcp-session/test-utils/redis';
import { type StoreKind, testStore } from '@mcp-session/test-utils/stores';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  auth,
  callTool,
  connectHandleClient,
  openSse,
  postHeaders,
  rawCallTool,
  startServer,
  stopAllServers,
  TOKENS_ENV,
  textOf,
} from './helpers.js';

const run = promisify(execFile);

afterAll(stopAllServers);

const alice = auth('alice');

const dataOf = (event: { data: string }) =>
  (JSON.parse(event.data) as { params: { data: string } }).params.data;

/** The strings no dump may hold, each also as base64 and base64url. */
function needlesOf(strings: Record<string, string>): Record<string, string> {
  const needles: Record<string, string> = {};
  for (const [name, value] of Object.entries(strings)) {
    needles[name] = value;
    needles[`${name} (base64)`] = Buffer.from(value).toString('base64');
    needles[`${name} (base64url)`] = Buffer.from(value).toString('base64url');
  }
  return needles;
}

/** Initialize with a client name of our choosing: metadata stays in clear by design, so it is the canary. */
async function initialize(url: string, clientName: string): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: postHeaders(alice),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: clientName, version: '1.0.0' },
      },
    }),
  });
  await response.text();
  const sessionId = response.headers.get('mcp-session-id');
  expect(response.status).toBe(200);
  expect(sessionId).toMatch(/^[\x21-\x7e]+$/);
  const initialized = await fetch(url, {
    method: 'POST',
    headers: postHeaders({ ...alice, 'mcp-session-id': sessionId ?? '' }),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  expect(initialized.status).toBe(202);
  return sessionId ?? '';
}

/** Every file under `dir`, read whole (write-ahead logs and temporary files included). */
function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const path = join(entry.parentPath, entry.name);
      return { path, bytes: readFileSync(path) };
    });
}

/** Every key of the prefix and what it holds, read by type (DUMP would LZF-compress long values). */
async function redisDump(url: string): Promise<Buffer> {
  const prefix = new URL(url).searchParams.get('prefix') ?? '';
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const parts: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        const value =
          type === 'string'
            ? await redis.get(key)
            : type === 'hash'
              ? await redis.hgetall(key)
              : type === 'zset'
                ? await redis.zrange(key, '0', '-1', 'WITHSCORES')
                : type === 'set'
                  ? await redis.smembers(key)
                  : type === 'list'
                    ? await redis.lrange(key, 0, -1)
                    : type === 'stream'
                      ? await redis.xrange(key, '-', '+')
                      : undefined;
        // A type this dump cannot read must fail the test, not pass it.
        expect(value, `${key} (${type})`).toBeDefined();
        parts.push(key, JSON.stringify(value));
      }
    } while (cursor !== '0');
    expect(parts.length).toBeGreaterThan(0);
    return Buffer.from(parts.join('\n'));
  } finally {
    redis.disconnect();
  }
}

/** Every row of every table of the schema as text, and `pg_dump --data-only` of it when installed. */
async function postgresDump(url: string): Promise<Buffer> {
  const schema = new URL(url).searchParams.get('schema') ?? '';
  const pool = adminPool();
  const parts: string[] = [];
  try {
    const { rows: tables } = await pool.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1`,
      [schema],
    );
    expect(tables.length).toBeGreaterThan(0);
    const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
    for (const { name } of tables) {
      const { rows } = await pool.query<{ row: string }>(
        `SELECT t::text AS row FROM ${quote(schema)}.${quote(name)} t`,
      );
      parts.push(name, ...rows.map(({ row }) => row));
    }
  } finally {
    await pool.end();
  }
  const pgDump = await run('pg_dump', ['--data-only', `--schema=${schema}`, POSTGRES_URL], {
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (pgDump !== null) parts.push(pgDump.stdout);
  return Buffer.from(parts.join('\n'));
}

/** All the backend holds, as one buffer to search. */
async function dump(kind: StoreKind, url: string): Promise<Buffer> {
  switch (kind) {
    case 'sqlite':
      return Buffer.concat(filesUnder(dirname(url.slice('sqlite:'.length))).map((f) => f.bytes));
    case 'file':
      return Buffer.concat(filesUnder(url.slice('file:'.length)).map((f) => f.bytes));
    case 'redis':
      return redisDump(url);
    case 'postgres':
      return postgresDump(url);
    case 'memory':
      throw new Error('the memory store has no dump');
  }
}

describe.each(['sqlite', 'file', 'redis', 'postgres'] as const)(
  'a dump of the %s store after a conversation echoing secrets',
  (kind) => {
    it('holds no session id, handle or secret, raw or base64, whether taken live (WAL included) or after shutdown', async () => {
      const store = await testStore(kind);
      try {
        const server = await startServer({
          SESSION_STORE_URL: store.url,
          MCP_TOKENS: TOKENS_ENV,
        });
        const url = server.url;

        // The 2026 leg mints a handle: a live credential for alice's state.
        const { client } = await connectHandleClient(url, 'alice');
        const { handle } = textOf(await callTool(client, 'open_state', {})) as { handle: string };
        await client.close();
        expect(handle).toMatch(/^h_/);

        const canary = `canary-client-${randomBytes(12).toString('hex')}`;
        const sessionId = await initialize(url, canary);
        const secret = `sk-live-${randomBytes(24).toString('hex')}`;
        const session = { ...alice, 'mcp-session-id': sessionId };

        // On the GET stream, live: the events carry the handle and the secret.
        const live = await openSse(url, session);
        expect(live.status).toBe(200);
        const message = `handle ${handle} secret ${secret}`;
        await rawCallTool(url, sessionId, 'notify', { message, count: 2 }, alice);
        const seen = await live.next(2);
        expect(seen.map(dataOf)).toEqual([`${message} 1/2`, `${message} 2/2`]);
        live.close();
        // Missed by the client: kept for it in the store.
        await rawCallTool(url, sessionId, 'notify', { message: secret, count: 1 }, alice);

        // A POST answered with SSE whose reply is the session id; its event id says it was stored.
        const info = await rawCallTool(url, sessionId, 'session_info', {}, alice);
        expect(info.result).toMatchObject({ sessionId, owner: 'alice' });
        const replyEvent = info.events.find((event) => event.data.includes(sessionId));
        expect(replyEvent?.id?.split('.')).toHaveLength(3);

        // Resuming gets the missed events back whole: they are in the store, sealed.
        const resumed = await openSse(url, { ...session, 'last-event-id': seen[0]?.id ?? '' });
        expect((await resumed.next(2)).map(dataOf)).toEqual([`${message} 2/2`, `${secret} 1/1`]);
        resumed.close();

        const needles = needlesOf({
          sessionId,
          handle,
          "handle's session id": handle.slice('h_'.length),
          secret,
        });
        const found = (bytes: Buffer) =>
          Object.entries(needles)
            .filter(([, needle]) => bytes.includes(needle))
            .map(([name]) => name);

        const liveDump = await dump(kind, store.url);
        // The dump shows what is in clear: the client's name, in the session's metadata.
        expect(liveDump.includes(canary)).toBe(true);
        expect(found(liveDump)).toEqual([]);

        // A graceful stop checkpoints SQLite's WAL into the database file.
        expect(await server.stop('SIGTERM')).toBe(0);
        const finalDump = await dump(kind, store.url);
        expect(finalDump.includes(canary)).toBe(true);
        expect(found(finalDump)).toEqual([]);
      } finally {
        await store.cleanup();
      }
    }, 60_000);
  },
);
