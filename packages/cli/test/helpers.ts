import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  hashSessionId,
  type LogEntry,
  type SessionRecord,
  type SessionState,
  type SessionStore,
} from '@mcp-session/core';
import { SqliteSessionStore } from '@mcp-session/sqlite';

/** The CLI entry point, run from source as the tests' child processes. */
export const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A directory removed by the returned function. */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `mcp-session-cli-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** What a finished run of the binary printed and returned. */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of `cli` and `startCli`. */
export interface CliOptions {
  /** Working directory; default a directory outside the package, as an operator's would be. */
  cwd?: string;
  /** Extra environment. `SESSION_STORE_URL` and `NODE_PATH` are never inherited from the test's. */
  env?: Record<string, string>;
  /** Written to stdin, which is then closed. */
  input?: string;
  /** Executable to run instead of the CLI's source (the missing-package test runs a copy). */
  bin?: string;
}

/** Starts the real `mcp-session` binary (its TypeScript source through tsx) as a child process. */
export function startCli(
  args: readonly string[],
  options: CliOptions = {},
): { child: ChildProcess; result: Promise<CliRun>; stderrSoFar: () => string } {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  if (!options.env?.SESSION_STORE_URL) delete env.SESSION_STORE_URL;
  // pnpm's NODE_PATH would let require() find every hoisted package; an operator's shell has none.
  delete env.NODE_PATH;
  const child = spawn(process.execPath, ['--import', TSX, options.bin ?? BIN, ...args], {
    cwd: options.cwd ?? tmpdir(),
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin?.end(options.input ?? '');
  const result = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, result, stderrSoFar: () => stderr };
}

/** Runs the binary to the end. */
export function cli(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  return startCli(args, options).result;
}

/** Runs the binary with --json and parses stdout; fails the test with stderr when it exits non-zero. */
export async function cliJson<T = unknown>(
  args: readonly string[],
  options: CliOptions = {},
): Promise<T> {
  const run = await cli([...args, '--json'], options);
  if (run.code !== 0) throw new Error(`exit ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

/** A SQLite store URL in `dir` (a file the test owns; `synchronous=normal` keeps 10,000 writes quick). */
export function sqliteUrl(dir: string, name: string): string {
  return `sqlite:${join(dir, name)}?synchronous=normal`;
}

