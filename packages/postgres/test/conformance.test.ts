import { fileURLToPath } from 'node:url';
import { runStoreConformance } from '@mcp-session/test-suite';
import { conformanceLocations } from '@mcp-session/test-utils';
import { adminPool, freshPostgresSchema, POSTGRES_URL } from '@mcp-session/test-utils/postgres';
import pg from 'pg';
import { afterAll } from 'vitest';
import { PostgresSessionStore } from '../src/index.js';

const admin = adminPool();
afterAll(() => admin.end());

/**
 * A jsonb column cannot hold text that is not JSON, so damage is a marker value, and the stores of this
 * suite parse jsonb with a parser that refuses it: reading a damaged value fails exactly when it reaches
 * this process, which is what the owner-first case looks for. Every other value parses as pg's default.
 */
const DAMAGED = 'mcp-session-test:damaged-payload';
const JSONB = 3802;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid !== JSONB || format === 'binary') return pg.types.getTypeParser(oid, format);
    return (text: string) => {
      if (text.includes(DAMAGED)) throw new Error('The stored value is damaged and cannot be read');
      return JSON.parse(text) as unknown;
    };
  }) as typeof pg.types.getTypeParser,
};

// Every case gets its own schema, migrated on open and dropped afterwards.
runStoreConformance({
  name: 'postgres',
  ...conformanceLocations(() => {
    const { url, drop } = freshPostgresSchema();
    return { location: url, cleanup: drop };
  }),
  open: (location) =>
    PostgresSessionStore.open({
      connection: { connectionString: POSTGRES_URL, types },
      schema: schemaOf(location),
    }),
  damagePayload: async (location, storageId) => {
    const schema = `"${schemaOf(location)}"`;
    const context = await admin.query(
      `UPDATE ${schema}.mcp_sessions SET context = jsonb_build_object('damaged', $2::text) WHERE id = $1`,
      [storageId, DAMAGED],
    );
    const entries = await admin.query(
      `UPDATE ${schema}.mcp_session_log_entries SET data = to_jsonb($2::text)
       WHERE log_id IN (SELECT log_id FROM ${schema}.mcp_session_logs WHERE session_id = $1)`,
      [storageId, DAMAGED],
    );
    if (!context.rowCount || !entries.rowCount) {
      throw new Error(`Nothing to damage: record ${storageId} has no row or no log entries`);
    }
  },
  childModule: fileURLToPath(new URL('./child-store.ts', import.meta.url)),
});

function schemaOf(location: string): string {
  const schema = new URL(location).searchParams.get('schema');
  if (schema === null) throw new Error(`${location} names no schema`);
  return schema;
}
