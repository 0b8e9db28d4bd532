import { createStore } from '@mcp-session/core';
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
import { migrate, PostgresSessionStore, SCHEMA_VERSION, storeFromUrl } from '../src/index.js';

const admin = adminPool();
const cleanups = cleanupAfterEach();

/** A schema name of the test's own, dropped after it. */
function schema(): string {
  const fresh = freshPostgresSchema();
  cleanups.push(fresh.drop);
  return fresh.schema;
}

function pool(max = 1): pg.Pool {
  const created = new pg.Pool({ connectionString: POSTGRES_URL, max });
  cleanups.push(() => created.end());
  return created;
}

async function appliedVersions(name: string): Promise<number[]> {
  const result = await admin.query<{ version: number }>(
    `SELECT version FROM "${name}".mcp_session_migrations ORDER BY version`,
  );
  return result.rows.map((row) => row.version);
}

async function schemaExists(name: string): Promise<boolean> {
  const result = await admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [name]);
  return result.rowCount === 1;
}

afterAll(() => admin.end());

const allVersions = Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1);

describe('migrations', () => {
  it('ten concurrent migrate() calls on separate pools migrate a fresh schema exactly once', async () => {
    const name = schema();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => migrate(pool(), { schema: name })),
    );
    // Without the advisory lock, racing CREATE SCHEMA / CREATE TABLE calls fail or apply twice.
    expect(results.filter((r) => r.applied.length > 0)).toEqual([
      { schema: name, applied: allVersions, version: SCHEMA_VERSION },
    ]);
    for (const result of results) expect(result.version).toBe(SCHEMA_VERSION);
    expect(await appliedVersions(name)).toEqual(allVersions);
  });

  it('ten stores opening at once on a fresh schema all work, and the schema is migrated once', async () => {
    const name = schema();
    const stores = await Promise.all(
      Array.from({ length: 10 }, () =>
        PostgresSessionStore.open({ connection: postgresUrlWith({ schema: name, poolSize: '1' }) }),
      ),
    );
    try {
      const now = Date.now();
      await Promise.all(stores.map((store) => store.create(makeRecord(now), { now })));
      expect((await stores[0]?.stats(now))?.total).toBe(10);
      expect(await appliedVersions(name)).toEqual(allVersions);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('autoMigrate: false refuses an unmigrated schema until migrate() runs, then the same store works', async () => {
    const name = schema();
    const url = postgresUrlWith({ schema: name, autoMigrate: 'false' });
    const store = new PostgresSessionStore({ connection: url });
    try {
      const now = Date.now();
      const refused = await store.get('some-id', { now }).catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect(String(refused)).toMatch(/is at migration 0, this store needs \d+.*migrate\(\)/);
      expect(await schemaExists(name)).toBe(false);

      expect(await migrate(url)).toEqual({
        schema: name,
        applied: allVersions,
        version: SCHEMA_VERSION,
      });
      expect(await migrate(url)).toEqual({ schema: name, applied: [], version: SCHEMA_VERSION });
      const record = makeRecord(now);
      await store.create(record, { now });
      expect(await store.get(record.id, { now })).toEqual(record);
    } finally {
      await store.close();
    }
  });

  it('PostgresSessionStore.open with autoMigrate: false fails at start-up on an unmigrated schema', async () => {
    const name = schema();
    await expect(
      PostgresSessionStore.open({ connection: POSTGRES_URL, schema: name, autoMigrate: false }),
    ).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(await schemaExists(name)).toBe(false);
  });

  it('migrate accepts a URL, a pool (left open) or a pool config; an explicit schema beats the URL', async () => {
    const fromUrl = schema();
    const fromOption = schema();
    expect((await migrate(postgresUrlWith({ schema: fromUrl }))).applied).toEqual(allVersions);
    expect(
      (await migrate(postgresUrlWith({ schema: fromUrl }), { schema: fromOption })).schema,
    ).toBe(fromOption);
    expect(await appliedVersions(fromOption)).toEqual(allVersions);

    const ownPool = pool();
    const fromPool = schema();
    expect((await migrate(ownPool, { schema: fromPool })).applied).toEqual(allVersions);
    expect((await ownPool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);

    const fromConfig = schema();
    const result = await migrate({ connectionString: POSTGRES_URL }, { schema: fromConfig });
    expect(result.applied).toEqual(allVersions);
  });

  it('a failing migration applies nothing: not its tables, not its version row', async () => {
    const name = schema();
    await admin.query(`CREATE SCHEMA "${name}"`);
    // A table in the way makes migration 1 fail halfway through.
    await admin.query(`CREATE TABLE "${name}".mcp_session_logs (unrelated integer)`);
    await expect(migrate(POSTGRES_URL, { schema: name })).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringMatching(/migration of schema .* failed.*mcp_session_logs/),
    });
    const tables = await admin.query<{ tablename: string }>(
      'SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename',
      [name],
    );
    expect(tables.rows.map((row) => row.tablename)).toEqual(['mcp_session_logs']);
  });

  it('creates the indexes listing, sweeping and owner lookups rely on, and byte-ordered ids', async () => {
    const name = schema();
    await migrate(POSTGRES_URL, { schema: name });
    const indexes = await admin.query<{ indexname: string; indexdef: string }>(
      'SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname',
      [name],
    );
    const definitions = Object.fromEntries(indexes.rows.map((r) => [r.indexname, r.indexdef]));
    expect(definitions.mcp_sessions_expires_at).toMatch(
      /\(expires_at\) WHERE \(expires_at IS NOT NULL\)/,
    );
    expect(definitions.mcp_sessions_owner).toMatch(/\(owner, id\)/);
    expect(definitions.mcp_sessions_state).toMatch(/\(state, id\)/);
    expect(definitions.mcp_session_log_entries_pkey).toMatch(/\(log_id, seq\)/);
    const collation = await admin.query<{ collation: string }>(
      `SELECT collation_name AS collation FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = 'mcp_sessions' AND column_name = 'id'`,
      [name],
    );
    expect(collation.rows).toEqual([{ collation: 'C' }]);
  });

  it('rejects schema names that are not plain identifiers before connecting', async () => {
    for (const bad of [
      '',
      '1abc',
      'a-b',
      'x"; DROP SCHEMA public; --',
      'pg_mine',
      'a'.repeat(64),
    ]) {
      await expect(migrate(POSTGRES_URL, { schema: bad })).rejects.toMatchObject({
        code: 'INVALID_VALUE',
        message: expect.stringContaining('schema'),
      });
    }
  });
});

