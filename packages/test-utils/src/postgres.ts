import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The database the tests use: `POSTGRES_URL`, default the local `test` database (trust auth). */
export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** `POSTGRES_URL` (or `base`) with query parameters added. */
export function postgresUrlWith(params: Record<string, string>, base = POSTGRES_URL): string {
  const separator = base.includes('?') ? '&' : '?';
  return `${base}${separator}${new URLSearchParams(params).toString()}`;
}

/** A schema name no other test (or concurrent run) uses. */
export function freshSchemaName(label = 'mcp_t'): string {
  return `${label}_${randomBytes(8).toString('hex')}`;
}

/** A Postgres store URL on a schema of its own, and the function that drops the schema. */
export interface FreshPostgresSchema {
  schema: string;
  url: string;
  drop(): Promise<void>;
}

/** A store URL on a fresh schema (created by the store's first migration), with `params` added. */
export function freshPostgresSchema(
  params: Record<string, string> = {},
  label?: string,
): FreshPostgresSchema {
  const schema = freshSchemaName(label);
  return {
    schema,
    url: postgresUrlWith({ schema, ...params }),
    drop: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        await dropSchema(client, schema);
      } finally {
        await client.end();
      }
    },
  };
}

/** A small pool for out-of-band checks and clean-up; end it in `afterAll`. */
export function adminPool(): pg.Pool {
  const pool = new pg.Pool({
    connectionString: POSTGRES_URL,
    max: 2,
    application_name: 'mcp-session-tests',
  });
  pool.on('error', () => undefined);
  return pool;
}

/** Drops a test schema and everything in it. */
export async function dropSchema(client: pg.Pool | pg.Client, schema: string): Promise<void> {
  await client.query(`DROP SCHEMA IF EXISTS "${schema.replaceAll('"', '""')}" CASCADE`);
}
