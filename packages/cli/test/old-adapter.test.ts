import { type CreateOptions, registerStore, type SessionRecord } from '@mcp-session/core';
import { SqliteSessionStore } from '@mcp-session/sqlite';
import { freshDirectory } from '@mcp-session/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectedLive,
  makeSession,
  openSqlite,
  runInProcess,
  seed,
  snapshot,
  sqliteUrl,
} from './helpers.js';

/**
 * An adapter written before `create` took logs: it stores the record and silently ignores the logs. The
 * CLI must notice on the first session instead of copying thousands without their history.
 */
class PreLogsSqliteStore extends SqliteSessionStore {
  override async create(record: SessionRecord, options: CreateOptions): Promise<void> {
    await super.create(record, { now: options.now });
  }
}

const dir = freshDirectory('cli-old-adapter');
const sourceUrl = sqliteUrl(dir.path, 'source.db');
const seeded = Array.from({ length: 200 }, (_, i) => makeSession(i, Date.now()));

beforeAll(async () => {
  registerStore(
    'old-sqlite',
    (url) => new PreLogsSqliteStore({ database: url.slice('old-sqlite:'.length) }),
  );
  const source = openSqlite(sourceUrl);
  await seed(source, seeded);
  await source.close();
});
afterAll(() => dir.remove());

/** Sessions stored at `path`, with the number of those that lost their history. */
async function stored(path: string): Promise<{ sessions: number; withoutHistory: number }> {
  const store = new SqliteSessionStore({ database: path });
  const all = await snapshot(store, Date.now());
  await store.close();
  const live = expectedLive(seeded, Date.now());
  const withoutHistory = [...all.values()].filter(
    (s) => s.history.length === 0 && (live.get(s.record.id)?.history.length ?? 0) > 0,
  ).length;
  return { sessions: all.size, withoutHistory };
}

describe('a target whose adapter drops the logs given to create', () => {
  it('stops migrate after the first session, naming it and what to do', async () => {
    const path = `${dir.path}/migrate-target.db`;
    const run = await runInProcess([
      'migrate',
      '--from',
      sourceUrl,
      '--to',
      `old-sqlite:${path}`,
      '--concurrency',
      '8',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^mcp-session migrate: the target store did not keep the logs given to create\(\): session [0-9a-f]{64} was stored without them/,
    );
    expect(run.stderr).toMatch(
      /--purge --store <target>\) and run again\.\n0 sessions were copied by this run/,
    );
    const { withoutHistory } = await stored(path);
    expect(withoutHistory).toBe(1);
  });

  it('stops import after the first session too', async () => {
    const exported = await runInProcess(['export', '--store', sourceUrl]);
    expect(exported.code).toBe(0);
    const path = `${dir.path}/import-target.db`;
    const run = await runInProcess(['import', '--store', `old-sqlite:${path}`], {
      input: exported.stdout,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^mcp-session import: line \d+: writing session [0-9a-f]{64} failed: the target store did not keep the logs/,
    );
    expect((await stored(path)).withoutHistory).toBe(1);
  });
});
