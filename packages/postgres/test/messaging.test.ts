import { isSessionError } from '@mcp-session/core';
import { adminPool, freshPostgresSchema } from '@mcp-session/test-utils/postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { INLINE_NOTIFY_BYTES, MESSAGE_RETENTION_MS, PostgresSessionStore } from '../src/index.js';

const admin = adminPool();
afterAll(() => admin.end());

/** Waits until `done()` holds; a bound on waiting, not a timing assertion. */
async function eventually(done: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function withStores(
  count: number,
  work: (stores: PostgresSessionStore[], schema: string) => Promise<void>,
): Promise<void> {
  const fresh = freshPostgresSchema();
  const stores: PostgresSessionStore[] = [];
  try {
    for (let i = 0; i < count; i++)
      stores.push(await PostgresSessionStore.open({ connection: fresh.url }));
    await work(stores, fresh.schema);
  } finally {
    for (const store of stores) await store.close();
    await fresh.drop();
  }
}

describe('postgres message bus', () => {
  it('LISTENs again after its connection is terminated (pg_terminate_backend): delivery resumes', async () => {
    await withStores(2, async ([listener, publisher]) => {
      if (!listener || !publisher) throw new Error('two stores');
      const received: string[] = [];
      await listener.messages.subscribe('room', (payload) => received.push(payload));
      const pid = listener.messages.listenerProcessId;
      expect(pid).toBeTypeOf('number');
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await eventually(
        () => listener.messages.listenerProcessId !== pid,
        'the listener to notice its connection ended',
      );
      let sent = 0;
      await eventually(async () => {
        await publisher.messages.publish('room', `after ${sent++}`);
        return received.length > 0;
      }, 'delivery after the new LISTEN');
      expect(listener.messages.listenerProcessId).not.toBe(pid);
      await publisher.messages.publish('room', 'x'.repeat(INLINE_NOTIFY_BYTES + 1));
      await publisher.messages.publish('room', 'last');
      await eventually(() => received.includes('last'), 'the next messages');
      expect(received.slice(-2)).toEqual(['x'.repeat(INLINE_NOTIFY_BYTES + 1), 'last']);
    });
  });

  it('sends a payload over the NOTIFY limit through the messages table, and one just under it inline', async () => {
    await withStores(1, async ([store], schema) => {
      if (!store) throw new Error('a store');
      const received: string[] = [];
      await store.messages.subscribe('big', (payload) => received.push(payload));
      const inline = 'é'.repeat(INLINE_NOTIFY_BYTES / 2);
      const large = 'é'.repeat(INLINE_NOTIFY_BYTES / 2 + 1);
      await store.messages.publish('big', inline);
      await store.messages.publish('big', large);
      await eventually(() => received.length === 2, 'both messages');
      expect(received).toEqual([inline, large]);
      const rows = await admin.query(
        `SELECT channel, length(payload) AS length FROM "${schema}".mcp_session_messages`,
      );
      expect(rows.rows).toEqual([{ channel: 'big', length: large.length }]);
    });
  });

  it('a large publish prunes rows older than MESSAGE_RETENTION_MS, so the table does not grow', async () => {
    await withStores(1, async ([store], schema) => {
      if (!store) throw new Error('a store');
      const table = `"${schema}".mcp_session_messages`;
      await admin.query(
        `INSERT INTO ${table} (channel, payload, created_at)
         VALUES ('old', 'stale', now() - $1 * interval '1 millisecond' - interval '1 second')`,
        [MESSAGE_RETENTION_MS],
      );
      await store.messages.publish('any', 'z'.repeat(INLINE_NOTIFY_BYTES + 1));
      const rows = await admin.query(`SELECT channel FROM ${table} ORDER BY id`);
      expect(rows.rows).toEqual([{ channel: 'any' }]);
    });
  });

  it('channels are exact also beyond the 63-byte identifier limit of Postgres', async () => {
    await withStores(1, async ([store]) => {
      if (!store) throw new Error('a store');
      const long = 'c'.repeat(200);
      const heard: string[] = [];
      await store.messages.subscribe(`${long}a`, (p) => heard.push(`a ${p}`));
      await store.messages.subscribe(`${long}b`, (p) => heard.push(`b ${p}`));
      await store.messages.publish(`${long}a`, 'one');
      await store.messages.publish(`${long}b`, 'two');
      await eventually(() => heard.length >= 2, 'both messages');
      expect(heard).toEqual(['a one', 'b two']);
    });
  });

  it('stores on different schemas never hear each other', async () => {
    await withStores(1, async ([first]) => {
      await withStores(1, async ([second]) => {
        if (!first || !second) throw new Error('two stores');
        const heard: string[] = [];
        await first.messages.subscribe('same', (p) => heard.push(`first ${p}`));
        await second.messages.subscribe('same', (p) => heard.push(`second ${p}`));
        await second.messages.publish('same', 'hello');
        await first.messages.publish('same', 'end');
        await eventually(() => heard.length >= 2, 'both messages');
        expect(heard.sort()).toEqual(['first end', 'second hello']);
      });
    });
  });

  it('a subscribe with Postgres unreachable fails with STORE_UNAVAILABLE', async () => {
    const store = new PostgresSessionStore({
      connection: 'postgres://postgres@127.0.0.1:1/test?connect_timeout=1',
    });
    const error = await store.messages.subscribe('room', () => undefined).catch((e: unknown) => e);
    expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
    await store.close();
  });
});
