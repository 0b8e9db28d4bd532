import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  type AppendOptions,
  type AppendResult,
  assertPositiveInteger,
  BaseSessionStore,
  type CountOptions,
  type CreateOptions,
  checkGuards,
  decodeListCursor,
  emptyStats,
  encodeListCursor,
  InvalidValueError,
  type JsonObject,
  type JsonValue,
  type ListOptions,
  type ListPage,
  type LogEntry,
  MAX_TIMER_MS,
  PayloadTooLargeError,
  parsePathUrl,
  type ReadOptions,
  type RecordGuards,
  type ReplaceEntriesOptions,
  type ReplaceEntriesResult,
  type ReplacementEntry,
  readUrlOptions,
  type SessionChange,
  SessionExistsError,
  type SessionRecord,
  type SessionState,
  type StoreCapabilities,
  StoreClosedError,
  StoreNotFoundError,
  type StoreOpenOptions,
  type StoreStats,
  StoreUnavailableError,
  slidingExpiry,
  toStoreError,
  type UpdateOptions,
} from '@mcp-session/core/adapter';
import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import { migrate, SCHEMA_VERSION } from './schema.js';
import {
  DEFAULT_MESSAGE_POLL_INTERVAL_MS,
  DEFAULT_MESSAGE_RETENTION_MS,
  SqliteMessageBus,
} from './sqlite-bus.js';

/** Options of `SqliteSessionStore`. */
export interface SqliteSessionStoreOptions {
  /**
   * A file path (its directory must exist), `':memory:'`, or an open better-sqlite3 `Database`. A database
   * you pass in is configured and migrated but not closed by `close()`: it is yours.
   */
  database: string | Database;
  /**
   * How long a write waits for another process's write lock before failing with
   * `StoreUnavailableError`, in milliseconds, from 0 to `MAX_TIMER_MS`. Default 5000. The wait blocks this process's event loop
   * (better-sqlite3 is synchronous), so keep it short.
   */
  busyTimeoutMs?: number;
  /**
   * `full` (default): every acknowledged write is fsynced, so it survives a power loss.
   * `normal`: faster; acknowledged writes survive a crash of the process but the last ones may be lost on
   * a power loss or OS crash (SQLite's WAL + synchronous=NORMAL).
   */
  synchronous?: 'full' | 'normal';
  /** Expired sessions deleted per transaction by `sweep`, so a big sweep never holds the write lock long. Default 200. */
  sweepChunkSize?: number;
  /**
   * Open an existing store only: the file must exist and hold this package's tables at its schema
   * version. Nothing is created or migrated; otherwise `StoreUnavailableError` says what is missing.
   * Default false (the file and its tables are created, older schemas migrated).
   */
  mustExist?: boolean;
  /**
   * How often a process with message subscriptions polls the `messages` table, in milliseconds, from 1
   * to `MAX_TIMER_MS`: the bus's latency bound. Default 50. The timer runs only while something is
   * subscribed, unref'd.
   */
  messagePollIntervalMs?: number;
  /**
   * How long a published message stays in the `messages` table, in milliseconds, from 1 to
   * `MAX_TIMER_MS`: a subscriber whose process stalls longer misses it. Default 60 000.
   */
  messageRetentionMs?: number;
}

interface SessionRow {
  id: string;
  state: SessionState;
  metadata: string;
  owner: string | null;
  created_at: number;
  last_activity_at: number;
  expires_at: number | null;
  version: number;
  message_count: number;
  context: string;
}

interface GuardRow {
  state: SessionState;
  owner: string | null;
  version: number;
  created_at: number;
  expires_at: number | null;
  message_count: number;
}

interface EntryRow {
  seq: number;
  at: number;
  data: string;
}

const RECORD_COLUMNS = `s.id, s.state, s.metadata, s.owner, s.created_at, s.last_activity_at, s.expires_at,
  s.version, s.message_count,
  (SELECT json_group_object(c.key, json(c.value)) FROM session_context c WHERE c.session_id = s.id) AS context`;

