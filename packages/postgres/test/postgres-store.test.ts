import type { JsonObject, SessionRecord } from '@mcp-session/core';
import { makeRecord } from '@mcp-session/test-suite';
import { cleanupAfterEach } from '@mcp-session/test-utils';
import {
  adminPool,
  freshPostgresSchema,
  POSTGRES_URL,
  postgresUrlWith,
} from '@mcp-session/test-utils/postgres';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresSessionStore, storeFromUrl } from '../src/index.js';

const admin = adminPool();
const cleanups = cleanupAfterEach();
afterAll(() => admin.end());

async function openStore(): Promise<PostgresSessionStore> {
  const { url, drop } = freshPostgresSchema();
  cleanups.push(drop);
  const store = await storeFromUrl(url);
  cleanups.push(() => store.close());
  return store;
}

async function rows(sql: string, params: unknown[] = []): Promise<number> {
  const result = await admin.query<{ count: string }>(sql, params);
  return Number(result.rows[0]?.count);
}

/**
 * A store on a one-connection pool that runs auto_explain on every statement, nested ones (inside the
 * append function) included, and hands the plans to the test.
 */
async function explainingStore(): Promise<{ store: PostgresSessionStore; plans: () => string[] }> {
  const { schema, drop } = freshPostgresSchema();
  cleanups.push(drop);
  const options = [
    'session_preload_libraries=auto_explain',
    'auto_explain.log_min_duration=0',
    'auto_explain.log_analyze=on',
    'auto_explain.log_buffers=on',
    'auto_explain.log_timing=off',
    'auto_explain.log_nested_statements=on',
    'client_min_messages=log',
  ]
    .map((option) => `-c ${option}`)
    .join(' ');
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1, options });
  let captured: string[] = [];
  pool.on('connect', (client) => {
    client.on('notice', (notice) => {
      if (notice.message?.includes('plan:')) captured.push(notice.message);
    });
  });
  const store = await PostgresSessionStore.open({ connection: pool, schema });
  cleanups.push(async () => {
    await store.close();
    await pool.end();
  });
  return {
    store,
    plans: () => {
      const taken = captured;
      captured = [];
      return taken;
    },
  };
}

/** Shared buffers (hit + read) of each statement's top plan node, skipping the function call itself. */
function buffersPerStatement(plans: string[]): number[] {
  return plans
    .filter((plan) => !/Query Text: SELECT \* FROM "[^"]+"\.mcp_session_append\(/.test(plan))
    .map((plan) => {
      const match = /Buffers: shared(?: hit=(\d+))?(?: read=(\d+))?/.exec(plan);
      return Number(match?.[1] ?? 0) + Number(match?.[2] ?? 0);
    });
}

describe('cost does not grow with history length', () => {
  it('an append to a 100,000-entry capped log touches as many pages as one to a 100-entry log', async () => {
    const { store, plans } = await explainingStore();
    const now = Date.now();
    const measured: Record<string, { append: number; read: number; plans: string[] }> = {};
    for (const size of [100, 100_000]) {
      const record = makeRecord(now);
      await store.create(record, { now });
      await store.append(
        record.id,
        'history',
        Array.from({ length: size }, (_, i) => ({ role: 'user', content: `message ${i}` })),
        { now, cap: size },
      );
      plans();
      await store.append(record.id, 'history', [{ role: 'user', content: 'one more' }], {
        now,
        cap: size,
        countMessages: true,
      });
      const appendPlans = plans();
      const lastTwenty = await store.read(record.id, 'history', { now, order: 'desc', limit: 20 });
      expect(lastTwenty.map((e) => e.seq)[0]).toBe(size + 1);
      const readPlans = plans();
      measured[size] = {
        append: buffersPerStatement(appendPlans).reduce((a, b) => a + b, 0),
        read: buffersPerStatement(readPlans).reduce((a, b) => a + b, 0),
        plans: [...appendPlans, ...readPlans],
      };
    }
    const small = measured[100];
    const large = measured[100_000];
    // The trim walks the entries that go, and reads walk the (log_id, seq) index from the end.
    for (const plan of large?.plans ?? [])
      expect(plan).not.toMatch(/Seq Scan on mcp_session_log_entries/);
    expect(
      large?.plans.some((plan) =>
        /Index Scan Backward using mcp_session_log_entries_pkey/.test(plan),
      ),
    ).toBe(true);
    // A deeper B-tree costs a page or two per index probe; a scan of the history would cost thousands.
    expect(large?.append).toBeLessThanOrEqual((small?.append ?? 0) + 12);
    expect(large?.read).toBeLessThanOrEqual((small?.read ?? 0) + 6);
    expect(large?.append).toBeLessThan(100);
  }, 120_000);
});

