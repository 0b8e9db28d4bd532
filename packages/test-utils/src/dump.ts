import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { adminPool, POSTGRES_URL } from './postgres.js';
import { REDIS_URL } from './redis.js';
import type { StoreKind } from './stores.js';

/**
 * Out-of-band dumps of what a backend holds, for tests that prove a secret is not at rest: every file,
 * every key and value, every row — read past the store's own API.
 */

const run = promisify(execFile);

/** The strings no dump may hold, each also as base64 and base64url. */
export function needlesOf(strings: Record<string, string>): Record<string, string> {
  const needles: Record<string, string> = {};
  for (const [name, value] of Object.entries(strings)) {
    needles[name] = value;
    needles[`${name} (base64)`] = Buffer.from(value).toString('base64');
    needles[`${name} (base64url)`] = Buffer.from(value).toString('base64url');
  }
  return needles;
}

/** Every file under `dir`, read whole (write-ahead logs and temporary files included). */
export function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const path = join(entry.parentPath, entry.name);
      return { path, bytes: readFileSync(path) };
    });
}

/** Every key of the prefix and what it holds, read by type (DUMP would LZF-compress long values). */
export async function redisDump(url: string): Promise<Buffer> {
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
export async function postgresDump(url: string): Promise<Buffer> {
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

/**
 * All the backend at `url` holds, as one buffer to search: SQLite's and the file store's files byte for
 * byte (so also pages and files the store no longer uses), Redis keys and values, Postgres rows.
 */
export async function dumpStore(kind: StoreKind, url: string): Promise<Buffer> {
  const path = (prefix: string) => url.slice(prefix.length).replace(/\?.*$/, '');
  switch (kind) {
    case 'sqlite':
      return Buffer.concat(filesUnder(dirname(path('sqlite:'))).map((f) => f.bytes));
    case 'file':
      return Buffer.concat(filesUnder(path('file:')).map((f) => f.bytes));
    case 'redis':
      return redisDump(url);
    case 'postgres':
      return postgresDump(url);
    case 'memory':
      throw new Error('the memory store has no dump');
  }
}
