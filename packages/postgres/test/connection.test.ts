import { randomBytes } from 'node:crypto';
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
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PostgresSessionStore, storeFromUrl } from '../src/index.js';

const admin = adminPool();
const cleanups = cleanupAfterEach();

/** A schema name of the test's own, dropped after it. */
function schema(): string {
  const fresh = freshPostgresSchema();
  cleanups.push(fresh.drop);
  return fresh.schema;
}

/** Round-trips one record, proving the store is connected, migrated and writing where it should. */
async function roundTrip(store: PostgresSessionStore | Awaited<ReturnType<typeof createStore>>) {
  const now = Date.now();
  const record = makeRecord(now, { context: { hello: 'world' } });
  await store.create(record, { now });
  expect(await store.get(record.id, { now })).toEqual(record);
  return record;
}

async function backends(applicationName: string): Promise<number> {
  const result = await admin.query<{ count: string }>(
    'SELECT count(*) FROM pg_stat_activity WHERE application_name = $1',
    [applicationName],
  );
  return Number(result.rows[0]?.count);
}

afterAll(() => admin.end());

describe('connection inputs', () => {
  it('a URL: the schema parameter places the tables, and connections are named mcp-session', async () => {
    const name = schema();
    const store = await storeFromUrl(postgresUrlWith({ schema: name }));
    const record = await roundTrip(store);
    const stored = await admin.query(`SELECT id FROM "${name}".mcp_sessions`);
    expect(stored.rows).toEqual([{ id: record.id }]);
    expect(await backends('mcp-session')).toBeGreaterThan(0);
    await store.close();
  });

  it('a URL with application_name keeps that name; close ends every connection of its pool', async () => {
    const applicationName = `mcp-test-${randomBytes(4).toString('hex')}`;
    const store = await storeFromUrl(
      postgresUrlWith({ schema: schema(), application_name: applicationName, poolSize: '3' }),
    );
    await Promise.all([roundTrip(store), roundTrip(store), roundTrip(store)]);
    expect(await backends(applicationName)).toBeGreaterThan(0);
    await store.close();
    // A backend leaves pg_stat_activity a moment after its client said goodbye.
    await vi.waitFor(async () => expect(await backends(applicationName)).toBe(0));
  });

  it('createStore opens postgres:// and postgresql:// URLs through the registry', async () => {
    for (const scheme of ['postgres', 'postgresql']) {
      const url = postgresUrlWith({ schema: schema() }).replace(/^postgres(ql)?:/, `${scheme}:`);
      const store = await createStore(url);
      expect(store).toBeInstanceOf(PostgresSessionStore);
      await roundTrip(store);
      await store.close();
    }
  });

  it('a pg.Pool you own: the store borrows it, and close() leaves it open with its listeners as before', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    const listenersBefore = pool.listenerCount('error');
    const store = new PostgresSessionStore({ connection: pool, schema: schema() });
    await roundTrip(store);
    await store.close();
    expect(pool.listenerCount('error')).toBe(listenersBefore);
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await expect(store.get('any', { now: Date.now() })).rejects.toMatchObject({
      code: 'STORE_CLOSED',
    });
    await pool.end();
  });

  it('a pool config: the store creates its own pool from it and ends it on close', async () => {
    const applicationName = `mcp-test-${randomBytes(4).toString('hex')}`;
    const store = await PostgresSessionStore.open({
      connection: { connectionString: POSTGRES_URL, max: 2, application_name: applicationName },
      schema: schema(),
    });
    await roundTrip(store);
    expect(await backends(applicationName)).toBeGreaterThan(0);
    await store.close();
    // A backend leaves pg_stat_activity a moment after its client said goodbye.
    await vi.waitFor(async () => expect(await backends(applicationName)).toBe(0));
  });

  it('explicit schema and autoMigrate options win over URL parameters', async () => {
    const fromUrl = schema();
    const fromOption = schema();
    const store = await PostgresSessionStore.open({
      connection: postgresUrlWith({ schema: fromUrl, autoMigrate: 'false' }),
      schema: fromOption,
      autoMigrate: true,
    });
    expect(store.schema).toBe(fromOption);
    await roundTrip(store);
    await store.close();
    const created = await admin.query('SELECT nspname FROM pg_namespace WHERE nspname = ANY ($1)', [
      [fromUrl, fromOption],
    ]);
    expect(created.rows).toEqual([{ nspname: fromOption }]);
  });

  it('queries are named prepared statements unless preparedStatements is off', async () => {
    const prepared = async (connection: pg.Pool) => {
      const result = await connection.query<{ count: string }>(
        "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'mcp\\_%'",
      );
      return Number(result.rows[0]?.count);
    };
    for (const [preparedStatements, expected] of [
      [true, (n: number) => expect(n).toBeGreaterThan(0)],
      [false, (n: number) => expect(n).toBe(0)],
    ] as const) {
      // One connection, so the statements the store prepared are visible to the next query on it.
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
      const store = new PostgresSessionStore({
        connection: pool,
        schema: schema(),
        preparedStatements,
      });
      await roundTrip(store);
      await roundTrip(store);
      expected(await prepared(pool));
      await store.close();
      await pool.end();
    }
    const byUrl = await storeFromUrl(
      postgresUrlWith({ schema: schema(), preparedStatements: 'false' }),
    );
    await roundTrip(byUrl);
    await byUrl.close();
  });

  it('the default schema is public, with every table prefixed mcp_session', () => {
    const store = new PostgresSessionStore({ connection: POSTGRES_URL });
    expect(store.schema).toBe('public');
    return store.close();
  });
});