/** A Postgres URL on a schema of its own, and the function that drops it. */
export async function postgresTarget(): Promise<{ url: string; drop: () => Promise<void> }> {
  const schema = `mcp_cli_${randomBytes(6).toString('hex')}`;
  const separator = POSTGRES_URL.includes('?') ? '&' : '?';
  return {
    url: `${POSTGRES_URL}${separator}schema=${schema}`,
    drop: async () => {
      const client = new (await pgDriver()).Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** The little of `pg` the clean-up needs (the CLI has no `@types/pg`: it never imports the driver). */
interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}

async function pgDriver(): Promise<{
  Client: new (config: { connectionString: string }) => PgClient;
}> {
  const name: string = 'pg';
  return (
    (await import(name)) as {
      default: { Client: new (config: { connectionString: string }) => PgClient };
    }
  ).default;
}

/** A Redis URL on a key prefix of its own, and the function that deletes its keys. */
export function redisTarget(): { url: string; drop: () => Promise<void> } {
  const prefix = `mcp-cli-${randomBytes(6).toString('hex')}`;
  const separator = REDIS_URL.includes('?') ? '&' : '?';
  return {
    url: `${REDIS_URL}${separator}prefix=${prefix}`,
    drop: async () => {
      const { Redis } = await import('ioredis');
      const redis = new Redis(REDIS_URL, { lazyConnect: true });
      await redis.connect();
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          if (keys.length > 0) await redis.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
  };
}

/** Opens a SQLite store directly, for seeding and out-of-band checks. */
export function openSqlite(url: string): SqliteSessionStore {
  const path = url.replace(/^sqlite:/, '').replace(/\?.*$/, '');
  return new SqliteSessionStore({ database: path, synchronous: 'normal' });
}

const STATES: readonly SessionState[] = ['active', 'active', 'idle', 'suspended', 'closed'];

/** One seeded session: what the store must hold, and the raw session id it was made from. */
export interface Seeded {
  sessionId: string;
  record: SessionRecord;
  history: LogEntry[];
}

/**
 * A varied session: every state, bound and unbound, never-expiring, expiring and (every 13th) already
 * expired; nested, unicode context; histories of 0–12 entries whose seqs start past 1 when "trimmed".
 */
export function makeSession(i: number, now: number): Seeded {
  const sessionId = `sess-${i}-${randomBytes(16).toString('base64url')}`;
  const length = i % 13;
  const firstSeq = i % 4 === 0 ? 1 : 1 + (i % 50);
  const history = Array.from({ length }, (_, k) => ({
    seq: firstSeq + k,
    at: now - 60_000 + k * 10,
    data: { role: k % 2 === 0 ? 'user' : 'assistant', content: `message ${k} of ${i} — ünïcödé ✓` },
  }));
  const record: SessionRecord = {
    id: hashSessionId(sessionId),
    state: STATES[i % STATES.length] as SessionState,
    context: {
      n: i,
      user: { name: `user ${i}`, tags: ['a', 'b', i % 2 === 0], score: i / 7 },
      zeta: null,
      alpha: 'first key written last',
    },
    metadata: {
      clientInfo: { name: 'test-client', version: '1.0.0' },
      protocolVersion: '2025-11-25',
    },
    owner: i % 3 === 0 ? null : `owner-${i % 17}`,
    createdAt: now - 3_600_000 - i,
    lastActivityAt: now - 60_000 + i,
    expiresAt: i % 13 === 0 ? now - 1000 - i : i % 5 === 0 ? null : now + 86_400_000 + i,
    version: 1 + length + (i % 3),
    messageCount: firstSeq - 1 + length,
  };
  return { sessionId, record, history };
}

/** Writes sessions through the store API, each with its history in one create, in parallel batches. */
export async function seed(store: SessionStore, sessions: readonly Seeded[]): Promise<void> {
  for (let i = 0; i < sessions.length; i += 200) {
    await Promise.all(
      sessions
        .slice(i, i + 200)
        .map(({ record, history }) =>
          store.create(record, history.length > 0 ? { now: 0, logs: { history } } : { now: 0 }),
        ),
    );
  }
}

/** Every live session of a store with its history, by storage id. */
export async function snapshot(
  store: SessionStore,
  now: number,
): Promise<Map<string, { record: SessionRecord; history: LogEntry[] }>> {
  const records: SessionRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.list({ now, limit: 1000, cursor });
    records.push(...page.records);
    cursor = page.nextCursor;
  } while (cursor !== null);
  const result = new Map<string, { record: SessionRecord; history: LogEntry[] }>();
  for (let i = 0; i < records.length; i += 50) {
    await Promise.all(
      records.slice(i, i + 50).map(async (record) => {
        const history = await store.read(record.id, 'history', { now });
        result.set(record.id, { record, history });
      }),
    );
  }
  return result;
}

/** What a store must hold after copying `seeded`: the live ones, by storage id. */
export function expectedLive(
  seeded: readonly Seeded[],
  now: number,
): Map<string, { record: SessionRecord; history: LogEntry[] }> {
  return new Map(
    seeded
      .filter(({ record }) => record.expiresAt === null || record.expiresAt > now)
      .map(({ record, history }) => [record.id, { record, history }]),
  );
}

/** A backend the command tests run against, and how to get a fresh, isolated store URL on it. */
export interface Backend {
  name: string;
  /** Run the whole command suite on it (the file store is covered by the import round trip only). */
  commands: boolean;
  fresh(dir: string): Promise<{ url: string; drop: () => Promise<void> }>;
}

export const BACKENDS: readonly Backend[] = [
  {
    name: 'sqlite',
    commands: true,
    fresh: async (dir) => ({
      url: sqliteUrl(dir, `${randomBytes(4).toString('hex')}.db`),
      drop: async () => undefined,
    }),
  },
  {
    name: 'file',
    commands: false,
    fresh: async (dir) => ({
      url: `file:${join(dir, `files-${randomBytes(4).toString('hex')}`)}?fsync=false`,
      drop: async () => undefined,
    }),
  },
  {
    name: 'postgres',
    commands: true,
    fresh: () => postgresTarget(),
  },
  {
    name: 'redis',
    commands: true,
    fresh: async () => redisTarget(),
  },
];

/**
 * Runs the CLI in this process through its programmatic entry point, `runCli`, with in-memory streams:
 * for the many small cases (usage errors, bad import lines) where what matters is the CLI's own logic,
 * not the binary around it.
 */
export async function runInProcess(
  args: readonly string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<CliRun> {
  const { PassThrough, Readable } = await import('node:stream');
  const { runCli } = await import('../src/index.js');
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  stderr.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const code = await runCli(args, {
    stdout,
    stderr,
    stdin: Readable.from(options.input === undefined ? [] : [options.input]),
    env: options.env ?? {},
  });
  return { code, signal: null, stdout: out, stderr: err };
}