describe('what is physically stored', () => {
  it('a capped log holds exactly cap rows, also after concurrent appends and batches bigger than the cap', async () => {
    const store = await openStore();
    const now = Date.now();
    const record = makeRecord(now);
    await store.create(record, { now });
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        store.append(record.id, 'history', [i], { now, cap: 7 }),
      ),
    );
    await store.append(
      record.id,
      'history',
      Array.from({ length: 20 }, (_, i) => i),
      { now, cap: 7 },
    );
    await store.append(record.id, 'events', [1, 2, 3], { now });
    const table = `"${store.schema}".mcp_session_log_entries`;
    expect(await rows(`SELECT count(*) FROM ${table}`)).toBe(7 + 3);
    expect(
      await rows(
        `SELECT count(*) FROM ${table} e JOIN "${store.schema}".mcp_session_logs g USING (log_id)
         WHERE g.log = 'history' AND e.seq BETWEEN 74 AND 80`,
      ),
    ).toBe(7);
  });

  it('delete, create over an expired record and sweep leave no log rows behind', async () => {
    const store = await openStore();
    const now = Date.now();
    const leftovers = () =>
      rows(
        `SELECT (SELECT count(*) FROM "${store.schema}".mcp_session_logs)
              + (SELECT count(*) FROM "${store.schema}".mcp_session_log_entries) AS count`,
      );
    const deleted = makeRecord(now);
    const replaced = makeRecord(now, { expiresAt: now + 10 });
    const swept = makeRecord(now, { expiresAt: now + 10 });
    for (const record of [deleted, replaced, swept]) {
      await store.create(record, { now });
      await store.append(record.id, 'history', [1, 2], { now });
      await store.append(record.id, 'events:a', [3], { now });
    }
    await store.delete(deleted.id);
    await store.create({ ...replaced, expiresAt: null }, { now: now + 10 });
    expect(await store.sweep(now + 10)).toBe(1);
    expect(await leftovers()).toBe(0);
  });
});

