import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freshDirectory } from '@mcp-session/test-utils';
import { describe, expect, it } from 'vitest';
import { FileSessionStore } from '../src/index.js';
import { openCollecting, spawnWorker } from './helpers.js';

const ROUNDS = 24;
const CAP = 20;

interface Acks {
  history: number[];
  events: number[];
  counter: number;
  writes: number;
}

/** What the kills hit, reported at the end so a run shows it covered more than one moment. */
interface Observed {
  tornTails: number;
  tempFilesLeft: number;
  orphanGenerations: number;
  staleLocks: number;
}

interface RecordOnDisk {
  session: { id: string; messageCount: number; version: number };
  incarnation: string;
  logs: Record<string, { generation: number; baseSeq: number; nextSeq: number; bytes: number }>;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Every file under `root`, as paths relative to it. */
async function walk(root: string, dir = root): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(root, path)));
    else files.push(relative(root, path));
  }
  return files;
}

/** Parses a whole JSON Lines file; a torn or garbage line throws. */
function parseLines(text: string, path: string): { seq: number }[] {
  expect(text.endsWith('\n') || text === '', `${path} ends inside a line`).toBe(true);
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line) as { seq: number });
}

/** Runs the writer until its first acknowledged write, lets it go on a random while, then SIGKILLs it. */
async function killWhileWriting(
  directory: string,
  id: string,
  now: number,
  acks: Acks,
): Promise<void> {
  const child = spawnWorker(directory, 'crash-loop', {
    id,
    now,
    cap: CAP,
    counterFrom: acks.counter,
  });
  let pending = '';
  let stderr = '';
  let acknowledged = 0;
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const [kind, a, b] = line.split(' ');
      acknowledged++;
      acks.writes++;
      if (kind === 'A') for (let seq = Number(a); seq <= Number(b); seq++) acks.history.push(seq);
      else if (kind === 'E') acks.events.push(Number(a));
      else if (kind === 'U') acks.counter = Math.max(acks.counter, Number(a));
      else throw new Error(`unexpected worker output ${line}`);
    }
  });
  let running = true;
  void exited.then(() => {
    running = false;
  });
  while (acknowledged === 0 && running) await sleep(5);
  expect(running, `the writer died by itself: ${stderr}`).toBe(true);
  await sleep(Math.random() * 400);
  child.kill('SIGKILL');
  await exited;
  // Only whole lines count: a line is printed after its write resolved.
  expect(stderr.split('\n').filter((line) => line.includes('QUARANTINED'))).toEqual([]);
}

/** Looks at the files exactly as the killed writer left them, before any store touches them. */
async function inspectAsLeft(
  directory: string,
  id: string,
  observed: Observed,
): Promise<RecordOnDisk> {
  const hash = sha256(id);
  const shard = join(directory, 'sessions', hash.slice(0, 2));
  const record = JSON.parse(await readFile(join(shard, `${hash}.json`), 'utf8')) as RecordOnDisk;
  expect(record.session.id).toBe(id);
  const referenced = new Set<string>();
  for (const [log, meta] of Object.entries(record.logs)) {
    const name = `${log}.${record.incarnation}-${meta.generation}.jsonl`;
    referenced.add(name);
    const content = await readFile(join(shard, hash, name));
    expect(content.length).toBeGreaterThanOrEqual(meta.bytes);
    // The committed region is whole lines with consecutive seqs; anything after it was never committed.
    const lines = parseLines(content.subarray(0, meta.bytes).toString('utf8'), name);
    expect(lines.map((line) => line.seq)).toEqual(
      Array.from({ length: meta.nextSeq - meta.baseSeq }, (_, i) => meta.baseSeq + i),
    );
    if (content.length > meta.bytes) observed.tornTails++;
  }
  const logFiles = await readdir(join(shard, hash)).catch(() => [] as string[]);
  observed.orphanGenerations += logFiles.filter((name) => !referenced.has(name)).length;
  observed.tempFilesLeft += (await readdir(join(directory, 'tmp'))).length;
  observed.staleLocks += (await readdir(shard)).filter((name) => name.endsWith('.lock')).length;
  return record;
}