describe('bad options', () => {
  const construct = (options: unknown) => () =>
    new PostgresSessionStore(options as ConstructorParameters<typeof PostgresSessionStore>[0]);

  it('rejects a missing or unusable connection with INVALID_VALUE', () => {
    for (const options of [undefined, null, {}, { connection: 42 }, { connection: null }]) {
      expect(construct(options)).toThrow(expect.objectContaining({ code: 'INVALID_VALUE' }));
    }
  });

  it('rejects bad schema names and a non-boolean autoMigrate, naming the option', () => {
    for (const bad of ['', 'a-b', '1st', 'pg_catalog', 'x'.repeat(64), 'semi;colon', 7]) {
      expect(construct({ connection: POSTGRES_URL, schema: bad })).toThrow(
        expect.objectContaining({
          code: 'INVALID_VALUE',
          message: expect.stringContaining('schema'),
        }),
      );
    }
    for (const name of ['autoMigrate', 'preparedStatements']) {
      expect(construct({ connection: POSTGRES_URL, [name]: 'no' })).toThrow(
        expect.objectContaining({ code: 'INVALID_VALUE', message: expect.stringContaining(name) }),
      );
    }
  });

  it('rejects bad URLs with INVALID_STORE_URL naming the problem, never printing the password', async () => {
    const base = 'postgres://app:secret-password@127.0.0.1:5432/test';
    const cases: [string, RegExp][] = [
      ['mysql://app:secret-password@127.0.0.1/test', /not a Postgres URL/],
      [`${base}?ssl_mode=require`, /Unknown Postgres store option "ssl_mode".*known: schema/],
      [`${base}?schema=has-dash`, /schema must be a schema name/],
      [`${base}?autoMigrate=maybe`, /autoMigrate must be true or false/],
      [`${base}?preparedStatements=0`, /preparedStatements must be true or false/],
      [`${base}?poolSize=0`, /poolSize must be a whole number from 1 to/],
      [`${base}?poolSize=ten`, /poolSize must be a whole number from 1 to/],
      [`${base}?connect_timeout=-1`, /connect_timeout must be a whole number from 1 to/],
      [`${base}?schema=a&schema=b`, /"schema" is given twice/],
      ['postgres://app:secret-password@[::1/test', /not a valid URL/],
    ];
    for (const [url, message] of cases) {
      const error = await storeFromUrl(url).catch((caught: unknown) => caught);
      expect(error, url).toMatchObject({
        code: 'INVALID_STORE_URL',
        message: expect.stringMatching(message),
      });
      expect(String((error as Error).message), url).not.toContain('secret-password');
    }
  });

  it('refuses system schemas, from a URL or an option, before connecting (regression: schema=information_schema was accepted)', async () => {
    const systemSchemas = [
      'information_schema',
      'INFORMATION_SCHEMA',
      'pg_catalog',
      'Pg_Catalog',
      'pg_toast',
      'pg_temp',
      'pg_temp_3',
      'pg_toast_temp_3',
      'pg_anything',
    ];
    // Port 1: nothing listens, so a store that tried to connect would fail with STORE_UNAVAILABLE.
    const unreachable = 'postgres://app:secret-password@127.0.0.1:1/test';
    for (const name of systemSchemas) {
      const fromUrl = await storeFromUrl(`${unreachable}?schema=${name}`).catch(
        (caught: unknown) => caught,
      );
      expect(fromUrl, name).toMatchObject({
        code: 'INVALID_STORE_URL',
        message: expect.stringContaining('not a system schema'),
      });
      expect(String((fromUrl as Error).message)).not.toContain('secret-password');
      const fromOption = await PostgresSessionStore.open({
        connection: unreachable,
        schema: name,
      }).catch((caught: unknown) => caught);
      expect(fromOption, name).toMatchObject({
        code: 'INVALID_VALUE',
        message: expect.stringContaining('not a system schema'),
      });
    }
    // Names that merely contain a system name are plain schemas.
    for (const name of ['information_schema2', 'my_pg_catalog', 'pgx', '_pg_']) {
      expect(construct({ connection: POSTGRES_URL, schema: name }), name).not.toThrow();
    }
  });

  it('reads query_timeout (a pg timer), the server-side durations and port as decimal only (regression: pg read 0x10 as 0, 1e3 as 1 and 5s as 5)', async () => {
    const base = 'postgres://app:secret-password@127.0.0.1:1/test';
    for (const value of ['0x10', '1e3', '-1', '2.5', '2147483648']) {
      const error = await storeFromUrl(`${base}?query_timeout=${value}`).catch(
        (caught: unknown) => caught,
      );
      expect(error, value).toMatchObject({
        code: 'INVALID_STORE_URL',
        message: expect.stringContaining(
          'query_timeout must be a whole number from 0 to 2147483647',
        ),
      });
    }
    for (const value of ['0x10', '1e3', '0', '65536', '54 32']) {
      const error = await storeFromUrl(`${base}?port=${encodeURIComponent(value)}`).catch(
        (caught: unknown) => caught,
      );
      expect(error, value).toMatchObject({
        code: 'INVALID_STORE_URL',
        message: expect.stringContaining('port must be a whole number from 1 to 65535'),
      });
    }
    for (const name of [
      'statement_timeout',
      'lock_timeout',
      'idle_in_transaction_session_timeout',
    ]) {
      for (const value of ['0x10', '1e3', '-1', '5s', '2147483648', 'soon']) {
        const error = await storeFromUrl(`${base}?${name}=${encodeURIComponent(value)}`).catch(
          (caught: unknown) => caught,
        );
        expect(error, `${name}=${value}`).toMatchObject({
          code: 'INVALID_STORE_URL',
          message: expect.stringContaining(`${name} must be a whole number of milliseconds`),
        });
        expect(String((error as Error).message)).not.toContain('secret-password');
      }
    }
    const store = await storeFromUrl(
      postgresUrlWith({
        schema: schema(),
        query_timeout: '2147483647',
        statement_timeout: '5000',
        lock_timeout: '2000',
      }),
    );
    try {
      expect(await store.stats(Date.now())).toMatchObject({ total: 0 });
    } finally {
      await store.close();
    }
  });

  it('reads poolSize and connect_timeout as decimal whole numbers only, naming the parameter', async () => {
    const base = 'postgres://app:secret-password@127.0.0.1:5432/test';
    for (const [name, value] of [
      ['poolSize', '0x10'],
      ['poolSize', '1e3'],
      ['poolSize', '-1'],
      ['poolSize', '2.5'],
      ['poolSize', ''],
      ['connect_timeout', '0x10'],
      ['connect_timeout', '1e3'],
      ['connect_timeout', '0'],
      // Beyond what a Node timer can wait, in seconds.
      ['connect_timeout', '2147484'],
    ]) {
      const url = `${base}?${name}=${value}`;
      const error = await storeFromUrl(url).catch((caught: unknown) => caught);
      expect(error, url).toMatchObject({
        code: 'INVALID_STORE_URL',
        message: expect.stringContaining(`${name} must be a whole number from 1 to`),
      });
      expect(String((error as Error).message), url).not.toContain('secret-password');
    }
    const largest = new PostgresSessionStore({
      connection: postgresUrlWith({ poolSize: '16', connect_timeout: '2147483' }),
    });
    await largest.close();
  });

  // The message of a repeated parameter used to show the URL with a ?password= value in it.
  it("refuses a parameter given twice, the store's own or the driver's, never printing a ?password= either", async () => {
    const base = 'postgres://app:secret-password@127.0.0.1:5432/test';
    for (const query of [
      'poolSize=2&poolSize=2',
      'autoMigrate=true&autoMigrate=false',
      'sslmode=disable&sslmode=require',
      'password=secret-password&password=secret-password',
    ]) {
      const url = `${base}?${query}`;
      const error = await storeFromUrl(url).catch((caught: unknown) => caught);
      const name = query.slice(0, query.indexOf('='));
      expect(error, url).toMatchObject({
        code: 'INVALID_STORE_URL',
        message: expect.stringContaining(`"${name}" is given twice`),
      });
      expect(String((error as Error).message), url).not.toContain('secret-password');
    }
  });
});