describe('sweep', () => {
  it('concurrent sweepers on two stores share the work, and a row being written is skipped, not waited for', async () => {
    const store = await openStore();
    const other = await storeFromUrl(postgresUrlWith({ schema: store.schema }));
    cleanups.push(() => other.close());
    const now = Date.now();
    const expiring: SessionRecord[] = Array.from({ length: 41 }, () =>
      makeRecord(now, { expiresAt: now + 10 }),
    );
    for (const record of expiring) {
      await store.create(record, { now });
      await store.append(record.id, 'history', ['entry'], { now });
    }
    const locked = expiring[0] as SessionRecord;
    const locker = await admin.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM "${store.schema}".mcp_sessions WHERE id = $1 FOR UPDATE`, [
        locked.id,
      ]);
      const later = now + 10;
      const sweeper = async (target: PostgresSessionStore) => {
        const counts: number[] = [];
        for (;;) {
          const count = await target.sweep(later, { limit: 5 });
          counts.push(count);
          if (count < 5) return counts;
        }
      };
      // Resolving at all while the lock is held shows SKIP LOCKED: a blocking sweep would hang here.
      const counts = (await Promise.all([store, other, store, other].map(sweeper))).flat();
      for (const count of counts) expect(count).toBeLessThanOrEqual(5);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(40);
      await locker.query('ROLLBACK');
      expect(await store.sweep(later)).toBe(1);
      expect(await store.stats(later)).toMatchObject({ total: 0, expired: 0 });
    } finally {
      locker.release();
    }
  });
});

describe('context', () => {
  /** The size the manager measures: UTF-8 bytes of JSON.stringify. */
  const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

  /** What the store measured for `context`, read from the error of an update one byte too tight. */
  async function measuredBytes(store: PostgresSessionStore, id: string, context: JsonObject) {
    const now = Date.now();
    const limit = jsonBytes(context) - 1;
    const error = await store
      .update(id, { context }, { now, maxContextBytes: limit })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', limit });
    const fits = await store.update(id, { context }, { now, maxContextBytes: limit + 1 });
    expect(fits.context).toEqual(context);
    return (error as { actual: number }).actual;
  }

  it('maxContextBytes counts the context as compact JSON, like the manager, not as jsonb prints it', async () => {
    const store = await openStore();
    const now = Date.now();
    const record = makeRecord(now);
    await store.create(record, { now });
    const structured: JsonObject = {
      user: { name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'author'] },
      cart: Array.from({ length: 20 }, (_, i) => ({ sku: `SKU-${1000 + i}`, quantity: i % 3 })),
      digits: Array.from({ length: 200 }, (_, i) => i % 10),
    };
    // jsonb's text form of this is a third larger (", " and ": "); the store must not count that.
    expect(await measuredBytes(store, record.id, structured)).toBe(jsonBytes(structured));
    const tricky: JsonObject = {
      'key, with: separators': 'a, b: c, "quoted, : text" and \\ backslashes \\", ',
      prose: 'One, two: three. '.repeat(40),
      unicode: 'café, 東京: 🎉, ',
      nested: { list: ['x, y', ': z', '\\', '"'], empty: {}, none: [] },
      escapedQuote: 'an escaped \\" then, many, separators: a, b, c: d, e, ',
    };
    expect(await measuredBytes(store, record.id, tricky)).toBe(jsonBytes(tricky));
  });
});

describe('bad arguments', () => {
  it('fractional times, seqs and versions are refused with INVALID_VALUE, not a driver error, and nothing is written', async () => {
    const store = await openStore();
    const now = Date.now();
    const record = makeRecord(now);
    await store.create(record, { now });
    const touch = { at: now + 0.5, idleTimeoutMs: 1_000, maxLifetimeMs: null };
    const attempts: [string, () => Promise<unknown>][] = [
      ['get now', () => store.get(record.id, { now: now + 0.5 })],
      ['create createdAt', () => store.create(makeRecord(now, { createdAt: now + 0.5 }), { now })],
      [
        'create imported log at',
        () =>
          store.create(makeRecord(now), {
            now,
            logs: { history: [{ seq: 1, at: now + 0.5, data: 'imported' }] },
          }),
      ],
      ['update expiresAt', () => store.update(record.id, { expiresAt: now + 0.5 }, { now })],
      ['update touch', () => store.update(record.id, { touch }, { now })],
      ['update expectedVersion', () => store.update(record.id, {}, { now, expectedVersion: 1.5 })],
      ['append touch', () => store.append(record.id, 'history', [1], { now, touch })],
      ['read afterSeq', () => store.read(record.id, 'history', { now, afterSeq: 1.5 })],
      ['list now', () => store.list({ now: Number.NaN, limit: 1 })],
      ['sweep now', () => store.sweep(now + 0.5)],
      ['stats now', () => store.stats(Number.POSITIVE_INFINITY)],
    ];
    for (const [what, attempt] of attempts) {
      await expect(attempt(), what).rejects.toMatchObject({
        code: 'INVALID_VALUE',
        message: expect.stringMatching(/must be .*integer/),
      });
    }
    expect(await store.get(record.id, { now })).toEqual(record);
    expect(await store.read(record.id, 'history', { now })).toEqual([]);
    expect((await store.stats(now)).total).toBe(1);
  });
});

describe('large arguments', () => {
  it('limits and caps beyond 32 bits work as "no practical bound"', async () => {
    const store = await openStore();
    const now = Date.now();
    const record = makeRecord(now);
    await store.create(record, { now });
    const huge = Number.MAX_SAFE_INTEGER;
    expect(await store.append(record.id, 'history', [1, 2], { now, cap: huge })).toMatchObject({
      firstSeq: 1,
      lastSeq: 2,
    });
    expect(await store.read(record.id, 'history', { now, limit: huge })).toHaveLength(2);
    expect((await store.list({ now, limit: huge - 1 })).records).toHaveLength(1);
    expect(await store.sweep(now, { limit: huge })).toBe(0);
  });
});
