import type { SessionRecord, SessionState } from '@mcp-session/core';
import { freshDirectory } from '@mcp-session/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/stores.js';
import {
  BACKENDS,
  beforeAllValue,
  cli,
  cliJson,
  expectedLive,
  itemAt,
  makeSession,
  openSqlite,
  runInProcess,
  seed,
  sqliteUrl,
} from './helpers.js';

interface ListJson {
  sessions: SessionRecord[];
  nextCursor: string | null;
}

interface ShowJson {
  matchedBy: 'digest' | 'as-given';
  expired: boolean;
  record: SessionRecord;
  log: string;
  retained: number;
  entries: { seq: number; at: number; data: unknown }[];
}

const dir = freshDirectory('cli-commands');
afterAll(() => dir.remove());

describe.each(BACKENDS.filter((b) => b.commands))('commands on $name', (backend) => {
  // Seeded when the describe starts, not when the file is collected: the relative times printed are
  // checked against `now`.
  const target = beforeAllValue(async (cleanups) => {
    const { url, drop } = backend.fresh();
    cleanups.push(drop);
    const store = await openStore(url);
    cleanups.push(() => store.close());
    const now = Date.now();
    const seeded = Array.from({ length: 60 }, (_, i) => makeSession(i, now));
    await seed(store, seeded);
    return { url, store, nativeExpiry: store.capabilities.nativeExpiry, now, seeded };
  });

  const live = () => {
    const { seeded, now } = target();
    return [...expectedLive(seeded, now).values()].map((s) => s.record);
  };
  const expired = () => {
    const { seeded, now } = target();
    return seeded
      .filter((s) => s.record.expiresAt !== null && s.record.expiresAt <= now)
      .map((s) => s.record);
  };
  const byId = (records: { id: string }[]) => records.map((r) => r.id).sort();

  it('list pages through every live session, in id order, by cursor or --all', async () => {
    const { url, seeded } = target();
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: ListJson = await cliJson([
        'list',
        '--store',
        url,
        '--limit',
        '20',
        ...(cursor ? ['--cursor', cursor] : []),
      ]);
      expect(page.sessions.length).toBeLessThanOrEqual(20);
      ids.push(...page.sessions.map((s) => s.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(ids).toEqual(byId(live()));
    expect(pages).toBe(Math.ceil(live().length / 20));

    const all = await cliJson<ListJson>(['list', '--store', url, '--all', '--limit', '9']);
    expect(all.nextCursor).toBeNull();
    expect(all.sessions).toEqual(byId(live()).map((id) => expect.objectContaining({ id })));
    const one = all.sessions.find((s) => s.id === itemAt(seeded, 12).record.id);
    expect(one).toEqual(itemAt(seeded, 12).record);
  });

  it('list filters by state and owner', async () => {
    const { url } = target();
    const suspended = await cliJson<ListJson>([
      'list',
      '--store',
      url,
      '--all',
      '--state',
      'suspended',
    ]);
    expect(byId(suspended.sessions)).toEqual(byId(live().filter((r) => r.state === 'suspended')));
    expect(suspended.sessions.length).toBeGreaterThan(0);
    const owned = await cliJson<ListJson>(['list', '--store', url, '--all', '--owner', 'owner-4']);
    expect(byId(owned.sessions)).toEqual(byId(live().filter((r) => r.owner === 'owner-4')));
    expect(owned.sessions.length).toBeGreaterThan(0);
  });

  it('list --expired lists exactly the expired, unswept sessions', async () => {
    const { url, nativeExpiry } = target();
    const page = await cliJson<ListJson>(['list', '--store', url, '--expired', '--limit', '100']);
    expect(page.nextCursor).toBeNull();
    const ids = byId(page.sessions);
    // A store that expires data on its own clock may have dropped some already.
    if (nativeExpiry) for (const id of ids) expect(byId(expired())).toContain(id);
    else expect(ids).toEqual(byId(expired()));
  });

  it('list prints a table with relative times and the next cursor', async () => {
    const { url } = target();
    const run = await cli(['list', '--limit', '3'], { env: { SESSION_STORE_URL: url } });
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATE\s+OWNER\s+MESSAGES\s+CREATED\s+LAST ACTIVE\s+EXPIRES$/);
    expect(lines.slice(1, 4)).toHaveLength(3);
    for (const line of lines.slice(1, 4)) {
      expect(line).toMatch(
        /^[0-9a-f]{64}\s+(active|idle|suspended|closed)\s+\S+\s+\d+\s+1h ago\s+1m ago\s+(never|in 23h|in 1d)$/,
      );
    }
    expect(run.stdout).toMatch(/3 sessions shown\. Next page: --cursor \S+/);
  });

  it('show finds a session by its raw id (hashed) and by its storage id', async () => {
    const { url, seeded } = target();
    const session = itemAt(seeded, 12);
    const byRaw = await cliJson<ShowJson>(['show', session.sessionId, '--store', url, '-m', '5']);
    expect(byRaw.matchedBy).toBe('digest');
    expect(byRaw.expired).toBe(false);
    expect(byRaw.record).toEqual(session.record);
    expect(byRaw.retained).toBe(12);
    expect(byRaw.entries).toEqual(session.history.slice(-5));

    const byStorageId = await cliJson<ShowJson>(['show', session.record.id, '--store', url]);
    expect(byStorageId.matchedBy).toBe('as-given');
    expect(byStorageId.record).toEqual(session.record);
    expect(byStorageId.entries).toEqual(session.history.slice(-10));

    const human = await cli(['show', session.sessionId, '--store', url, '-m', '2']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(
      `Storage id   ${session.record.id}  (found by the SHA-256 digest`,
    );
    expect(human.stdout).toContain('"name": "user 12"');
    expect(human.stdout).toContain('Log "history": 12 entries retained, newest 2 shown:');
    expect(human.stdout).toMatch(/#12 {2}1m ago {2}assistant: message 11 of 12 — ünïcödé ✓/);
  });

  it('show --no-hash looks the id up only as given; unknown ids exit 1', async () => {
    const { url, seeded } = target();
    const session = itemAt(seeded, 12);
    const raw = await cli(['show', session.sessionId, '--store', url, '--no-hash']);
    expect(raw.code).toBe(1);
    expect(raw.stderr).toContain('no session found');
    expect(raw.stderr).toContain('the id as given');
    const unknown = await cli(['show', 'no-such-session', '--store', url]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('its SHA-256 digest');
    const invalid = await cli(['show', 'bad id', '--store', url]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('visible ASCII');
  });

  it('show displays an expired session that was not swept yet', async (test) => {
    const { url, nativeExpiry, seeded } = target();
    // A store with native expiry may have deleted it already; there is nothing to show then.
    if (nativeExpiry) test.skip();
    const session = itemAt(seeded, 13);
    const shown = await cliJson<ShowJson>(['show', session.sessionId, '--store', url]);
    expect(shown.expired).toBe(true);
    expect(shown.record).toEqual(session.record);
  });

  it('stats counts by state, messages and the oldest session', async () => {
    const { url, nativeExpiry } = target();
    const stats = await cliJson<{
      total: number;
      byState: Record<SessionState, number>;
      expired: number;
      messages: number;
      oldestCreatedAt: number;
      scan: {
        sessions: number;
        neverExpiring: number;
        boundToOwner: number;
        distinctOwners: number;
      };
    }>(['stats', '--store', url, '--scan']);
    const records = live();
    expect(stats.total).toBe(records.length);
    for (const state of ['active', 'idle', 'suspended', 'closed'] as SessionState[]) {
      expect(stats.byState[state]).toBe(records.filter((r) => r.state === state).length);
    }
    expect(stats.messages).toBe(records.reduce((sum, r) => sum + r.messageCount, 0));
    expect(stats.oldestCreatedAt).toBe(Math.min(...records.map((r) => r.createdAt)));
    if (!nativeExpiry) expect(stats.expired).toBe(expired().length);
    expect(stats.scan.sessions).toBe(records.length);
    expect(stats.scan.neverExpiring).toBe(records.filter((r) => r.expiresAt === null).length);
    expect(stats.scan.boundToOwner).toBe(records.filter((r) => r.owner !== null).length);
    expect(stats.scan.distinctOwners).toBe(
      new Set(records.map((r) => r.owner).filter(Boolean)).size,
    );

    const human = await cli(['stats', '--store', url]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`Live sessions +${records.length}\\n`));
    expect(human.stdout).toMatch(/Oldest +created 1h 00m ago/);
  });

  it('close leaves a closed tombstone, bypassing owner binding; closing again changes nothing', async () => {
    const { url, store, seeded } = target();
    const session = itemAt(seeded, 1);
    expect(session.record.owner).not.toBeNull();
    const closed = await cliJson<Record<string, unknown>>([
      'close',
      session.sessionId,
      '--store',
      url,
      '--retention',
      '10m',
    ]);
    expect(closed).toMatchObject({
      storageId: session.record.id,
      matchedBy: 'digest',
      previousState: 'active',
      closed: true,
      changed: true,
    });
    const after = await cliJson<ShowJson>(['show', session.record.id, '--store', url, '-m', '0']);
    expect(after.record.state).toBe('closed');
    expect(after.record.version).toBe(session.record.version + 1);
    expect(after.record.expiresAt).toBe(closed.expiresAt);
    expect(after.record.expiresAt! - after.record.lastActivityAt).toBe(10 * 60_000);
    expect(after.record.context).toEqual(session.record.context);

    const again = await cliJson<Record<string, unknown>>([
      'close',
      session.sessionId,
      '--store',
      url,
    ]);
    expect(again).toMatchObject({ closed: true, changed: false, previousState: 'closed' });
    const stored = await store.get(session.record.id, { now: Date.now() });
    expect(stored?.version).toBe(session.record.version + 1);
  });

  it('close --purge deletes the session and its history', async () => {
    const { url, store, seeded } = target();
    const session = itemAt(seeded, 2);
    const run = await cli(['close', session.record.id, '--store', url, '--purge']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Deleted session ${session.record.id}`);
    expect(await store.get(session.record.id, { now: 0 })).toBeNull();
    expect((await cli(['show', session.sessionId, '--store', url])).code).toBe(1);
    expect((await cli(['close', session.sessionId, '--store', url])).code).toBe(1);
  });

  it('sweep --dry-run counts, sweep deletes exactly the expired sessions', async (test) => {
    const { url, store, nativeExpiry, seeded } = target();
    // With native expiry the backend deletes on its own clock: what is left to sweep is not ours to count.
    if (nativeExpiry) test.skip();
    const before = await store.stats(Date.now());
    const dry = await cliJson<Record<string, unknown>>(['sweep', '--store', url, '--dry-run']);
    expect(dry).toEqual({ dryRun: true, expired: expired().length, deleted: 0 });
    const human = await cli(['sweep', '--store', url, '--dry-run']);
    expect(human.stdout).toContain(
      `${expired().length} expired sessions would be deleted (dry run`,
    );
    expect(await store.stats(Date.now())).toEqual(before);

    const swept = await cliJson<Record<string, unknown>>([
      'sweep',
      '--store',
      url,
      '--batch-size',
      '2',
    ]);
    expect(swept).toEqual({
      dryRun: false,
      expired: expired().length,
      deleted: expired().length,
    });
    for (const { record } of seeded.filter((s) => expired().includes(s.record))) {
      expect(await store.get(record.id, { now: 0 })).toBeNull();
    }
    const after = await store.stats(Date.now());
    expect(after.expired).toBe(0);
    expect(after.total).toBe(before.total);
    expect((await cliJson<ListJson>(['list', '--store', url, '--expired'])).sessions).toEqual([]);
  });
});

describe('list --expired paging', () => {
  it('fills each page across store pages and never skips or repeats a record, whatever the page size', async () => {
    // Ids in a known order, with expired ones in runs and gaps, so a page often ends inside a store page.
    const url = sqliteUrl(dir.path, 'expired-paging.db');
    const store = openSqlite(url);
    const at = Date.now();
    const pattern = 'EELEEELLEELEEEEELLLE';
    for (const [i, kind] of [...pattern].entries()) {
      const { record } = makeSession(1, at);
      await store.create(
        {
          ...record,
          id: `id-${String(i).padStart(2, '0')}`,
          expiresAt: kind === 'E' ? at - 1000 : at + 3_600_000,
        },
        { now: 0 },
      );
    }
    await store.close();
    const expected = [...pattern].flatMap((kind, i) =>
      kind === 'E' ? [`id-${String(i).padStart(2, '0')}`] : [],
    );
    for (const limit of [1, 2, 3, 4, 5, 7, 13, 20]) {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const run = await runInProcess([
          'list',
          '--store',
          url,
          '--expired',
          '--json',
          '--limit',
          String(limit),
          ...(cursor ? ['--cursor', cursor] : []),
        ]);
        const page = JSON.parse(run.stdout) as ListJson;
        expect(page.sessions.length).toBeLessThanOrEqual(limit);
        if (page.nextCursor !== null) expect(page.sessions.length).toBe(limit);
        ids.push(...page.sessions.map((s) => s.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(ids, `limit ${limit}`).toEqual(expected);
    }
  });
});
