import { StoreNotFoundError, StoreUnavailableError, toStoreError } from '@mcp-session/core/adapter';
import type { Pool, PoolClient, PoolConfig } from 'pg';
import { checkSchemaName, quoteIdentifier, resolveConnection } from './options.js';

/** One step of the schema, applied once per schema, in version order, inside one transaction. */
interface Migration {
  version: number;
  name: string;
  /** SQL for a schema name that is already quoted. */
  sql(schema: string): string;
}

/**
 * Every table, index and function of the store. Appends and creates are plpgsql functions because each
 * statement inside a VOLATILE function takes a fresh snapshot: after the session row is locked, the trim
 * sees entries that concurrent appends committed a moment ago. A single CTE statement cannot, since all
 * its parts share the snapshot taken before it waited for the lock.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions, logs, log entries, append and create functions',
    sql: (s) => `
CREATE TABLE ${s}.mcp_sessions (
  id               text COLLATE "C" PRIMARY KEY,
  state            text NOT NULL CHECK (state IN ('active', 'idle', 'suspended', 'closed')),
  context          jsonb NOT NULL,
  metadata         jsonb NOT NULL,
  owner            text COLLATE "C",
  created_at       bigint NOT NULL,
  last_activity_at bigint NOT NULL,
  expires_at       bigint,
  version          bigint NOT NULL,
  message_count    bigint NOT NULL
) WITH (fillfactor = 80);
CREATE INDEX mcp_sessions_expires_at ON ${s}.mcp_sessions (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX mcp_sessions_owner ON ${s}.mcp_sessions (owner, id) WHERE owner IS NOT NULL;
CREATE INDEX mcp_sessions_state ON ${s}.mcp_sessions (state, id);

CREATE TABLE ${s}.mcp_session_logs (
  log_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  session_id text COLLATE "C" NOT NULL REFERENCES ${s}.mcp_sessions (id) ON DELETE CASCADE,
  log        text COLLATE "C" NOT NULL,
  last_seq   bigint NOT NULL,
  first_seq  bigint NOT NULL,
  retained   bigint NOT NULL,
  UNIQUE (session_id, log)
) WITH (fillfactor = 80);

CREATE TABLE ${s}.mcp_session_log_entries (
  log_id bigint NOT NULL REFERENCES ${s}.mcp_session_logs (log_id) ON DELETE CASCADE,
  seq    bigint NOT NULL,
  at     bigint NOT NULL,
  data   jsonb NOT NULL,
  PRIMARY KEY (log_id, seq)
);

CREATE FUNCTION ${s}.mcp_session_json_bytes(p_doc jsonb, p_max bigint)
RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  v_text text := p_doc::text;
  v_bytes bigint := octet_length(v_text);
  v_separators bigint;
BEGIN
  -- The size of p_doc as compact JSON (JSON.stringify), exact wherever it decides "<= p_max". jsonb
  -- prints ", " and ": " where compact JSON has "," and ":", so its text is an upper bound ...
  IF v_bytes <= p_max THEN
    RETURN v_bytes;
  END IF;
  -- ... and the text without every ", " and ": " (some may sit inside strings) a lower bound.
  v_separators := length(v_text) - length(replace(replace(v_text, ', ', ','), ': ', ':'));
  IF v_bytes - v_separators > p_max THEN
    RETURN v_bytes - v_separators;
  END IF;
  -- Close to the limit: count only the separators outside string literals.
  v_text := regexp_replace(v_text, '"(?:[^"\\\\]|\\\\.)*"', '', 'g');
  RETURN v_bytes - (length(v_text) - length(replace(replace(v_text, ', ', ','), ': ', ':')));
END
$fn$;

CREATE FUNCTION ${s}.mcp_session_create(
  p_id text, p_state text, p_context jsonb, p_metadata jsonb, p_owner text, p_created_at bigint,
  p_last_activity_at bigint, p_expires_at bigint, p_version bigint, p_message_count bigint,
  p_now bigint, p_logs jsonb
) RETURNS boolean LANGUAGE plpgsql AS $fn$
BEGIN
  -- An expired record with this id is replaced; its logs go with it (ON DELETE CASCADE).
  DELETE FROM ${s}.mcp_sessions WHERE id = p_id AND expires_at <= p_now;
  INSERT INTO ${s}.mcp_sessions (id, state, context, metadata, owner, created_at, last_activity_at,
    expires_at, version, message_count)
  VALUES (p_id, p_state, p_context, p_metadata, p_owner, p_created_at, p_last_activity_at,
    p_expires_at, p_version, p_message_count)
  ON CONFLICT (id) DO NOTHING;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  INSERT INTO ${s}.mcp_session_logs (session_id, log, last_seq, first_seq, retained)
  SELECT p_id, l.key, (l.value -> -1 ->> 'seq')::bigint, (l.value -> 0 ->> 'seq')::bigint,
    jsonb_array_length(l.value)
  FROM jsonb_each(p_logs) AS l
  WHERE jsonb_array_length(l.value) > 0;
  INSERT INTO ${s}.mcp_session_log_entries (log_id, seq, at, data)
  SELECT g.log_id, (e.value ->> 'seq')::bigint, (e.value ->> 'at')::bigint, e.value -> 'data'
  FROM ${s}.mcp_session_logs AS g
  JOIN jsonb_each(p_logs) AS l ON l.key = g.log
  CROSS JOIN LATERAL jsonb_array_elements(l.value) AS e
  WHERE g.session_id = p_id;
  RETURN true;
END
$fn$;

CREATE FUNCTION ${s}.mcp_session_append(
  p_id text, p_log text, p_now bigint, p_entries jsonb, p_count bigint, p_cap bigint,
  p_count_messages boolean, p_touch boolean, p_touch_at bigint, p_idle_ms bigint,
  p_lifetime_ms bigint, p_check_owner boolean, p_owner text, p_expected_version bigint,
  p_expected_states text[],
  OUT o_applied boolean, OUT o_version bigint, OUT o_state text, OUT o_owner text,
  OUT o_expires_at bigint, OUT o_message_count bigint, OUT o_first_seq bigint, OUT o_last_seq bigint
) LANGUAGE plpgsql AS $fn$
DECLARE
  v_kept integer := jsonb_array_length(p_entries);
  v_log_id bigint;
  v_last bigint;
  v_first bigint;
  v_retained bigint;
  v_cutoff bigint;
BEGIN
  o_applied := false;
  -- The session row lock serializes every writer of this session and its logs, in all processes.
  SELECT s.version, s.state, s.owner, s.expires_at
  INTO o_version, o_state, o_owner, o_expires_at
  FROM ${s}.mcp_sessions AS s
  WHERE s.id = p_id
  FOR NO KEY UPDATE;
  IF NOT FOUND
    OR NOT ((o_expires_at IS NULL OR o_expires_at > p_now)
      AND (NOT p_check_owner OR o_owner IS NULL OR o_owner IS NOT DISTINCT FROM p_owner)
      AND (p_expected_version IS NULL OR o_version = p_expected_version)
      AND (p_expected_states IS NULL OR o_state = ANY (p_expected_states))) THEN
    RETURN;
  END IF;

  UPDATE ${s}.mcp_sessions AS s SET
    version = s.version + 1,
    message_count = s.message_count + CASE WHEN p_count_messages THEN p_count ELSE 0 END,
    last_activity_at = CASE WHEN p_touch THEN p_touch_at ELSE s.last_activity_at END,
    expires_at = CASE WHEN p_touch
      THEN LEAST(p_touch_at + p_idle_ms, s.created_at + p_lifetime_ms) ELSE s.expires_at END
  WHERE s.id = p_id
  RETURNING s.version, s.expires_at, s.message_count INTO o_version, o_expires_at, o_message_count;

  SELECT g.log_id, g.last_seq, g.first_seq, g.retained INTO v_log_id, v_last, v_first, v_retained
  FROM ${s}.mcp_session_logs AS g
  WHERE g.session_id = p_id AND g.log = p_log;
  IF NOT FOUND THEN
    INSERT INTO ${s}.mcp_session_logs (session_id, log, last_seq, first_seq, retained)
    VALUES (p_id, p_log, 0, 1, 0)
    RETURNING log_id, last_seq, first_seq, retained INTO v_log_id, v_last, v_first, v_retained;
  END IF;

  o_first_seq := v_last + 1;
  o_last_seq := v_last + p_count;
  -- p_entries holds only the newest min(count, cap) entries: older ones of the batch would be trimmed.
  INSERT INTO ${s}.mcp_session_log_entries (log_id, seq, at, data)
  SELECT v_log_id, o_last_seq - v_kept + e.ordinality, p_now, e.value
  FROM jsonb_array_elements(p_entries) WITH ORDINALITY AS e;
  v_retained := v_retained + v_kept;

  IF p_cap IS NOT NULL AND v_retained > p_cap THEN
    -- Counting from first_seq walks only the entries that go, never the log's history (imported logs
    -- may have gaps in their seqs, so the cut is found in the index rather than computed).
    SELECT x.seq INTO v_cutoff
    FROM ${s}.mcp_session_log_entries AS x
    WHERE x.log_id = v_log_id AND x.seq >= v_first
    ORDER BY x.seq
    OFFSET v_retained - p_cap LIMIT 1;
    DELETE FROM ${s}.mcp_session_log_entries AS x
    WHERE x.log_id = v_log_id AND x.seq >= v_first AND x.seq < v_cutoff;
    v_first := v_cutoff;
    v_retained := p_cap;
  END IF;

  UPDATE ${s}.mcp_session_logs
  SET last_seq = o_last_seq, first_seq = v_first, retained = v_retained
  WHERE log_id = v_log_id;
  o_applied := true;
END
$fn$;
`,
  },
  {
    version: 2,
    name: 'messages too large for NOTIFY',
    // The message bus sends payloads over NOTIFY's 8000-byte limit through this table, the notification
    // carrying the row id; rows older than the retention are pruned by publishers.
    sql: (s) => `
CREATE TABLE ${s}.mcp_session_messages (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  channel    text COLLATE "C" NOT NULL,
  payload    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mcp_session_messages_created_at ON ${s}.mcp_session_messages (created_at);
`,
  },
];

/** The schema version this package works with. */
export const SCHEMA_VERSION: number = MIGRATIONS.at(-1)?.version ?? 0;

