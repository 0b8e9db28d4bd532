import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeRecord } from '@mcp-session/test-suite';
import { freshDirectory } from '@mcp-session/test-utils';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteSessionStore } from '../src/index.js';

const { path: directory, remove } = freshDirectory('sqlite-processes');
afterAll(remove);

const worker = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function startWorker(args: string[]): {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['--import', tsx, worker, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buffered = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (code !== 0 && code !== null) console.error(stderr);
      resolve(code);
    }),
  );
  return { child, lines, exited };
}

/** Resolves once the worker printed a line (or exited). */
async function firstLine(run: ReturnType<typeof startWorker>): Promise<void> {
  let exited = false;
  void run.exited.then(() => {
    exited = true;
  });
  while (run.lines.length === 0 && !exited) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('several processes on one file', () => {
  it('ten processes opening a new file at once all succeed: the schema is created exactly once', async () => {
    const path = join(directory, 'race.db');
    const workers = Array.from({ length: 10 }, () => startWorker(['open', path]));
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual(Array(10).fill(0));
    const db = new BetterSqlite3(path);
    expect(db.prepare('SELECT COUNT(*) AS n FROM sessions').get()).toEqual({ n: 10 });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  }, 120_000);

  it('SIGKILL at random points never corrupts the file or loses an acknowledged append', async () => {
    const path = join(directory, 'crash.db');
    const store = new SqliteSessionStore({ database: path });
    const id = 'a'.repeat(64);
    const now = Date.now();
    await store.create(makeRecord(now, { id, expiresAt: null }), { now });
    await store.close();
    const acknowledged: number[] = [];
    for (let round = 0; round < 20; round++) {
      const run = startWorker(['append', path, id, String(round)]);
      // Even rounds kill at a random moment from the spawn, start-up included; odd rounds once the worker
      // has acknowledged its first append, so some appends are acknowledged however slowly a loaded
      // machine starts the worker (CI once saw 20 kills before any worker had opened the file).
      if (round % 2 === 1) await firstLine(run);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 700));
      run.child.kill('SIGKILL');
      await run.exited;
      acknowledged.push(...run.lines.filter((line) => /^\d+$/.test(line)).map(Number));

      const raw = new BetterSqlite3(path);
      expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
      raw.close();
      const reopened = new SqliteSessionStore({ database: path });
      const entries = await reopened.read(id, 'history', { now });
      const seqs = new Set(entries.map((e) => e.seq));
      for (const seq of acknowledged)
        expect(seqs.has(seq), `acknowledged seq ${seq} survived`).toBe(true);
      const record = await reopened.get(id, { now });
      expect(record?.messageCount).toBe(entries.length);
      expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));
      await reopened.close();
    }
    expect(acknowledged.length).toBeGreaterThan(0);
  }, 240_000);
});
