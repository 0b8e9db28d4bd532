import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The database the tests use (trust auth on loopback in CI). */
export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A schema name no other test (or process) uses. */
export function freshSchema(): string {
  return `mcp_t_${randomBytes(8).toString('hex')}`;
}

/** `POSTGRES_URL` with query parameters added. */
export function urlWith(params: Record<string, string>): string {
  const separator = POSTGRES_URL.includes('?') ? '&' : '?';
  return `${POSTGRES_URL}${separator}${new URLSearchParams(params).toString()}`;
}

/** A pool for out-of-band checks and clean-up; end it in afterAll. */
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
export async function dropSchema(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}
