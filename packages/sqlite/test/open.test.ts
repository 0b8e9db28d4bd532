import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createStore, ManualClock, SessionManager, type SessionStore } from '@mcp-session/core';
import { MAX_TIMER_MS } from '@mcp-session/core/adapter';
import { freshDirectory } from '@mcp-session/test-utils';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, SqliteSessionStore, storeFromUrl } from '../src/index.js';

const { path: directory, remove } = freshDirectory('sqlite-open');
afterAll(remove);

function open(database: string): () => SqliteSessionStore {
  return () => new SqliteSessionStore({ database });
}

describe('opening a SQLite store', () => {
  it('fails at open, with a clear typed error, for a path in a missing directory', () => {
    const path = join(directory, 'missing', 'sessions.db');
    expect(open(path)).toThrow(
      expect.objectContaining({
        code: 'STORE_UNAVAILABLE',
        message: expect.stringMatching(/directory .* does not exist/),
      }),
    );
  });

  it('fails at open for a read-only file', () => {
    const path = join(directory, 'read-only.db');
    new SqliteSessionStore({ database: path }).close();
    chmodSync(path, 0o444);
    expect(open(path)).toThrow(
      expect.objectContaining({
        code: 'STORE_UNAVAILABLE',
        message: expect.stringMatching(/read-only/),
      }),
    );
    chmodSync(path, 0o644);
  });

  it('fails at open for a file that is not a SQLite database, and leaves it untouched', () => {
    const path = join(directory, 'not-a-database.db');
    const garbage = 'this is a text file, not a database\n'.repeat(200);
    writeFileSync(path, garbage);
    expect(open(path)).toThrow(
      expect.objectContaining({
        code: 'STORE_UNAVAILABLE',
        message: expect.stringMatching(/not a SQLite database/),
      }),
    );
    expect(new BetterSqlite3(':memory:').prepare('SELECT 1 AS one').get()).toEqual({ one: 1 });
  });

  it('fails at open for a directory', () => {
    const path = join(directory, 'a-directory');
    mkdirSync(path);
    expect(open(path)).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/is a directory/) }),
    );
  });

  it('rejects bad options and URLs with typed errors', () => {
    const path = join(directory, 'options.db');
    expect(() => new SqliteSessionStore({ database: path, busyTimeoutMs: -1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_VALUE' }),
    );
    expect(() => new SqliteSessionStore({ database: path, synchronous: 'off' as never })).toThrow(
      /"full" or "normal"/,
    );
    expect(() => new SqliteSessionStore({ database: '' })).toThrow(
      expect.objectContaining({ code: 'INVALID_VALUE' }),
    );
    expect(() => storeFromUrl(`sqlite:${path}?journal=off`)).toThrow(
      /Unknown sqlite store option "journal" .*\(known: busyTimeoutMs, synchronous, sweepChunkSize, messagePollIntervalMs, messageRetentionMs\)/,
    );
    expect(() => storeFromUrl('sqlite://db.example.com/x.db')).toThrow(/looks like a host/);
  });

  it('refuses busyTimeoutMs above MAX_TIMER_MS', () => {
    expect(
      () =>
        new SqliteSessionStore({
          database: join(directory, 'options.db'),
          busyTimeoutMs: MAX_TIMER_MS + 1,
        }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_VALUE' }));
  });

  it('refuses a database written by a newer schema version', () => {
    const path = join(directory, 'future.db');
    const db = new BetterSqlite3(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(open(path)).toThrow(/newer than this @mcp-session\/sqlite supports/);
  });
});

describe('sqlite: URL options', () => {
  it.each([
    ['?synchronous=full&synchronous=normal', /sqlite store option "synchronous" is given twice/],
    ['?busyTimeoutMs=10&busyTimeoutMs=10', /sqlite store option "busyTimeoutMs" is given twice/],
    ['?synchronous=bogus', /synchronous must be "full" or "normal", got "bogus"/],
    ['?synchronous=FULL', /synchronous must be "full" or "normal", got "FULL"/],
    ['?busyTimeoutMs=0x10', /busyTimeoutMs must be a whole number from 0 to 2147483647/],
    ['?busyTimeoutMs=1e3', /busyTimeoutMs must be a whole number from 0 to 2147483647/],
    ['?busyTimeoutMs=-1', /busyTimeoutMs must be a whole number from 0 to 2147483647/],
    ['?busyTimeoutMs=2.5', /busyTimeoutMs must be a whole number from 0 to 2147483647/],
    ['?busyTimeoutMs=', /busyTimeoutMs must be a whole number from 0 to 2147483647/],
    ['?busyTimeoutMs=2147483648', /busyTimeoutMs must be a whole number from 0 to 2147483647/],
    ['?sweepChunkSize=0', /sweepChunkSize must be a whole number from 1 to/],
  ])('refuses %s with INVALID_STORE_URL and creates no file', (query, message) => {
    const path = join(directory, `refused-${randomUUID()}.db`);
    expect(() => storeFromUrl(`sqlite:${path}${query}`)).toThrow(
      expect.objectContaining({
        code: 'INVALID_STORE_URL',
        message: expect.stringMatching(message),
      }),
    );
    expect(existsSync(path)).toBe(false);
  });

  it('takes the bounds themselves', async () => {
    const store = storeFromUrl(
      `sqlite:${join(directory, 'bounds.db')}?busyTimeoutMs=${MAX_TIMER_MS}&sweepChunkSize=1`,
    );
    expect(store.db.pragma('busy_timeout', { simple: true })).toBe(MAX_TIMER_MS);
    await store.close();
    const patient = storeFromUrl(`sqlite:${join(directory, 'bounds.db')}?busyTimeoutMs=0`);
    expect(patient.db.pragma('busy_timeout', { simple: true })).toBe(0);
    await patient.close();
  });
});

describe('ways to open it', () => {
  it('opens sqlite: URLs through createStore, relative paths from the working directory', async () => {
    const path = join(directory, 'by-url.db');
    const store = await createStore(
      `sqlite:${relative(process.cwd(), path)}?busyTimeoutMs=1000&synchronous=normal`,
    );
    expect(store).toBeInstanceOf(SqliteSessionStore);
    expect((store as SqliteSessionStore).db.name).toBe(relative(process.cwd(), path));
    expect((store as SqliteSessionStore).db.pragma('synchronous', { simple: true })).toBe(1);
    expect((store as SqliteSessionStore).db.pragma('journal_mode', { simple: true })).toBe('wal');
    await store.close();
    const memory = await createStore('sqlite::memory:');
    expect(memory.capabilities).toEqual({
      durable: false,
      sharedAcrossProcesses: false,
      nativeExpiry: false,
      messaging: true,
    });
    await memory.close();
  });

  it('uses a Database you pass in, and leaves it open on close', async () => {
    const db = new BetterSqlite3(join(directory, 'yours.db'));
    const store: SessionStore = new SqliteSessionStore({ database: db });
    const clock = new ManualClock();
    const manager = new SessionManager({ store, clock });
    const { id } = await manager.createSession({ context: { a: 1 } });
    await store.close();
    expect(db.open).toBe(true);
    expect(
      db.prepare('SELECT COUNT(*) AS n FROM sessions WHERE id = ?').get(manager.storageId(id)),
    ).toEqual({ n: 1 });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    db.close();
  });

  it('sweeps in chunks of sweepChunkSize, up to the limit', async () => {
    const store = new SqliteSessionStore({
      database: join(directory, 'chunks.db'),
      sweepChunkSize: 2,
    });
    const clock = new ManualClock();
    const manager = new SessionManager({ store, clock, idleTimeoutMs: 1_000 });
    for (let i = 0; i < 7; i++) await manager.createSession();
    clock.advance(1_000);
    expect(await store.sweep(clock.now(), { limit: 5 })).toBe(5);
    expect(await store.sweep(clock.now())).toBe(2);
    await store.close();
  });
});

describe('opening only an existing store: mustExist (issue 19: `stats` on a misspelt path created it)', () => {
  it('refuses a missing file and creates nothing, not even the -wal and -shm files', async () => {
    const path = join(directory, `missing-${randomUUID()}.db`);
    const attempts = [
      () => new SqliteSessionStore({ database: path, mustExist: true }),
      () => storeFromUrl(`sqlite:${path}`, { mustExist: true }),
    ];
    for (const attempt of attempts) {
      expect(attempt).toThrow(
        expect.objectContaining({
          code: 'STORE_NOT_FOUND',
          message: expect.stringMatching(/SQLite database ".*" does not exist .*check the path/),
        }),
      );
    }
    await expect(createStore(`sqlite:${path}`, { mustExist: true })).rejects.toMatchObject({
      code: 'STORE_NOT_FOUND',
    });
    for (const suffix of ['', '-wal', '-shm', '-journal']) {
      expect(existsSync(`${path}${suffix}`)).toBe(false);
    }
  });

  it('refuses a SQLite file that holds no store, and adds no tables to it', () => {
    const path = join(directory, `someone-elses-${randomUUID()}.db`);
    const db = new BetterSqlite3(path);
    db.exec('CREATE TABLE notes (body TEXT)');
    db.close();
    expect(() => storeFromUrl(`sqlite:${path}`, { mustExist: true })).toThrow(
      expect.objectContaining({
        code: 'STORE_NOT_FOUND',
        message: expect.stringMatching(/holds no session store/),
      }),
    );
    const after = new BetterSqlite3(path, { readonly: true });
    expect(after.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()).toEqual([
      { name: 'notes' },
    ]);
    expect(after.pragma('user_version', { simple: true })).toBe(0);
    after.close();
    expect(() => new SqliteSessionStore({ database: ':memory:', mustExist: true })).toThrow(
      /holds no session store/,
    );
  });

  it('refuses a store of an older schema version without migrating it', () => {
    const path = join(directory, `older-${randomUUID()}.db`);
    new SqliteSessionStore({ database: path }).close();
    const db = new BetterSqlite3(path);
    db.pragma(`user_version = ${SCHEMA_VERSION - 1}`);
    db.close();
    if (SCHEMA_VERSION - 1 === 0) {
      expect(() => storeFromUrl(`sqlite:${path}`, { mustExist: true })).toThrow(
        /holds no session store/,
      );
    } else {
      expect(() => storeFromUrl(`sqlite:${path}`, { mustExist: true })).toThrow(
        /older than this @mcp-session\/sqlite's/,
      );
    }
    const after = new BetterSqlite3(path, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION - 1);
    after.close();
  });

  it('opens an existing store and works on it, through createStore as through the class', async () => {
    const path = join(directory, `existing-${randomUUID()}.db`);
    const first = new SqliteSessionStore({ database: path });
    const manager = new SessionManager({ store: first });
    const { id } = await manager.createSession({ context: { kept: true } });
    await first.close();
    const store = await createStore(`sqlite:${path}`, { mustExist: true });
    const again = new SessionManager({ store });
    expect(await again.getContext(id, 'kept')).toBe(true);
    expect((await store.stats(Date.now())).total).toBe(1);
    await store.close();
  });
});