describe('opening only an existing store: mustExist (issue 19: `stats` on a misspelt schema created it)', () => {
  it('refuses a missing schema and creates neither it nor any table, whatever autoMigrate says', async () => {
    const name = schema();
    for (const attempt of [
      () => storeFromUrl(postgresUrlWith({ schema: name }), { mustExist: true }),
      () =>
        createStore(postgresUrlWith({ schema: name, autoMigrate: 'true' }), { mustExist: true }),
      () => PostgresSessionStore.open({ connection: POSTGRES_URL, schema: name, mustExist: true }),
    ]) {
      await expect(attempt()).rejects.toMatchObject({
        code: 'STORE_NOT_FOUND',
        message: expect.stringMatching(
          new RegExp(
            `schema "${name}" does not exist or holds no session store.*check the schema name`,
          ),
        ),
      });
    }
    expect(await schemaExists(name)).toBe(false);
  });

  it('refuses a schema that exists without the store, adding nothing to it', async () => {
    const name = schema();
    await admin.query(`CREATE SCHEMA "${name}"`);
    await expect(
      storeFromUrl(postgresUrlWith({ schema: name }), { mustExist: true }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/holds no session store/) });
    const tables = await admin.query('SELECT 1 FROM pg_tables WHERE schemaname = $1', [name]);
    expect(tables.rowCount).toBe(0);
  });

  it('refuses a schema behind the current migration without migrating it', async () => {
    const name = schema();
    await migrate(POSTGRES_URL, { schema: name });
    await admin.query(`DELETE FROM "${name}".mcp_session_migrations WHERE version = $1`, [
      SCHEMA_VERSION,
    ]);
    const refused = await storeFromUrl(postgresUrlWith({ schema: name }), {
      mustExist: true,
    }).catch((error: unknown) => error);
    expect(String(refused)).toMatch(
      SCHEMA_VERSION === 1
        ? /holds no session store/
        : new RegExp(`is at migration ${SCHEMA_VERSION - 1}, this store needs ${SCHEMA_VERSION}`),
    );
    expect(await appliedVersions(name)).toEqual(allVersions.slice(0, -1));
  });

  it('opens a migrated schema and works on it', async () => {
    const name = schema();
    await migrate(POSTGRES_URL, { schema: name });
    const store = await createStore(postgresUrlWith({ schema: name }), { mustExist: true });
    try {
      const now = Date.now();
      const record = makeRecord(now);
      await store.create(record, { now });
      expect(await store.get(record.id, { now })).toEqual(record);
    } finally {
      await store.close();
    }
  });
});
