import { join } from 'node:path';
import { isSessionError } from '@mcp-session/core';
import { everyPrimitive, makeRecord } from '@mcp-session/test-suite';
import { freshDirectory } from '@mcp-session/test-utils';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteSessionStore } from '../src/index.js';

const { path: directory, remove } = freshDirectory('sqlite-failures');
afterAll(remove);

const now = 1_767_225_600_000;

describe('after close', () => {
  it('every primitive fails with STORE_CLOSED, also on a Database passed in that stays open', async () => {
    const db = new BetterSqlite3(join(directory, 'passed-in.db'));
    const store = new SqliteSessionStore({ database: db });
    const record = makeRecord(now);
    await store.create(record, { now });
    await store.close();
    expect(db.open).toBe(true);
    for (const [primitive, call] of everyPrimitive(store, record.id, now)) {
      await expect(call(), primitive).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    }
    expect(db.prepare('SELECT COUNT(*) AS n FROM sessions').get()).toEqual({ n: 1 });
    db.close();
  });

  it('a sweep stops between chunks when the store is closed meanwhile', async () => {
    const db = new BetterSqlite3(join(directory, 'sweep-closed.db'));
    const store = new SqliteSessionStore({ database: db, sweepChunkSize: 2 });
    for (let i = 0; i < 7; i++) {
      await store.create(makeRecord(now, { expiresAt: now + 1 }), { now });
    }
    // The first chunk runs before sweep yields to the event loop; close() lands before the second.
    const sweeping = store.sweep(now + 1);
    await store.close();
    await expect(sweeping).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    expect(db.prepare('SELECT COUNT(*) AS n FROM sessions').get()).toEqual({ n: 5 });
    db.close();
  });
});

describe('driver failures', () => {
  it('surface as STORE_UNAVAILABLE naming SQLite and the primitive', async () => {
    const db = new BetterSqlite3(join(directory, 'closed-underneath.db'));
    const store = new SqliteSessionStore({ database: db });
    const record = makeRecord(now);
    await store.create(record, { now });
    // Closed behind the store's back: the store is open, its driver is not.
    db.close();
    for (const [primitive, call] of everyPrimitive(store, record.id, now)) {
      const error = await call().then(
        () => expect.fail(`${primitive} succeeded on a closed database`),
        (failure: unknown) => failure,
      );
      expect(isSessionError(error, 'STORE_UNAVAILABLE'), primitive).toBe(true);
      expect(error, primitive).toMatchObject({
        code: 'STORE_UNAVAILABLE',
        message: expect.stringMatching(new RegExp(`^SQLite ${primitive} failed: .*not open`)),
      });
    }
    await store.close();
  });

  it('a write lock held by another connection past busyTimeoutMs fails as STORE_UNAVAILABLE, writing nothing', async () => {
    const path = join(directory, 'busy.db');
    const store = new SqliteSessionStore({ database: path, busyTimeoutMs: 0 });
    const record = makeRecord(now);
    await store.create(record, { now });
    const other = new BetterSqlite3(path);
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      await expect(store.append(record.id, 'history', [1], { now })).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
        message: expect.stringMatching(/^SQLite append failed: database is locked/),
      });
    } finally {
      other.prepare('ROLLBACK').run();
      other.close();
    }
    expect(await store.read(record.id, 'history', { now })).toEqual([]);
    expect((await store.get(record.id, { now }))?.version).toBe(1);
    await store.close();
  });
});
