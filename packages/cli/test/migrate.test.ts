import { join } from 'node:path';
import { freshDirectory } from '@mcp-session/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrateSummary } from '../src/index.js';
import { openStore } from '../src/stores.js';
import {
  BACKENDS,
  cli,
  expectedLive,
  makeSession,
  openSqlite,
  type Seeded,
  seed,
  snapshot,
  sqliteUrl,
  startCli,
} from './helpers.js';

const SESSIONS = 10_000;
/** The interrupted migration needs only enough sessions to be killed a second or more into it. */
const INTERRUPTED_SESSIONS = 3_000;

const dir = freshDirectory('cli-migrate');
afterAll(() => dir.remove());

const sourceUrl = sqliteUrl(dir.path, 'source.db');
const smallSourceUrl = sqliteUrl(dir.path, 'interrupted-source.db');
const now = Date.now();
const seeded = Array.from({ length: SESSIONS }, (_, i) => makeSession(i, now));
const live = () => expectedLive(seeded, now);
const smallLive = () => expectedLive(seeded.slice(0, INTERRUPTED_SESSIONS), now);

beforeAll(async () => {
  for (const [url, sessions] of [
    [sourceUrl, seeded],
    [smallSourceUrl, seeded.slice(0, INTERRUPTED_SESSIONS)],
  ] as const) {
    const source = openSqlite(url);
    await seed(source, sessions);
    await source.close();
  }
}, 120_000);

async function migrate(
  from: string,
  to: string,
): Promise<{ code: number | null; summary: MigrateSummary; stderr: string }> {
  const run = await cli(['migrate', '--from', from, '--to', to, '--json', '--concurrency', '16']);
  return { code: run.code, summary: JSON.parse(run.stdout) as MigrateSummary, stderr: run.stderr };
}

/** Every live session of the store at `url`, with its history. */
async function contents(url: string) {
  const store = await openStore(url);
  try {
    return await snapshot(store, Date.now());
  } finally {
    await store.close();
  }
}

/**
 * Sends `signal` to a running migration as soon as the target holds `atLeast` sessions, watching the
 * target out of band (a progress line may never come when the copy takes less than a second). Resolves to
 * how many sessions the target held just before the signal; fails if the migration ended first.
 */