/** Options of `migrate`. */
export interface MigrateOptions {
  /** Schema to migrate (created if missing). Default: the URL's `schema` parameter, else `public`. */
  schema?: string;
}

/** What `migrate` did. */
export interface MigrationResult {
  /** The schema that was migrated. */
  schema: string;
  /** Versions applied by this call, in order; empty when the schema was already up to date. */
  applied: number[];
  /** The schema's version afterwards. */
  version: number;
}

/** First key of the advisory lock that serializes migrations; the second is a hash of the schema name. */
const MIGRATION_LOCK_NAMESPACE = 0x6d637073;

/**
 * Brings a schema up to date: creates it if missing and applies pending migrations, each recorded in
 * `<schema>.mcp_session_migrations`. Safe to run from many processes at once: they queue on a
 * transaction-scoped advisory lock, so every migration runs exactly once. Call it from CI or a deploy
 * step and open stores with `autoMigrate: false`, or let stores call it on first use.
 *
 * @param connection A `postgres://` URL, a `pg.Pool` (left open) or a pool config.
 * @throws StoreUnavailableError when Postgres cannot be reached or a migration fails (nothing of that
 *   migration is applied).
 */
export async function migrate(
  connection: string | Pool | PoolConfig,
  options: MigrateOptions = {},
): Promise<MigrationResult> {
  const resolved = resolveConnection({ connection, ...options }, 'migrate');
  try {
    return await runMigrations(resolved.pool, resolved.schema);
  } finally {
    if (resolved.ownsPool) await resolved.pool.end().catch(() => undefined);
  }
}

