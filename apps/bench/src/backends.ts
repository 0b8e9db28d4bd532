import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionStore } from '@mcp-session/core';
import type { SqliteSessionStore } from '@mcp-session/sqlite';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type ScalingBackend, seedRecord } from './sections/scaling.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const BACKENDS = ['memory', 'file', 'sqlite', 'redis', 'postgres'] as const;
export type Backend = (typeof BACKENDS)[number];

const scratch = mkdtempSync(join(tmpdir(), 'mcp-session-bench-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

/** A short random name for prefixes, schemas and files. */
export function randomName(): string {
  return randomBytes(5).toString('hex');
}

export function scratchPath(name: string): string {
  return join(scratch, name);
}

function withQuery(url: string, key: string, value: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${key}=${value}`;
}

/** Removes every key under a Redis prefix. */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5_000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
}

export async function dropPostgresSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
}

/** Where our store lives for each backend, and how to clean up after it. */
export const locations: Record<Backend, ScalingBackend> = {
  memory: {
    backend: 'memory',
    url: () => 'memory:?sweepIntervalMs=0',
    async seed(_url, store, ids, now) {
      for (const id of ids) await store.create(seedRecord(id, now), { now });
    },
  },
  file: {
    backend: 'file',
    url: () => `file:${scratchPath(`file-${randomName()}`)}`,
    async destroy(url) {
      rmSync(url.slice('file:'.length), { recursive: true, force: true });
    },
  },
  sqlite: {
    backend: 'sqlite',
    url: () => `sqlite:${scratchPath(`sqlite-${randomName()}.db`)}`,
    async seed(_url, store, ids, now) {
      // One transaction of plain INSERTs into the store's own table: minutes faster than a million creates.
      const { db } = store as SessionStore as SqliteSessionStore;
      const insert = db.prepare(
        `INSERT INTO sessions (id, state, metadata, owner, created_at, last_activity_at, expires_at, version, message_count)
         VALUES (?, 'active', '{}', NULL, ?, ?, NULL, 1, 0)`,
      );
      db.transaction(() => {
        for (const id of ids) insert.run(id, now, now);
      })();
      // Fold the bulk insert into the database file now, so no measured write pays for its checkpoint.
      db.pragma('wal_checkpoint(TRUNCATE)');
    },
    async destroy(url) {
      const path = url.slice('sqlite:'.length);
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
    },
  },
  redis: {
    backend: 'redis',
    url: () => withQuery(REDIS_URL, 'prefix', `bench-${randomName()}`),
    async seed(_url, store, ids, now) {
      // Through the API, 256 creates in flight: Redis has no bulk path that keeps the store's indexes right.
      let next = 0;
      await Promise.all(
        Array.from({ length: 256 }, async () => {
          while (next < ids.length) {
            const id = ids[next++] as string;
            await store.create(seedRecord(id, now), { now });
          }
        }),
      );
    },
    async destroy(url) {
      await dropRedisPrefix(new URL(url).searchParams.get('prefix') as string);
    },
  },
  postgres: {
    backend: 'postgres',
    url: () => withQuery(POSTGRES_URL, 'schema', `bench_${randomName()}`),
    async seed(url, _store, ids, now) {
      // Batched INSERT … SELECT unnest(…) into the store's own table.
      const schema = new URL(url).searchParams.get('schema') as string;
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      for (let i = 0; i < ids.length; i += 50_000) {
        await client.query(
          `INSERT INTO ${schema}.mcp_sessions
             (id, state, context, metadata, owner, created_at, last_activity_at, expires_at, version, message_count)
           SELECT id, 'active', '{}', '{}', NULL, $2, $2, NULL, 1, 0 FROM unnest($1::text[]) AS id`,
          [ids.slice(i, i + 50_000), now],
        );
      }
      await client.end();
    },
    async destroy(url) {
      await dropPostgresSchema(new URL(url).searchParams.get('schema') as string);
    },
  },
};
