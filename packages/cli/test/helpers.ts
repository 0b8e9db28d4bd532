import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
import { type Cleanups, freshDirectory, freshSqliteFile } from '@mcp-session/test-utils';
import { freshPostgresSchema } from '@mcp-session/test-utils/postgres';
import { freshRedisStore } from '@mcp-session/test-utils/redis';
import { afterAll, beforeAll } from 'vitest';

/** The CLI entry point, run from source as the tests' child processes. */
export const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

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

/** A store URL nobody else uses, and the function that removes everything written there. */
export interface Target {
  url: string;
  drop(): Promise<void>;
}

/** A backend the command tests run against, and how to get a fresh, isolated store URL on it. */
export interface Backend {
  name: string;
  /** Run the whole command suite on it (the file store is covered by the import round trip only). */
  commands: boolean;
  fresh(): Target;
}

// SQLite's synchronous=normal and the file store's fsync=false keep the tests' thousands of writes quick.
export const BACKENDS: readonly Backend[] = [
  {
    name: 'sqlite',
    commands: true,
    fresh: () => {
      const database = freshSqliteFile('cli-sqlite');
      return { url: database.url({ synchronous: 'normal' }), drop: async () => database.remove() };
    },
  },
  {
    name: 'file',
    commands: false,
    fresh: () => {
      const directory = freshDirectory('cli-file');
      return {
        url: `file:${join(directory.path, 'sessions')}?fsync=false`,
        drop: async () => directory.remove(),
      };
    },
  },
  {
    name: 'postgres',
    commands: true,
    fresh: () => freshPostgresSchema({}, 'mcp_cli'),
  },
  {
    name: 'redis',
    commands: true,
    fresh: () => {
      const { url, remove } = freshRedisStore();
      return { url, drop: remove };
    },
  },
];

/**
 * For the tests of one `describe`: `setUp` runs in its `beforeAll`, registering the clean-ups of what it
 * makes as it goes (run in its `afterAll`, last first, even when `setUp` failed halfway). The tests call
 * the returned function for what `setUp` made, instead of sharing `let`s that a hook assigns.
 */
export function beforeAllValue<T>(setUp: (cleanups: Cleanups) => Promise<T>): () => T {
  const cleanups: (() => unknown)[] = [];
  let made: { value: T } | undefined;
  beforeAll(async () => {
    made = { value: await setUp({ push: (cleanup) => cleanups.push(cleanup) }) };
  });
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return () => {
    if (made === undefined) throw new Error('the beforeAll that sets this up did not finish');
    return made.value;
  };
}

/** `items[index]`, failing the test when there is none instead of letting `undefined` through. */
export function itemAt<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`no item at index ${index} of ${items.length}`);
  return item;
}

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
