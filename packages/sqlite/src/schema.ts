import type { Database } from 'better-sqlite3';

/**
 * Versioned migrations, applied in order; `PRAGMA user_version` records how many have run. Append new
 * ones at the end, never edit an applied one.
 *
 * Why these tables:
 * - `sessions` holds one row per record; `id` uses SQLite's default BINARY collation, so `ORDER BY id`
 *   is code-unit order, the order list cursors compare in.
 * - `session_context` holds one row per top-level context key, so a key is written by an upsert of its
 *   own row: writers of different keys never touch each other's data.
 * - `session_logs` holds the last seq handed out per (session, log); seqs never rewind when old entries
 *   are trimmed.
 * - `log_entries` is keyed by (session_id, log, seq): appends, trims and "last n" reads are index range
 *   operations whose cost does not depend on the log's length.
 * - `messages` (migration 2) carries the message bus between processes: rows polled by id, pruned by `at`.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'idle', 'suspended', 'closed')),
    metadata TEXT NOT NULL,
    owner TEXT,
    created_at INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,
    expires_at INTEGER,
    version INTEGER NOT NULL,
    message_count INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX sessions_by_expiry ON sessions (expires_at) WHERE expires_at IS NOT NULL;
  CREATE INDEX sessions_by_owner ON sessions (owner, id) WHERE owner IS NOT NULL;
  CREATE INDEX sessions_by_state ON sessions (state, id);

  CREATE TABLE session_context (
    session_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (session_id, key)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE session_logs (
    session_id TEXT NOT NULL,
    log TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (session_id, log)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE log_entries (
    session_id TEXT NOT NULL,
    log TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (session_id, log, seq)
  ) STRICT, WITHOUT ROWID;
  `,
  // The message bus: AUTOINCREMENT so an id is never handed out twice, even after pruning emptied the
  // table (pollers keep a cursor of the last id they read).
  `
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    payload TEXT NOT NULL,
    at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX messages_by_time ON messages (at);
  `,
];

/** Schema version this build of the package writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database to `SCHEMA_VERSION`. Runs inside `BEGIN IMMEDIATE`, so when several processes
 * open a new file at once exactly one migrates and the others wait (busy_timeout) and then find nothing
 * left to do.
 * @throws Error when the file was written by a newer version of this package.
 */
export function migrate(db: Database): void {
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new Error(
        `The database has schema version ${current}, newer than this @mcp-session/sqlite supports (${SCHEMA_VERSION}). Upgrade the package.`,
      );
    }
    for (let version = current; version < SCHEMA_VERSION; version++) {
      db.exec(MIGRATIONS[version] as string);
    }
    if (current < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
