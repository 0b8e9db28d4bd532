import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freshDirectory } from '@mcp-session/test-utils';
import { describe, expect, it } from 'vitest';
import { FileSessionStore } from '../src/index.js';
import { openCollecting, spawnWorker } from './helpers.js';

const ROUNDS = 12;
/** Entries of the history every generation rewrites, each about 2 KB. */
const COUNT = 150;

/**
 * Runs the replacing worker until its first acknowledged generation, lets it go on a random while, then
 * SIGKILLs it. Returns the last generation it acknowledged.
 */
async function killWhileReplacing(
  directory: string,
  id: string,
  now: number,
  genFrom: number,
): Promise<number> {
  const child = spawnWorker(directory, 'replace-loop', { id, now, count: COUNT, genFrom });
  let pending = '';
  let stderr = '';
  let acknowledged = genFrom - 1;
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const [kind, gen] = line.split(' ');
      if (kind !== 'R') throw new Error(`unexpected worker output ${line}`);
      acknowledged = Number(gen);
    }
  });
  let running = true;
  void exited.then(() => {
    running = false;
  });
  while (acknowledged < genFrom && running) await sleep(5);
  expect(running, `the worker died by itself: ${stderr}`).toBe(true);
  await sleep(Math.random() * 300);
  child.kill('SIGKILL');
  await exited;
  // A lock the previous worker died holding is broken (STALE_LOCK_BROKEN); nothing may be quarantined.
  expect(stderr.split('\n').filter((line) => line.includes('QUARANTINED'))).toEqual([]);
  return acknowledged;
}

describe('crash safety of replaceEntries: a worker killed with SIGKILL while rewriting the history', () => {
  it(`leaves the old values or the new ones, never a mix or a torn file (${ROUNDS} kills)`, {
    timeout: 300_000,
  }, async () => {
    const { path: directory, remove } = freshDirectory('file-replace-crash');
    try {
      const now = Date.now();
      const id = `replace-crash-${randomUUID()}`;
      const setup = await FileSessionStore.open(directory);
      await setup.create(
        {
          id,
          state: 'active',
          context: {},
          metadata: {},
          owner: null,
          createdAt: now,
          lastActivityAt: now,
          expiresAt: null,
          version: 1,
          messageCount: 0,
        },
        { now },
      );
      await setup.append(
        id,
        'history',
        Array.from({ length: COUNT }, (_, i) => ({ gen: 0, seq: i + 1 })),
        { now, countMessages: true },
      );
      await setup.close();
      let gen = 0;
      let committedInFlight = 0;
      let killedMidWrite = 0;
      let leftTwoGenerations = 0;
      const hash = createHash('sha256').update(id).digest('hex');
      const logDir = join(directory, 'sessions', hash.slice(0, 2), hash);
      for (let round = 0; round < ROUNDS; round++) {
        const acknowledged = await killWhileReplacing(directory, id, now, gen + 1);
        // What the kill hit, before any store touches the files.
        if ((await readdir(join(directory, 'tmp'))).length > 0) killedMidWrite++;
        if ((await readdir(logDir)).length > 1) leftTwoGenerations++;
        const { store, warnings } = await openCollecting(directory);
        try {
          const history = await store.read(id, 'history', { now });
          const record = await store.get(id, { now });
          expect(warnings.filter((w) => w.code === 'QUARANTINED')).toEqual([]);
          expect(history.map((entry) => entry.seq)).toEqual(
            Array.from({ length: COUNT }, (_, i) => i + 1),
          );
          expect(history.every((entry) => entry.at === now)).toBe(true);
          // One generation throughout: the batch committed whole or not at all.
          const gens = new Set(history.map((entry) => (entry.data as { gen: number }).gen));
          expect(gens.size, `generations mixed in one log: ${[...gens].join(', ')}`).toBe(1);
          const [found = -1] = gens;
          // The acknowledged one, or the next if the kill came after its commit but before the print.
          expect([acknowledged, acknowledged + 1]).toContain(found);
          if (found > acknowledged) committedInFlight++;
          // Each committed generation bumped the version exactly once, after create and the append.
          expect(record).toMatchObject({ version: 2 + found, messageCount: COUNT });
          gen = found;
        } finally {
          await store.close();
        }
        // Every log file left parses as whole lines; the store's open removed the dead worker's temp files.
        const tmp = await readdir(join(directory, 'tmp'));
        expect(tmp).toEqual([]);
        for (const name of await readdir(logDir)) {
          const text = await readFile(join(logDir, name), 'utf8');
          expect(text.endsWith('\n'), `${name} ends inside a line`).toBe(true);
          for (const line of text.split('\n').slice(0, -1)) JSON.parse(line);
        }
      }
      console.info(
        `replaceEntries crash test: ${gen} generations committed over ${ROUNDS} kills, ` +
          `${committedInFlight} of the kills after a commit but before its acknowledgement, ` +
          `${killedMidWrite} in the middle of writing a file, ${leftTwoGenerations} with two ` +
          'generations of the log on disk',
      );
    } finally {
      remove();
    }
  });
});
