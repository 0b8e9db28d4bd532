import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { isSessionError, type JsonValue } from '@mcp-session/core';
import { makeRecord } from '@mcp-session/test-suite';
import { cleanupAfterEach } from '@mcp-session/test-utils';
import { adminPool, freshPostgresSchema } from '@mcp-session/test-utils/postgres';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PostgresSessionStore, storeFromUrl } from '../src/index.js';

const admin = adminPool();
const cleanups = cleanupAfterEach();
afterAll(() => admin.end());

/** A store whose connections carry a name no other test uses, so they can be found and killed. */
async function namedStore(
  poolSize: number,
): Promise<{ store: PostgresSessionStore; name: string }> {
  const name = `mcp-fault-${randomBytes(4).toString('hex')}`;
  const { url, drop } = freshPostgresSchema({ application_name: name, poolSize: String(poolSize) });
  cleanups.push(drop);
  const store = await storeFromUrl(url);
  cleanups.push(() => store.close());
  return { store, name };
}

async function count(sql: string, params: unknown[]): Promise<number> {
  const result = await admin.query<{ count: string }>(sql, params);
  return Number(result.rows[0]?.count);
}

/** Terminates every backend of the store, the way a failover or an operator would; returns how many. */
async function terminate(name: string): Promise<number> {
  return count(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS count
     FROM pg_stat_activity WHERE application_name = $1`,
    [name],
  );
}

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown }).code;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

describe('faults', () => {
  it('operations in flight when the backends are terminated fail with STORE_UNAVAILABLE, and the same store recovers', async () => {
    const { store, name } = await namedStore(4);
    const now = Date.now();
    const record = makeRecord(now);
    await store.create(record, { now });

    // Hold the record's row lock from outside, so four appends are certainly in flight (waiting).
    const locker = await admin.connect();
    await locker.query('BEGIN');
    await locker.query(`SELECT 1 FROM "${store.schema}".mcp_sessions WHERE id = $1 FOR UPDATE`, [
      record.id,
    ]);
    // Settled from the start: they reject while the test is still awaiting the terminate query.
    const blocked = Promise.allSettled(
      Array.from({ length: 4 }, (_, i) =>
        store.append(record.id, 'history', [{ blocked: i }], { now, countMessages: true }),
      ),
    );
    await vi.waitFor(
      async () =>
        expect(
          await count(
            `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
            [name],
          ),
        ).toBe(4),
      { timeout: 10_000 },
    );
    expect(await terminate(name)).toBe(4);
    const outcomes = await blocked;
    expect(outcomes.map((o) => (o.status === 'rejected' ? codeOf(o.reason) : 'resolved'))).toEqual(
      Array(4).fill('STORE_UNAVAILABLE'),
    );
    await locker.query('ROLLBACK');
    locker.release();

    // Killed while waiting for the lock, none of them wrote anything.
    const next = await store.append(record.id, 'history', ['after'], { now, countMessages: true });
    expect(next).toMatchObject({ firstSeq: 1, version: 2, messageCount: 1 });
  });

  it('appends under load with backends terminated mid-way: failures are typed, nothing acknowledged is lost', async () => {
    const { store, name } = await namedStore(4);
    const now = Date.now();
    const record = makeRecord(now);
    await store.create(record, { now });

    const acknowledged: { seq: number; data: JsonValue }[] = [];
    const failures: unknown[] = [];
    let stop = false;
    const workers = Array.from({ length: 6 }, async (_, worker) => {
      for (let i = 0; !stop; i++) {
        const data = { worker, i };
        try {
          const result = await store.append(record.id, 'events', [data], {
            now,
            countMessages: true,
          });
          acknowledged.push({ seq: result.firstSeq, data });
        } catch (error) {
          failures.push(error);
        }
      }
    });
    const progress = async (more: number) => {
      const target = acknowledged.length + more;
      await vi.waitFor(() => expect(acknowledged.length).toBeGreaterThanOrEqual(target), {
        timeout: 20_000,
        interval: 5,
      });
    };
    for (let round = 0; round < 4; round++) {
      await progress(40);
      await terminate(name);
    }
    await progress(40);
    stop = true;
    await Promise.all(workers);

    expect(new Set(failures.map(codeOf))).toEqual(
      failures.length > 0 ? new Set(['STORE_UNAVAILABLE']) : new Set(),
    );
    const entries = await store.read(record.id, 'events', { now });
    const seqs = entries.map((entry) => entry.seq);
    // Seqs stay gap-free: an append either committed whole or not at all.
    expect(seqs).toEqual(Array.from({ length: entries.length }, (_, i) => i + 1));
    const bySeq = new Map(entries.map((entry) => [entry.seq, entry.data]));
    for (const { seq, data } of acknowledged) expect(bySeq.get(seq)).toEqual(data);
    // Failed appends may still have committed (the reply was lost), but never twice.
    expect(new Set(entries.map((entry) => JSON.stringify(entry.data))).size).toBe(entries.length);
    expect(entries.length).toBeGreaterThanOrEqual(acknowledged.length);
    expect(entries.length).toBeLessThanOrEqual(acknowledged.length + failures.length);
    expect(await store.get(record.id, { now })).toMatchObject({
      messageCount: entries.length,
      version: 1 + entries.length,
    });
  });

  it('idle connections terminated between operations never crash the process; the next call reconnects', async () => {
    const { store, name } = await namedStore(4);
    const now = Date.now();
    const record = makeRecord(now);
    await store.create(record, { now });
    // Fill the pool with idle clients; each gets an 'error' event when its backend goes away.
    await Promise.all(Array.from({ length: 4 }, () => store.get(record.id, { now })));
    expect(await terminate(name)).toBeGreaterThanOrEqual(2);
    await vi.waitFor(
      async () =>
        expect(
          await count('SELECT count(*) FROM pg_stat_activity WHERE application_name = $1', [name]),
        ).toBe(0),
      { timeout: 10_000 },
    );
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => store.get(record.id, { now })),
    );
    for (const result of results) {
      if (result.status === 'rejected') expect(codeOf(result.reason)).toBe('STORE_UNAVAILABLE');
    }
    expect(await store.get(record.id, { now })).toEqual(record);
  });

  it('an unreachable server fails with STORE_UNAVAILABLE, without the password, and open() cleans up', async () => {
    const port = await closedPort();
    const url = `postgres://app:secret-password@127.0.0.1:${port}/test?schema=unreachable`;
    const error = await storeFromUrl(url).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringMatching(/ECONNREFUSED/),
    });
    expect(String((error as Error).message)).not.toContain('secret-password');
    expect((error as Error).message).toMatch(
      /^Opening the Postgres store on schema "unreachable" failed: /,
    );

    const lazy = new PostgresSessionStore({ connection: url });
    cleanups.push(() => lazy.close());
    await expect(lazy.stats(Date.now())).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(lazy.get('any', { now: Date.now() })).rejects.toMatchObject({
      message: expect.stringMatching(/^Postgres get failed: .*ECONNREFUSED/),
    });
    // A failed start-up is not remembered: every call tries again.
    await expect(lazy.list({ now: Date.now(), limit: 1 })).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
  });

  it('a driver failure surfaces as StoreUnavailableError naming Postgres and the primitive, the driver error as cause', async () => {
    // lock_timeout goes to pg as a driver parameter: waiting for a held lock fails on demand.
    const { schema, url, drop } = freshPostgresSchema({ lock_timeout: '50' });
    cleanups.push(drop);
    const store = await storeFromUrl(url);
    cleanups.push(() => store.close());
    const now = Date.now();
    const record = makeRecord(now);
    await store.create(record, { now });
    const locker = await admin.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM "${schema}".mcp_sessions WHERE id = $1 FOR UPDATE`, [
        record.id,
      ]);
      const attempts: [string, () => Promise<unknown>][] = [
        ['append', () => store.append(record.id, 'history', ['x'], { now, countMessages: true })],
        ['update', () => store.update(record.id, { state: 'idle' }, { now })],
        ['delete', () => store.delete(record.id)],
      ];
      for (const [primitive, attempt] of attempts) {
        const error = await attempt().catch((caught: unknown) => caught);
        expect(isSessionError(error, 'STORE_UNAVAILABLE'), primitive).toBe(true);
        expect(error, primitive).toMatchObject({
          code: 'STORE_UNAVAILABLE',
          message: expect.stringMatching(
            new RegExp(`^Postgres ${primitive} failed: .*lock timeout`),
          ),
          cause: expect.objectContaining({ code: '55P03' }),
        });
      }
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    expect(await store.get(record.id, { now })).toEqual(record);
    expect(await store.read(record.id, 'history', { now })).toEqual([]);
  });
});