async function signalOnceCopied(
  run: ReturnType<typeof startCli>,
  targetUrl: string,
  signal: NodeJS.Signals,
  atLeast = 50,
): Promise<number> {
  let ended = false;
  void run.result.then(() => {
    ended = true;
  });
  const target = await openStore(targetUrl);
  try {
    for (;;) {
      const { records } = await target.list({ now: Date.now(), limit: atLeast });
      if (ended)
        throw new Error(`the migration ended before it could be stopped:\n${run.stderrSoFar()}`);
      if (records.length >= atLeast) {
        run.child.kill(signal);
        return records.length;
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  } finally {
    await target.close();
  }
}

const postgres = BACKENDS.find((b) => b.name === 'postgres');
const redis = BACKENDS.find((b) => b.name === 'redis');

// The issue asks for 10,000 sessions through Postgres; Redis gets the same checks on 3,000 to keep the
// package's tests within a few minutes on two shared cores.
describe.each(
  [
    { backend: postgres, sessions: SESSIONS },
    { backend: redis, sessions: INTERRUPTED_SESSIONS },
  ].filter(
    (c): c is { backend: NonNullable<typeof postgres>; sessions: number } =>
      c.backend !== undefined,
  ),
)('migrate $backend.name', ({ backend, sessions }) => {
  it(`moves ${sessions.toLocaleString('en-US')} sessions from SQLite to ${backend.name} and back with nothing lost`, async () => {
    const middle = backend.fresh();
    try {
      const from = sessions === SESSIONS ? sourceUrl : smallSourceUrl;
      const expected = sessions === SESSIONS ? live() : smallLive();
      const there = await migrate(from, middle.url);
      expect(there.code, there.stderr).toBe(0);
      expect(there.summary).toMatchObject({
        copy: {
          copied: expected.size,
          alreadyPresent: 0,
          expired: 0,
          vanished: 0,
          conflicts: [],
        },
        verify: { checked: expected.size, problems: [] },
        sourceSessions: expected.size,
        targetSessions: expected.size,
        ok: true,
      });
      // Sessions that had expired were left behind: the source had ~1 in 13 of them.
      expect(expected.size).toBeLessThan(sessions);

      const backUrl = sqliteUrl(dir.path, `back-from-${backend.name}.db`);
      const back = await migrate(middle.url, backUrl);
      expect(back.code, back.stderr).toBe(0);
      expect(back.summary).toMatchObject({
        copy: { copied: expected.size },
        verify: { problems: [] },
        ok: true,
      });

      // Out of band, record by record and history by history, against what the test wrote. The copy
      // back can only equal it if the copy there was exact too.
      expect(await contents(backUrl)).toEqual(expected);
    } finally {
      await middle.drop();
    }
  }, 300_000);

  it('a migration killed midway resumes to the same result', async () => {
    const target = backend.fresh();
    try {
      const expected = smallLive();
      const first = startCli([
        'migrate',
        '--from',
        smallSourceUrl,
        '--to',
        target.url,
        '--concurrency',
        '4',
      ]);
      const copiedAtKill = await signalOnceCopied(first, target.url, 'SIGKILL');
      const killed = await first.result;
      expect(killed.signal).toBe('SIGKILL');

      // Each session is created with its history in one atomic step: whatever is there is complete.
      const partial = await contents(target.url);
      expect(partial.size).toBeGreaterThanOrEqual(copiedAtKill);
      expect(partial.size).toBeLessThan(expected.size);
      for (const [id, session] of partial) expect(session).toEqual(expected.get(id));

      const resumed = await migrate(smallSourceUrl, target.url);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.summary).toMatchObject({
        copy: {
          copied: expected.size - partial.size,
          alreadyPresent: partial.size,
          conflicts: [],
        },
        verify: { checked: expected.size, problems: [] },
        targetSessions: expected.size,
        ok: true,
      });
      expect(await contents(target.url)).toEqual(expected);
    } finally {
      await target.drop();
    }
  }, 300_000);
});

describe('migrate on SQLite', () => {
  it('Ctrl-C stops after the sessions in flight, says how to resume, and the next run finishes', async () => {
    const target = `sqlite:${join(dir.path, 'interrupted.db')}`;
    const first = startCli([
      'migrate',
      '--from',
      smallSourceUrl,
      '--to',
      target,
      '--concurrency',
      '1',
    ]);
    await signalOnceCopied(first, target, 'SIGINT');
    const stopped = await first.result;
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain('SIGINT: stopping after the sessions in flight');
    expect(stopped.stderr).toMatch(
      /mcp-session migrate: interrupted: [\d,]+ sessions were copied by this run before it stopped; run the same command again to resume/,
    );
    const expected = smallLive();
    const partial = await contents(target);
    expect(partial.size).toBeGreaterThan(0);
    expect(partial.size).toBeLessThan(expected.size);
    for (const [id, session] of partial) expect(session).toEqual(expected.get(id));

    const resumed = await migrate(smallSourceUrl, `${target}?synchronous=normal`);
    expect(resumed.summary).toMatchObject({ copy: { alreadyPresent: partial.size }, ok: true });
    expect(await contents(target)).toEqual(expected);
  }, 120_000);
});

describe('migrate reports what it cannot reconcile', () => {
  it('a session already in the target in another version is a conflict: not overwritten, exit 1', async () => {
    const from = sqliteUrl(dir.path, 'conflict-source.db');
    const to = sqliteUrl(dir.path, 'small-target.db');
    const at = Date.now();
    const sessions = Array.from({ length: 30 }, (_, i) => {
      const session = makeSession(i * 5 + 1, at);
      session.record.expiresAt = null;
      return session;
    });
    const source = openSqlite(from);
    await seed(source, sessions);
    await source.close();
    const [changed, ...rest] = sessions as [Seeded, ...Seeded[]];
    const target = openSqlite(to);
    await target.create({ ...changed.record, version: changed.record.version + 3 }, { now: at });
    await target.close();

    const run = await cli(['migrate', '--from', from, '--to', to]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      new RegExp(
        `^Copied ${rest.length} sessions from .*; 0 already there, 0 expired or deleted meanwhile, 1 conflict\\.$`,
        'm',
      ),
    );
    expect(run.stdout).toContain(
      `conflict ${changed.record.id}: the target holds version ${changed.record.version + 3}`,
    );
    expect(run.stdout).toContain(
      `Verification failed: 1 of ${sessions.length} sessions are missing from the target or differ:`,
    );
    expect(run.stdout).toContain(`${changed.record.id}: version, log:history`);
    expect(run.stderr).toContain('the target does not match the source');
    const after = await contents(to);
    expect(after.get(changed.record.id)?.record.version).toBe(changed.record.version + 3);
    for (const session of rest)
      expect(after.get(session.record.id)).toEqual({
        record: session.record,
        history: session.history,
      });
  });

  it('copies between SQLite files too, and a second run has nothing left to do', async () => {
    const to = sqliteUrl(dir.path, 'copy.db');
    const first = await cli([
      'migrate',
      '--from',
      sqliteUrl(dir.path, 'conflict-source.db'),
      '--to',
      to,
    ]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(
      'Verified 30 live sessions: every record and history is identical in the target.',
    );
    const second = await migrate(sqliteUrl(dir.path, 'conflict-source.db'), to);
    expect(second.summary.copy).toEqual({
      copied: 0,
      alreadyPresent: 30,
      expired: 0,
      vanished: 0,
      conflicts: [],
    });
    expect(second.summary.ok).toBe(true);
  });
});