/** Applies pending migrations to `schema` under the advisory lock. */
export async function runMigrations(pool: Pool, schema: string): Promise<MigrationResult> {
  checkSchemaName(schema);
  const quoted = quoteIdentifier(schema);
  const what = `Postgres migration of schema "${schema}"`;
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toStoreError(error, what);
  }
  // A checked-out client has no error listener; a dropped connection must not crash the process.
  const ignore = (): void => undefined;
  client.on('error', ignore);
  let failure: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
      MIGRATION_LOCK_NAMESPACE,
      schema,
    ]);
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    // Checked first: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when it exists.
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${quoted}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quoted}.mcp_session_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`,
    );
    const done = await client.query<{ version: number }>(
      `SELECT version FROM ${quoted}.mcp_session_migrations`,
    );
    const applied = new Set(done.rows.map((row) => row.version));
    const pending = MIGRATIONS.filter((migration) => !applied.has(migration.version));
    for (const migration of pending) {
      await client.query(migration.sql(quoted));
      await client.query(
        `INSERT INTO ${quoted}.mcp_session_migrations (version, name) VALUES ($1, $2)`,
        [migration.version, migration.name],
      );
    }
    await client.query('COMMIT');
    return {
      schema,
      applied: pending.map((migration) => migration.version),
      version: Math.max(0, ...applied, ...pending.map((migration) => migration.version)),
    };
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    await client.query('ROLLBACK').catch(() => undefined);
    throw toStoreError(error, what);
  } finally {
    client.off('error', ignore);
    // A client whose transaction failed is discarded rather than reused in an unknown state.
    client.release(failure);
  }
}

/**
 * The schema's applied version, 0 when it has none (or does not exist). A driver failure is thrown as
 * is, for the primitive that needed the answer to report.
 */
export async function schemaVersion(pool: Pool, schema: string): Promise<number> {
  try {
    const result = await pool.query<{ version: number | null }>(
      `SELECT max(version) AS version FROM ${quoteIdentifier(schema)}.mcp_session_migrations`,
    );
    return result.rows[0]?.version ?? 0;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // undefined_table / invalid_schema_name: nothing was migrated yet.
    if (code === '42P01' || code === '3F000') return 0;
    throw error;
  }
}

/**
 * The error a store with `autoMigrate: false` gives on a schema that is behind; with `mustExist`, one that
 * says a missing store may be a misspelt schema name.
 */
export function notMigratedError(
  schema: string,
  version: number,
  mustExist = false,
): StoreUnavailableError | StoreNotFoundError {
  if (mustExist && version === 0) {
    return new StoreNotFoundError(
      `Postgres schema "${schema}" does not exist or holds no session store (no migrations of @mcp-session/postgres); check the schema name (the URL's schema parameter, default public). Nothing was created.`,
    );
  }
  if (mustExist) {
    return new StoreUnavailableError(
      `Postgres schema "${schema}" is at migration ${version}, this store needs ${SCHEMA_VERSION}; run migrate() from @mcp-session/postgres (or open the store once without mustExist) to upgrade it. Nothing was changed.`,
    );
  }
  return new StoreUnavailableError(
    `Postgres schema "${schema}" is at migration ${version}, this store needs ${SCHEMA_VERSION}. ` +
      'Run migrate() from @mcp-session/postgres, or open the store with autoMigrate: true.',
  );
}