/** Opens the store, reads (which repairs), and checks every file and every acknowledged write. */
async function checkAfterCrash(
  directory: string,
  id: string,
  now: number,
  acks: Acks,
): Promise<void> {
  const { store, warnings } = await openCollecting(directory);
  try {
    const session = await store.get(id, { now });
    const history = await store.read(id, 'history', { now });
    const events = await store.read(id, 'events', { now });
    expect(warnings.filter((w) => !['LOG_REPAIRED', 'STALE_LOCK_BROKEN'].includes(w.code))).toEqual(
      [],
    );

    // Every file now parses completely: records and locks are JSON, logs are JSON Lines with no torn
    // line, and the killed writer's temp files are gone.
    for (const path of await walk(directory)) {
      expect(path.startsWith('tmp'), `temp file ${path} left behind`).toBe(false);
      const text = await readFile(join(directory, path), 'utf8');
      if (path.endsWith('.jsonl')) parseLines(text, path);
      else if (!path.startsWith('owners')) JSON.parse(text);
    }

    expect(session).not.toBeNull();
    const lastSeq = history.at(-1)?.seq ?? 0;
    // Every history entry was appended with countMessages, so the count is the last seq ever assigned.
    expect(session?.messageCount).toBe(lastSeq);
    expect(session?.version).toBeGreaterThanOrEqual(1 + acks.writes);
    expect(history.map((entry) => entry.seq)).toEqual(
      Array.from(
        { length: Math.min(CAP, lastSeq) },
        (_, i) => lastSeq - Math.min(CAP, lastSeq) + 1 + i,
      ),
    );
    const kept = new Set(history.map((entry) => entry.seq));
    for (const seq of acks.history) {
      expect(seq).toBeLessThanOrEqual(lastSeq);
      if (seq > lastSeq - CAP) expect(kept.has(seq), `acknowledged seq ${seq} lost`).toBe(true);
    }
    const eventSeqs = events.map((entry) => entry.seq);
    expect(eventSeqs).toEqual(Array.from({ length: eventSeqs.length }, (_, i) => i + 1));
    for (const seq of acks.events) expect(seq).toBeLessThanOrEqual(eventSeqs.length);
    expect(Number(session?.context.counter ?? 0)).toBeGreaterThanOrEqual(acks.counter);
    acks.counter = Number(session?.context.counter ?? 0);
  } finally {
    await store.close();
  }
}

describe('crash safety: a writer killed with SIGKILL at random moments', () => {
  it(`leaves every file parseable and loses nothing acknowledged (${ROUNDS} kills)`, {
    timeout: 300_000,
  }, async () => {
    const { path: directory, remove } = freshDirectory('file-crash');
    try {
      const now = Date.now();
      const id = `crash-${randomUUID()}`;
      const setup = await FileSessionStore.open(directory);
      await setup.create(
        {
          id,
          state: 'active',
          context: {},
          metadata: {},
          owner: 'crash-test',
          createdAt: now,
          lastActivityAt: now,
          expiresAt: null,
          version: 1,
          messageCount: 0,
        },
        { now },
      );
      await setup.close();
      const acks: Acks = { history: [], events: [], counter: 0, writes: 0 };
      const observed: Observed = {
        tornTails: 0,
        tempFilesLeft: 0,
        orphanGenerations: 0,
        staleLocks: 0,
      };
      for (let round = 0; round < ROUNDS; round++) {
        await killWhileWriting(directory, id, now, acks);
        await inspectAsLeft(directory, id, observed);
        await checkAfterCrash(directory, id, now, acks);
      }
      console.info(
        `crash test: ${acks.writes} acknowledged writes over ${ROUNDS} kills; the kills left ` +
          `${observed.tornTails} uncommitted log tails, ${observed.tempFilesLeft} temp files ` +
          `(killed mid atomic write), ${observed.orphanGenerations} unreferenced log generations ` +
          `(killed inside a compaction), ${observed.staleLocks} locks of the dead writer`,
      );

      // A clean run afterwards (70 appends reach the compaction threshold) compacts again, which removes any leftover generation, and leaves no
      // lock behind.
      const { store, warnings } = await openCollecting(directory);
      for (let i = 0; i < 70; i++) {
        await store.append(id, 'history', [{ after: i }], { now, cap: CAP, countMessages: true });
      }
      await store.close();
      expect(warnings.filter((w) => w.code === 'QUARANTINED')).toEqual([]);
      const record = await inspectAsLeft(directory, id, {
        tornTails: 0,
        tempFilesLeft: 0,
        orphanGenerations: 0,
        staleLocks: 0,
      });
      const hash = sha256(id);
      const files = await walk(directory);
      expect(files.filter((path) => /\.lock|\.break-/.test(path))).toEqual([]);
      expect(files.filter((path) => path.includes(`${hash}/history.`))).toEqual([
        join(
          'sessions',
          hash.slice(0, 2),
          hash,
          `history.${record.incarnation}-${record.logs.history?.generation}.jsonl`,
        ),
      ]);
    } finally {
      remove();
    }
  });
});