const LIVE = '(s.expires_at IS NULL OR s.expires_at > @now)';
/** `@states` is a JSON array of states, or null for every state. */
const IN_STATES = '(@states IS NULL OR s.state IN (SELECT value FROM json_each(@states)))';

/**
 * Sessions in a SQLite database through better-sqlite3: the embedded default. WAL mode, prepared
 * statements, versioned migrations; every primitive is one transaction (`BEGIN IMMEDIATE` for writes), so
 * it is atomic within and across processes sharing the file.
 */
export class SqliteSessionStore extends BaseSessionStore {
  readonly capabilities: StoreCapabilities;
  /** The underlying database, for backups (`db.backup(path)`) and inspection. */
  readonly db: Database;
  /** Live messages between the processes on this file: a polled table (see `SqliteMessageBus`). */
  readonly messages: SqliteMessageBus;
  protected readonly backend = 'SQLite';

  readonly #ownsDatabase: boolean;
  readonly #sweepChunkSize: number;
  readonly #sql: ReturnType<typeof prepareStatements>;
  readonly #listStatements = new Map<string, Statement>();
  #transaction!: BetterSqlite3.Transaction<(body: () => unknown) => unknown>;

  constructor(options: SqliteSessionStoreOptions) {
    super();
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (
      !(Number.isSafeInteger(busyTimeoutMs) && busyTimeoutMs >= 0 && busyTimeoutMs <= MAX_TIMER_MS)
    ) {
      throw new InvalidValueError(
        `busyTimeoutMs must be a whole number of milliseconds from 0 to ${MAX_TIMER_MS}, got ${busyTimeoutMs}`,
      );
    }
    const synchronous = options.synchronous ?? 'full';
    if (synchronous !== 'full' && synchronous !== 'normal') {
      throw new InvalidValueError(
        `synchronous must be "full" or "normal", got ${JSON.stringify(synchronous)}`,
      );
    }
    const messageOptions = {
      pollIntervalMs: timerOption(
        options.messagePollIntervalMs,
        DEFAULT_MESSAGE_POLL_INTERVAL_MS,
        'messagePollIntervalMs',
      ),
      retentionMs: timerOption(
        options.messageRetentionMs,
        DEFAULT_MESSAGE_RETENTION_MS,
        'messageRetentionMs',
      ),
    };
    this.#sweepChunkSize = options.sweepChunkSize ?? 200;
    assertPositiveInteger(this.#sweepChunkSize, 'sweepChunkSize');
    const mustExist = options.mustExist === true;
    this.#ownsDatabase = typeof options.database === 'string';
    this.db =
      typeof options.database === 'string'
        ? openDatabase(options.database, busyTimeoutMs, mustExist)
        : options.database;
    try {
      this.db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      if (mustExist) checkSchema(this.db);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${synchronous}`);
      migrate(this.db);
      this.#sql = prepareStatements(this.db);
      this.#transaction = this.db.transaction((body: () => unknown) => body());
    } catch (error) {
      if (this.#ownsDatabase) this.db.close();
      throw describeOpenError(error, this.db.name);
    }
    const onDisk = !this.db.memory;
    this.capabilities = Object.freeze({
      durable: onDisk,
      sharedAcrossProcesses: onDisk,
      nativeExpiry: false,
      messaging: true,
    });
    this.messages = new SqliteMessageBus(this.db, messageOptions);
  }

  protected async createRecord(record: SessionRecord, options: CreateOptions): Promise<void> {
    this.#write(() => {
      const existing = this.#sql.selectGuard.get(record.id) as GuardRow | undefined;
      if (existing) {
        if (existing.expires_at === null || existing.expires_at > options.now) {
          throw new SessionExistsError(record.id);
        }
        this.#deleteSession(record.id);
      }
      this.#sql.insertSession.run({
        id: record.id,
        state: record.state,
        metadata: JSON.stringify(record.metadata),
        owner: record.owner,
        created_at: record.createdAt,
        last_activity_at: record.lastActivityAt,
        expires_at: record.expiresAt,
        version: record.version,
        message_count: record.messageCount,
      });
      for (const [key, value] of Object.entries(record.context)) {
        this.#sql.upsertContext.run(record.id, key, JSON.stringify(value));
      }
      for (const [log, entries] of Object.entries(options.logs ?? {})) {
        const last = entries.at(-1);
        if (!last) continue;
        for (const entry of entries) {
          this.#sql.insertEntry.run(
            record.id,
            log,
            entry.seq,
            entry.at,
            JSON.stringify(entry.data),
          );
        }
        this.#sql.advanceSeq.get(record.id, log, last.seq);
      }
    });
  }

  protected async getRecord(
    id: string,
    options: { now: number; owner?: string | null },
  ): Promise<SessionRecord | null> {
    // Expiry and owner are in the WHERE clause: SQLite computes the result columns, the context
    // subquery among them, only for a row that passes it, so a hidden record's context is never read.
    const row = this.#sql.selectVisibleRecord.get({
      id,
      now: options.now,
      any_owner: options.owner === undefined ? 1 : 0,
      owner: options.owner ?? null,
    }) as SessionRow | undefined;
    return row ? toRecord(row) : null;
  }

  protected async updateRecord(
    id: string,
    change: SessionChange,
    options: UpdateOptions,
  ): Promise<SessionRecord> {
    return this.#write(() => {
      const row = this.#guarded(id, options);
      if (change.context !== undefined) {
        this.#sql.deleteContext.run(id);
        for (const [key, value] of Object.entries(change.context)) {
          this.#sql.upsertContext.run(id, key, JSON.stringify(value));
        }
      }
      for (const [key, value] of Object.entries(change.contextSet ?? {})) {
        this.#sql.upsertContext.run(id, key, JSON.stringify(value));
      }
      for (const key of change.contextDelete ?? []) this.#sql.deleteContextKey.run(id, key);
      if (options.maxContextBytes !== undefined) {
        const { bytes } = this.#sql.contextBytes.get(id) as { bytes: number };
        if (bytes > options.maxContextBytes) {
          throw new PayloadTooLargeError('context', options.maxContextBytes, bytes);
        }
      }
      let lastActivityAt: number | null = change.lastActivityAt ?? null;
      let expiresAt = change.expiresAt;
      if (change.touch) {
        lastActivityAt = change.touch.at;
        expiresAt = slidingExpiry(row.created_at, change.touch);
      }
      this.#sql.updateSession.run({
        id,
        state: change.state ?? null,
        metadata: change.metadata === undefined ? null : JSON.stringify(change.metadata),
        last_activity_at: lastActivityAt,
        set_expiry: expiresAt === undefined ? 0 : 1,
        expires_at: expiresAt ?? null,
      });
      return toRecord(this.#sql.selectRecord.get(id) as SessionRow);
    });
  }

  protected async appendEntries(
    id: string,
    log: string,
    entries: readonly JsonValue[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const serialized = entries.map((entry) => JSON.stringify(entry));
    return this.#write(() => {
      const row = this.#guarded(id, options);
      const { last_seq: lastSeq } = this.#sql.advanceSeq.get(id, log, entries.length) as {
        last_seq: number;
      };
      const firstSeq = lastSeq - entries.length + 1;
      // Entries the cap would trim at once are never written.
      const skip = options.cap === undefined ? 0 : Math.max(0, entries.length - options.cap);
      for (let i = skip; i < serialized.length; i++) {
        this.#sql.insertEntry.run(id, log, firstSeq + i, options.now, serialized[i]);
      }
      if (options.cap !== undefined) this.#sql.trimLog.run(id, log, lastSeq - options.cap);
      const added = options.countMessages ? entries.length : 0;
      const touch = options.touch;
      this.#sql.bumpSession.run({
        id,
        added,
        last_activity_at: touch ? touch.at : null,
        set_expiry: touch ? 1 : 0,
        expires_at: touch ? slidingExpiry(row.created_at, touch) : null,
      });
      return {
        firstSeq,
        lastSeq,
        version: row.version + 1,
        messageCount: row.message_count + added,
      };
    });
  }

  protected async replaceLogEntries(
    id: string,
    log: string,
    entries: readonly ReplacementEntry[],
    options: ReplaceEntriesOptions,
  ): Promise<ReplaceEntriesResult> {
    const serialized = entries.map((entry) => JSON.stringify(entry.value));
    return this.#write(() => {
      const row = this.#guarded(id, options);
      let replaced = 0;
      entries.forEach((entry, i) => {
        replaced += this.#sql.replaceEntry.run(serialized[i], id, log, entry.seq).changes;
      });
      if (replaced === 0) return { replaced, version: row.version };
      this.#sql.bumpVersion.run(id);
      return { replaced, version: row.version + 1 };
    });
  }

  protected async readEntries(id: string, log: string, options: ReadOptions): Promise<LogEntry[]> {
    // One read transaction: the guard and the entries come from the same snapshot.
    return this.#transaction.deferred(() => {
      this.#guarded(id, options);
      const statement = options.order === 'desc' ? this.#sql.readDesc : this.#sql.readAsc;
      const rows = statement.all({
        id,
        log,
        after: options.afterSeq ?? 0,
        before: options.beforeSeq ?? Number.MAX_SAFE_INTEGER,
        limit: options.limit ?? -1,
      }) as EntryRow[];
      return rows.map((entry) => ({
        seq: entry.seq,
        at: entry.at,
        data: JSON.parse(entry.data) as JsonValue,
      }));
    }) as LogEntry[];
  }

  protected async deleteRecord(id: string): Promise<boolean> {
    return this.#write(() => this.#deleteSession(id));
  }

  protected async listRecords(options: ListOptions): Promise<ListPage> {
    const after = decodeListCursor(options.cursor);
    const rows = this.#listStatement(options.state !== undefined, options.owner !== undefined).all({
      now: options.now,
      after: after ?? '',
      state: options.state ?? null,
      owner: options.owner ?? null,
      limit: options.limit + 1,
    }) as SessionRow[];
    const page = rows.slice(0, options.limit).map(toRecord);
    const last = page.at(-1);
    return {
      records: page,
      nextCursor: rows.length > options.limit && last ? encodeListCursor(last.id) : null,
    };
  }

  /** Deletes in transactions of `sweepChunkSize`, so a big sweep never holds the write lock long. */
  protected async sweepExpired(now: number, limit: number): Promise<number> {
    let deleted = 0;
    while (deleted < limit) {
      const chunk = Math.min(this.#sweepChunkSize, limit - deleted);
      const count = this.#write(() => {
        const ids = this.#sql.selectExpired.all(now, chunk) as string[];
        for (const id of ids) this.#deleteSession(id);
        return ids.length;
      });
      deleted += count;
      if (count < chunk) break;
      // Let other work on this process's event loop run between chunks.
      await new Promise((resolve) => setImmediate(resolve));
      // A Database passed in stays open after close(), so only this flag stops the next chunk.
      if (this.closed) throw new StoreClosedError();
    }
    return deleted;
  }

  /** One COUNT: by owner through the owner index, without one over the table. */
  protected async countRecords(options: CountOptions): Promise<number> {
    const params = {
      now: options.now,
      states: options.states === undefined ? null : JSON.stringify(options.states),
    };
    return (
      options.owner === undefined
        ? this.#sql.countAll.get(params)
        : this.#sql.countByOwner.get({ ...params, owner: options.owner })
    ) as number;
  }

  protected async computeStats(now: number): Promise<StoreStats> {
    const rows = this.#sql.stats.all({ now }) as {
      state: SessionState;
      live: number;
      expired: number;
      messages: number;
      oldest: number | null;
    }[];
    const stats = emptyStats();
    for (const row of rows) {
      stats.byState[row.state] = row.live;
      stats.total += row.live;
      stats.expired += row.expired;
      stats.messages += row.messages;
      if (
        row.oldest !== null &&
        (stats.oldestCreatedAt === null || row.oldest < stats.oldestCreatedAt)
      ) {
        stats.oldestCreatedAt = row.oldest;
      }
    }
    return stats;
  }

  protected async release(): Promise<void> {
    await this.messages.close();
    if (this.#ownsDatabase) this.db.close();
  }

  /** A write transaction that takes the database write lock first, so it never deadlocks on upgrade. */
  #write<T>(body: () => T): T {
    return this.#transaction.immediate(body) as T;
  }

  #guarded(id: string, guards: RecordGuards): GuardRow {
    const row = this.#sql.selectGuard.get(id) as GuardRow | undefined;
    return checkGuards(row && { ...row, expiresAt: row.expires_at }, guards);
  }

  #deleteSession(id: string): boolean {
    this.#sql.deleteEntries.run(id);
    this.#sql.deleteLogs.run(id);
    this.#sql.deleteContext.run(id);
    return this.#sql.deleteSession.run(id).changes > 0;
  }

  #listStatement(byState: boolean, byOwner: boolean): Statement {
    const key = `${byState}:${byOwner}`;
    let statement = this.#listStatements.get(key);
    if (!statement) {
      const filters = [LIVE, 's.id > @after'];
      if (byState) filters.push('s.state = @state');
      if (byOwner) filters.push('s.owner = @owner');
      statement = this.db.prepare(
        `SELECT ${RECORD_COLUMNS} FROM sessions s WHERE ${filters.join(' AND ')} ORDER BY s.id LIMIT @limit`,
      );
      this.#listStatements.set(key, statement);
    }
    return statement;
  }
}

function prepareStatements(db: Database) {
  return {
    selectRecord: db.prepare(`SELECT ${RECORD_COLUMNS} FROM sessions s WHERE s.id = ?`),
    // `isVisibleTo` in SQL: an owner guard of null (`@owner` NULL) admits only unbound records.
    selectVisibleRecord: db.prepare(
      `SELECT ${RECORD_COLUMNS} FROM sessions s
       WHERE s.id = @id AND ${LIVE} AND (@any_owner = 1 OR s.owner IS NULL OR s.owner = @owner)`,
    ),
    selectGuard: db.prepare(
      'SELECT state, owner, version, created_at, expires_at, message_count FROM sessions WHERE id = ?',
    ),
    insertSession: db.prepare(
      `INSERT INTO sessions (id, state, metadata, owner, created_at, last_activity_at, expires_at, version, message_count)
       VALUES (@id, @state, @metadata, @owner, @created_at, @last_activity_at, @expires_at, @version, @message_count)`,
    ),
    updateSession: db.prepare(
      `UPDATE sessions SET
         state = COALESCE(@state, state),
         metadata = COALESCE(@metadata, metadata),
         last_activity_at = COALESCE(@last_activity_at, last_activity_at),
         expires_at = CASE WHEN @set_expiry = 1 THEN @expires_at ELSE expires_at END,
         version = version + 1
       WHERE id = @id`,
    ),
    bumpSession: db.prepare(
      `UPDATE sessions SET
         version = version + 1,
         message_count = message_count + @added,
         last_activity_at = COALESCE(@last_activity_at, last_activity_at),
         expires_at = CASE WHEN @set_expiry = 1 THEN @expires_at ELSE expires_at END
       WHERE id = @id`,
    ),
    bumpVersion: db.prepare('UPDATE sessions SET version = version + 1 WHERE id = ?'),
    upsertContext: db.prepare(
      `INSERT INTO session_context (session_id, key, value) VALUES (?, ?, ?)
       ON CONFLICT (session_id, key) DO UPDATE SET value = excluded.value`,
    ),
    deleteContextKey: db.prepare('DELETE FROM session_context WHERE session_id = ? AND key = ?'),
    deleteContext: db.prepare('DELETE FROM session_context WHERE session_id = ?'),
    // Size of the context as JSON: each key's text, its value's text, two quotes, a colon and a comma.
    contextBytes: db.prepare(
      `SELECT COALESCE(SUM(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB)) + 4), 0) + 1 AS bytes
       FROM session_context WHERE session_id = ?`,
    ),
    advanceSeq: db.prepare(
      `INSERT INTO session_logs (session_id, log, last_seq) VALUES (?, ?, ?)
       ON CONFLICT (session_id, log) DO UPDATE SET last_seq = last_seq + excluded.last_seq
       RETURNING last_seq`,
    ),
    insertEntry: db.prepare(
      'INSERT INTO log_entries (session_id, log, seq, at, data) VALUES (?, ?, ?, ?, ?)',
    ),
    replaceEntry: db.prepare(
      'UPDATE log_entries SET data = ? WHERE session_id = ? AND log = ? AND seq = ?',
    ),
    trimLog: db.prepare('DELETE FROM log_entries WHERE session_id = ? AND log = ? AND seq <= ?'),
    readAsc: db.prepare(
      `SELECT seq, at, data FROM log_entries
       WHERE session_id = @id AND log = @log AND seq > @after AND seq < @before ORDER BY seq ASC LIMIT @limit`,
    ),
    readDesc: db.prepare(
      `SELECT seq, at, data FROM log_entries
       WHERE session_id = @id AND log = @log AND seq > @after AND seq < @before ORDER BY seq DESC LIMIT @limit`,
    ),
    deleteEntries: db.prepare('DELETE FROM log_entries WHERE session_id = ?'),
    deleteLogs: db.prepare('DELETE FROM session_logs WHERE session_id = ?'),
    deleteSession: db.prepare('DELETE FROM sessions WHERE id = ?'),
    selectExpired: db
      .prepare('SELECT id FROM sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?')
      .pluck(),
    // The owner term makes SQLite walk sessions_by_owner: the cost grows with that owner's rows only.
    countByOwner: db
      .prepare(
        `SELECT COUNT(*) FROM sessions s
         WHERE s.owner = @owner AND ${LIVE} AND ${IN_STATES}`,
      )
      .pluck(),
    countAll: db.prepare(`SELECT COUNT(*) FROM sessions s WHERE ${LIVE} AND ${IN_STATES}`).pluck(),
    stats: db.prepare(
      `SELECT s.state,
         SUM(CASE WHEN ${LIVE} THEN 1 ELSE 0 END) AS live,
         SUM(CASE WHEN ${LIVE} THEN 0 ELSE 1 END) AS expired,
         SUM(CASE WHEN ${LIVE} THEN s.message_count ELSE 0 END) AS messages,
         MIN(CASE WHEN ${LIVE} THEN s.created_at END) AS oldest
       FROM sessions s GROUP BY s.state`,
    ),
  };
}

function toRecord(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    state: row.state,
    context: JSON.parse(row.context) as JsonObject,
    metadata: JSON.parse(row.metadata) as JsonObject,
    owner: row.owner,
    createdAt: row.created_at,
    lastActivityAt: row.last_activity_at,
    expiresAt: row.expires_at,
    version: row.version,
    messageCount: row.message_count,
  };
}

/** Opens a file, checking up front what would otherwise fail later with a vague error. */
function openDatabase(path: string, busyTimeoutMs: number, mustExist: boolean): Database {
  if (typeof path !== 'string' || path.trim() === '') {
    throw new InvalidValueError(
      'database must be a file path, ":memory:" or a better-sqlite3 Database',
    );
  }
  if (mustExist && path !== ':memory:' && !existsSync(path)) {
    throw new StoreNotFoundError(
      `SQLite database "${path}" does not exist (${resolve(path)}); check the path. Nothing was created.`,
    );
  }
  if (path !== ':memory:') {
    const directory = dirname(resolve(path));
    if (!existsSync(directory)) {
      throw new StoreUnavailableError(
        `Cannot open SQLite database "${path}": the directory "${directory}" does not exist. Create it first.`,
      );
    }
    if (existsSync(path) && statSync(path).isDirectory()) {
      throw new StoreUnavailableError(
        `Cannot open SQLite database "${path}": it is a directory, not a file.`,
      );
    }
    for (const [target, why] of [
      [path, 'the file is read-only'],
      [
        directory,
        'its directory is not writable (SQLite keeps -wal and -shm files next to the database)',
      ],
    ] as const) {
      if (!existsSync(target)) continue;
      // A file with no write bit was made read-only on purpose; honour that even for root, who could write.
      if (!isWritable(target) || (target === path && (statSync(target).mode & 0o222) === 0)) {
        throw new StoreUnavailableError(
          `Cannot open SQLite database "${path}" for writing: ${why}.`,
        );
      }
    }
  }
  try {
    // fileMustExist as well: the file may vanish between the check above and the open.
    return new BetterSqlite3(path, { timeout: busyTimeoutMs, fileMustExist: mustExist });
  } catch (error) {
    throw new StoreUnavailableError(
      `Cannot open SQLite database "${path}": ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * For `mustExist`: the database must already hold this store at the current schema version, since
 * migrating would create its tables in any SQLite file the path happens to name.
 */
/** A timer option: a whole number of milliseconds from 1 to `MAX_TIMER_MS`, or the default. */
function timerOption(value: number | undefined, fallback: number, name: string): number {
  const ms = value ?? fallback;
  if (!(Number.isSafeInteger(ms) && ms >= 1 && ms <= MAX_TIMER_MS)) {
    throw new InvalidValueError(
      `${name} must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, got ${String(value)}`,
    );
  }
  return ms;
}

function checkSchema(db: Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === 0) {
    throw new StoreNotFoundError(
      `SQLite database "${db.name}" holds no session store (it has none of @mcp-session/sqlite's tables); check the path. Nothing was created.`,
    );
  }
  if (version < SCHEMA_VERSION) {
    throw new StoreUnavailableError(
      `SQLite database "${db.name}" has schema version ${version}, older than this @mcp-session/sqlite's ${SCHEMA_VERSION}; open it once without mustExist (e.g. with your server) to migrate it.`,
    );
  }
}

function isWritable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function describeOpenError(error: unknown, path: string): Error {
  const code = (error as { code?: unknown }).code;
  if (code === 'SQLITE_NOTADB') {
    return new StoreUnavailableError(
      `Cannot open "${path}": it is not a SQLite database (or it is corrupt or encrypted).`,
      { cause: error },
    );
  }
  if (code === 'SQLITE_READONLY') {
    return new StoreUnavailableError(
      `Cannot open SQLite database "${path}" for writing: it is read-only.`,
      {
        cause: error,
      },
    );
  }
  return toStoreError(error, `Opening SQLite database "${path}"`);
}

/** The query options of a `sqlite:` URL, read the same way as every store's. */
const URL_OPTIONS = {
  busyTimeoutMs: { type: 'integer', min: 0, max: MAX_TIMER_MS, unit: 'milliseconds' },
  synchronous: { type: 'string', pattern: /^(full|normal)$/, description: '"full" or "normal"' },
  sweepChunkSize: { type: 'integer', min: 1 },
  messagePollIntervalMs: { type: 'integer', min: 1, max: MAX_TIMER_MS, unit: 'milliseconds' },
  messageRetentionMs: { type: 'integer', min: 1, max: MAX_TIMER_MS, unit: 'milliseconds' },
} as const;

/**
 * Opens `sqlite:./path/to/sessions.db`, `sqlite:///absolute/path.db` or `sqlite::memory:`, with options in
 * the query: `?busyTimeoutMs=5000&synchronous=normal&sweepChunkSize=200`. With `mustExist` (what
 * `createStore(url, { mustExist: true })` hands over) the file must exist and hold the store.
 * @throws InvalidStoreUrlError for a host, a missing path, or an unknown, repeated or malformed option.
 */
export function storeFromUrl(url: string, open: StoreOpenOptions = {}): SqliteSessionStore {
  const { path, params } = parsePathUrl(url);
  const { options } = readUrlOptions(params, URL_OPTIONS, { store: 'sqlite', shownUrl: url });
  return new SqliteSessionStore({
    database: path,
    mustExist: open.mustExist === true,
    ...options,
    // The pattern above admits only these two.
    synchronous: options.synchronous as SqliteSessionStoreOptions['synchronous'],
  });
}
