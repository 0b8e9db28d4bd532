import { cpus, totalmem, type } from 'node:os';
import BetterSqlite3 from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { POSTGRES_URL, REDIS_URL } from './backends.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  sqlite: string;
  redis: string;
  postgres: string;
}

/** What the figures were measured on. */
export async function describeMachine(): Promise<Machine> {
  const redis = new Redis(REDIS_URL);
  const info = await redis.info('server');
  redis.disconnect();
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  const { rows } = await client.query('SHOW server_version');
  await client.end();
  const db = new BetterSqlite3(':memory:');
  const { version: sqlite } = db.prepare('SELECT sqlite_version() AS version').get() as {
    version: string;
  };
  db.close();
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${type()} ${process.arch}`,
    node: process.version,
    sqlite,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    postgres: String(rows[0]?.server_version ?? 'unknown'),
  };
}
