import { createHash } from 'node:crypto';
import {
  type AppendOptions,
  type AppendResult,
  assertValidKey,
  type CreateOptions,
  checkGuards,
  checkImportedLogs,
  checkOptionalPositive,
  checkStoreArgs,
  decodeListCursor,
  encodeListCursor,
  expectedStates,
  InvalidValueError,
  type JsonObject,
  type JsonValue,
  type ListOptions,
  type ListPage,
  type LogEntry,
  PayloadTooLargeError,
  type ReadOptions,
  type RecordGuards,
  type SessionChange,
  SessionExistsError,
  SessionNotFoundError,
  type SessionRecord,
  type SessionState,
  type SessionStore,
  type StoreCapabilities,
  StoreClosedError,
  type StoreStats,
  StoreUnavailableError,
  type SweepOptions,
  type Touch,
  toStoreError,
  type UpdateOptions,
} from '@mcp-session/core';
import type { Pool, QueryResult, QueryResultRow } from 'pg';
import { notMigratedError, runMigrations, SCHEMA_VERSION, schemaVersion } from './migrations.js';
import { type PostgresSessionStoreOptions, quoteIdentifier, resolveConnection } from './options.js';

const RECORD_COLUMNS =
  'id, state, context, metadata, owner, created_at, last_activity_at, expires_at, version, message_count';

/** A record row as pg returns it: bigint columns arrive as strings. */
interface RecordRow {
  id: string;
  state: SessionState;
  context: JsonObject;
  metadata: JsonObject;
  owner: string | null;
  created_at: string;
  last_activity_at: string;
  expires_at: string | null;
  version: string;
  message_count: string;
}

/** What a guarded statement reports about the record it locked or read, to explain a refusal. */
interface GuardRow {
  g_version: string;
  g_state: SessionState;
  g_owner: string | null;
  g_expires_at: string | null;
}

interface AppendRow {
  o_applied: boolean;
  o_version: string | null;
  o_state: SessionState | null;
  o_owner: string | null;
  o_expires_at: string | null;
  o_message_count: string | null;
  o_first_seq: string | null;
  o_last_seq: string | null;
}

/** Collects bound parameters, so SQL text only ever holds placeholders and quoted identifiers. */
class Params {
  readonly values: unknown[] = [];

  add(value: unknown, type: string): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }
}

/**
 * Sessions in PostgreSQL, shared by any number of processes and hosts. Every primitive is one statement
 * (appends and creates call plpgsql functions the migration installs), so each is atomic and costs one
 * round trip. The schema is created and migrated on first use unless `autoMigrate` is false.
 */
export class PostgresSessionStore implements SessionStore {
  readonly capabilities: StoreCapabilities = Object.freeze({
    durable: true,
    sharedAcrossProcesses: true,
    nativeExpiry: false,
  });

  /** The schema holding this store's tables. */
  readonly schema: string;

  readonly #pool: Pool;
  readonly #ownsPool: boolean;
  readonly #autoMigrate: boolean;
  readonly #preparedStatements: boolean;
  readonly #sessions: string;
  readonly #logs: string;
  readonly #entries: string;
  readonly #appendFunction: string;
  readonly #createFunction: string;
  readonly #jsonBytesFunction: string;
  #readiness: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  /**
   * Creates the store without touching the network; the first operation connects and migrates. Use
   * `PostgresSessionStore.open` to surface connection and migration problems at start-up instead.
   * @throws InvalidValueError / InvalidStoreUrlError for bad options.
   */
  constructor(options: PostgresSessionStoreOptions) {
    const resolved = resolveConnection(options);
    this.#pool = resolved.pool;
    this.#ownsPool = resolved.ownsPool;
    this.#autoMigrate = resolved.autoMigrate;
    this.#preparedStatements = resolved.preparedStatements;
    this.schema = resolved.schema;
    const schema = quoteIdentifier(resolved.schema);
    this.#sessions = `${schema}.mcp_sessions`;
    this.#logs = `${schema}.mcp_session_logs`;
    this.#entries = `${schema}.mcp_session_log_entries`;
    this.#appendFunction = `${schema}.mcp_session_append`;
    this.#createFunction = `${schema}.mcp_session_create`;
    this.#jsonBytesFunction = `${schema}.mcp_session_json_bytes`;
    this.#pool.on('error', this.#onIdleClientError);
  }

  /**
   * Creates a store and waits until it is connected and its schema is up to date.
   * @throws StoreUnavailableError when Postgres cannot be reached, a migration fails, or (with
   *   `autoMigrate: false`) the schema is behind.
   */
  static async open(options: PostgresSessionStoreOptions): Promise<PostgresSessionStore> {
    const store = new PostgresSessionStore(options);
    try {
      await store.#ready();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async create(record: SessionRecord, options: CreateOptions): Promise<void> {
    this.#open();
    checkStoreArgs(record.id);
    checkIntegers({
      now: options.now,
      createdAt: record.createdAt,
      lastActivityAt: record.lastActivityAt,
      expiresAt: record.expiresAt,
      version: record.version,
      messageCount: record.messageCount,
    });
    const logs: Record<string, LogEntry[]> = {};
    for (const [log, entries] of checkImportedLogs(options.logs)) {
      logs[log] = entries.map(({ seq, at, data }, i) => {
        checkIntegers({ [`logs.${log}[${i}].at`]: at });
        return { seq, at, data };
      });
    }
    const p = new Params();
    const args = [
      p.add(record.id, 'text'),
      p.add(record.state, 'text'),
      p.add(JSON.stringify(record.context), 'jsonb'),
      p.add(JSON.stringify(record.metadata), 'jsonb'),
      p.add(record.owner, 'text'),
      p.add(record.createdAt, 'bigint'),
      p.add(record.lastActivityAt, 'bigint'),
      p.add(record.expiresAt, 'bigint'),
      p.add(record.version, 'bigint'),
      p.add(record.messageCount, 'bigint'),
      p.add(options.now, 'bigint'),
      p.add(JSON.stringify(logs), 'jsonb'),
    ];
    const result = await this.#query<{ created: boolean }>(
      'create',
      `SELECT ${this.#createFunction}(${args.join(', ')}) AS created`,
      p.values,
    );
    if (!result.rows[0]?.created) throw new SessionExistsError(record.id);
  }

  async get(
    id: string,
    options: { now: number; owner?: string | null },
  ): Promise<SessionRecord | null> {
    this.#open();
    checkStoreArgs(id);
    checkIntegers({ now: options.now });
    const p = new Params();
    const result = await this.#query<RecordRow>(
      'get',
      `SELECT ${RECORD_COLUMNS} FROM ${this.#sessions} AS s
       WHERE s.id = ${p.add(id, 'text')} AND ${guardPredicate('s', options, p)}`,
      p.values,
    );
    const row = result.rows[0];
    return row ? toRecord(row) : null;
  }

  async update(id: string, change: SessionChange, options: UpdateOptions): Promise<SessionRecord> {
    this.#open();
    checkStoreArgs(id);
    checkOptionalPositive(options.maxContextBytes, 'maxContextBytes');
    checkIntegers({
      now: options.now,
      expectedVersion: options.expectedVersion,
      lastActivityAt: change.lastActivityAt,
      expiresAt: change.expiresAt,
      ...touchTimes(change.touch),
    });
    const p = new Params();
    const idParam = p.add(id, 'text');
    const guards = guardPredicate('cur', options, p);
    const context = contextExpression(change, p);
    const sets = ['version = s.version + 1'];
    if (change.state !== undefined) sets.push(`state = ${p.add(change.state, 'text')}`);
    if (change.metadata !== undefined) {
      sets.push(`metadata = ${p.add(JSON.stringify(change.metadata), 'jsonb')}`);
    }
    if (context !== null) sets.push('context = next.context');
    const activity = change.touch?.at ?? change.lastActivityAt;
    if (activity !== undefined) sets.push(`last_activity_at = ${p.add(activity, 'bigint')}`);
    if (change.touch) {
      sets.push(`expires_at = ${slidingExpirySql(change.touch, p)}`);
    } else if (change.expiresAt !== undefined) {
      sets.push(`expires_at = ${p.add(change.expiresAt, 'bigint')}`);
    }
    const max = options.maxContextBytes;
    // Measured on the context the update would write, inside the same statement.
    const bytes =
      max === undefined
        ? 'NULL::bigint'
        : `${this.#jsonBytesFunction}(c.context, ${p.add(max, 'bigint')})`;
    const result = await this.#query<GuardRow & { g_bytes: string | null } & Partial<RecordRow>>(
      'update',
      `WITH cur AS (
         SELECT version, state, owner, expires_at, context FROM ${this.#sessions}
         WHERE id = ${idParam} FOR NO KEY UPDATE
       ), next AS (
         SELECT c.context, ${bytes} AS bytes
         FROM (SELECT ${context ?? 'cur.context'} AS context FROM cur WHERE ${guards}) AS c
       ), upd AS (
         UPDATE ${this.#sessions} AS s SET ${sets.join(', ')}
         FROM next
         WHERE s.id = ${idParam}${max === undefined ? '' : ` AND next.bytes <= ${p.add(max, 'bigint')}`}
         RETURNING ${prefixed('s', RECORD_COLUMNS)}
       )
       SELECT cur.version AS g_version, cur.state AS g_state, cur.owner AS g_owner,
         cur.expires_at AS g_expires_at, next.bytes AS g_bytes, upd.*
       FROM cur LEFT JOIN next ON true LEFT JOIN upd ON true`,
      p.values,
    );
    const row = result.rows[0];
    if (row?.id != null) return toRecord(row as RecordRow);
    refuse(row, options);
    throw new PayloadTooLargeError('context', max as number, Number(row?.g_bytes));
  }

  async append(
    id: string,
    log: string,
    entries: readonly JsonValue[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    this.#open();
    checkStoreArgs(id, log);
    checkOptionalPositive(options.cap, 'cap');
    checkIntegers({
      now: options.now,
      expectedVersion: options.expectedVersion,
      ...touchTimes(options.touch),
    });
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new InvalidValueError('append needs at least one entry');
    }
    // Entries the cap would trim at once are never written.
    const kept =
      options.cap !== undefined && entries.length > options.cap
        ? entries.slice(-options.cap)
        : entries;
    const states = expectedStates(options.expectedState);
    const touch = options.touch;
    const result = await this.#query<AppendRow>(
      'append',
      `SELECT * FROM ${this.#appendFunction}($1::text, $2::text, $3::bigint, $4::jsonb, $5::bigint,
         $6::bigint, $7::boolean, $8::boolean, $9::bigint, $10::bigint, $11::bigint, $12::boolean,
         $13::text, $14::bigint, $15::text[])`,
      [
        id,
        log,
        options.now,
        JSON.stringify(kept),
        entries.length,
        options.cap ?? null,
        options.countMessages === true,
        touch !== undefined,
        touch?.at ?? null,
        touch?.idleTimeoutMs ?? null,
        touch?.maxLifetimeMs ?? null,
        options.owner !== undefined,
        options.owner ?? null,
        options.expectedVersion ?? null,
        states ?? null,
      ],
    );
    const row = result.rows[0];
    if (!row?.o_applied) {
      refuse(
        row?.o_version == null
          ? undefined
          : {
              g_version: row.o_version,
              g_state: row.o_state as SessionState,
              g_owner: row.o_owner,
              g_expires_at: row.o_expires_at,
            },
        options,
      );
      throw new StoreUnavailableError('Postgres append refused a write the guards allow');
    }
    return {
      firstSeq: Number(row.o_first_seq),
      lastSeq: Number(row.o_last_seq),
      version: Number(row.o_version),
      messageCount: Number(row.o_message_count),
    };
  }

  async read(id: string, log: string, options: ReadOptions): Promise<LogEntry[]> {
    this.#open();
    checkStoreArgs(id, log);
    checkOptionalPositive(options.limit, 'limit');
    checkIntegers({
      now: options.now,
      expectedVersion: options.expectedVersion,
      afterSeq: options.afterSeq,
      beforeSeq: options.beforeSeq,
    });
    const p = new Params();
    const idParam = p.add(id, 'text');
    const guards = guardPredicate('s', options, p);
    const logParam = p.add(log, 'text');
    const bounds = ['x.log_id = cur.log_id', 'x.seq >= cur.first_seq'];
    if (options.afterSeq !== undefined) bounds.push(`x.seq > ${p.add(options.afterSeq, 'bigint')}`);
    if (options.beforeSeq !== undefined) {
      bounds.push(`x.seq < ${p.add(options.beforeSeq, 'bigint')}`);
    }
    const order = options.order === 'desc' ? 'DESC' : 'ASC';
    const limit = options.limit === undefined ? '' : `LIMIT ${p.add(options.limit, 'bigint')}`;
    // The entries scan gets the log id as a value from the first row, so it walks the (log_id, seq)
    // index from the requested end and stops after `limit` entries, however long the log is.
    const result = await this.#query<
      GuardRow & { ok: boolean; seq: string | null; at: string | null; data: JsonValue }
    >(
      'read',
      `WITH cur AS (
         SELECT s.version, s.state, s.owner, s.expires_at, (${guards}) AS ok, g.log_id, g.first_seq
         FROM ${this.#sessions} AS s
         LEFT JOIN ${this.#logs} AS g ON g.session_id = s.id AND g.log = ${logParam}
         WHERE s.id = ${idParam}
       )
       SELECT cur.version AS g_version, cur.state AS g_state, cur.owner AS g_owner,
         cur.expires_at AS g_expires_at, cur.ok, e.seq, e.at, e.data
       FROM cur LEFT JOIN LATERAL (
         SELECT x.seq, x.at, x.data
         FROM ${this.#entries} AS x
         WHERE cur.ok AND ${bounds.join(' AND ')}
         ORDER BY x.seq ${order} ${limit}
       ) AS e ON true
       ORDER BY e.seq ${order}`,
      p.values,
    );
    const first = result.rows[0];
    if (!first?.ok) refuse(first, options);
    return result.rows.flatMap((row) =>
      row.seq === null ? [] : [{ seq: Number(row.seq), at: Number(row.at), data: row.data }],
    );
  }

  async delete(id: string): Promise<boolean> {
    this.#open();
    checkStoreArgs(id);
    // Logs and entries go by ON DELETE CASCADE, whose deletes see rows committed after this statement
    // began (an append that held the row lock), so a racing append leaves nothing behind.
    const result = await this.#query(
      'delete',
      `DELETE FROM ${this.#sessions} WHERE id = $1::text`,
      [id],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async list(options: ListOptions): Promise<ListPage> {
    this.#open();
    checkOptionalPositive(options.limit, 'limit');
    checkIntegers({ now: options.now });
    const after = decodeListCursor(options.cursor);
    const p = new Params();
    const conditions = [`(expires_at IS NULL OR expires_at > ${p.add(options.now, 'bigint')})`];
    if (options.state !== undefined) conditions.push(`state = ${p.add(options.state, 'text')}`);
    if (options.owner !== undefined) conditions.push(`owner = ${p.add(options.owner, 'text')}`);
    if (after !== null) conditions.push(`id > ${p.add(after, 'text')} COLLATE "C"`);
    const result = await this.#query<RecordRow>(
      'list',
      `SELECT ${RECORD_COLUMNS} FROM ${this.#sessions}
       WHERE ${conditions.join(' AND ')}
       ORDER BY id COLLATE "C" LIMIT ${p.add(options.limit + 1, 'bigint')}`,
      p.values,
    );
    const page = result.rows.slice(0, options.limit).map(toRecord);
    const last = page.at(-1);
    return {
      records: page,
      nextCursor:
        result.rows.length > options.limit && last !== undefined ? encodeListCursor(last.id) : null,
    };
  }

  async sweep(now: number, options: SweepOptions = {}): Promise<number> {
    this.#open();
    checkOptionalPositive(options.limit, 'limit');
    checkIntegers({ now });
    // SKIP LOCKED: concurrent sweepers take different rows, and rows being written are left for later.
    const result = await this.#query(
      'sweep',
      `WITH doomed AS (
         SELECT id FROM ${this.#sessions}
         WHERE expires_at <= $1::bigint
         ORDER BY expires_at
         LIMIT $2::bigint
         FOR UPDATE SKIP LOCKED
       )
       DELETE FROM ${this.#sessions} AS s USING doomed
       WHERE s.id = doomed.id AND s.expires_at <= $1::bigint`,
      [now, options.limit ?? 1000],
    );
    return result.rowCount ?? 0;
  }

  async stats(now: number): Promise<StoreStats> {
    this.#open();
    checkIntegers({ now });
    const result = await this.#query<Record<string, string | null>>(
      'stats',
      `SELECT count(*) FILTER (WHERE live) AS total,
         count(*) FILTER (WHERE live AND state = 'active') AS active,
         count(*) FILTER (WHERE live AND state = 'idle') AS idle,
         count(*) FILTER (WHERE live AND state = 'suspended') AS suspended,
         count(*) FILTER (WHERE live AND state = 'closed') AS closed,
         count(*) FILTER (WHERE NOT live) AS expired,
         coalesce(sum(message_count) FILTER (WHERE live), 0) AS messages,
         min(created_at) FILTER (WHERE live) AS oldest
       FROM (
         SELECT state, message_count, created_at,
           (expires_at IS NULL OR expires_at > $1::bigint) AS live
         FROM ${this.#sessions}
       ) AS s`,
      [now],
    );
    const row = result.rows[0] ?? {};
    return {
      total: Number(row.total ?? 0),
      byState: {
        active: Number(row.active ?? 0),
        idle: Number(row.idle ?? 0),
        suspended: Number(row.suspended ?? 0),
        closed: Number(row.closed ?? 0),
      },
      expired: Number(row.expired ?? 0),
      messages: Number(row.messages ?? 0),
      oldestCreatedAt: row.oldest == null ? null : Number(row.oldest),
    };
  }

  /**
   * Closes the store: ends the pool it created (a `pg.Pool` you passed in stays open; end it yourself).
   * Idempotent; later calls to other primitives fail with `StoreClosedError`.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end().catch(() => undefined);
    this.#pool.off('error', this.#onIdleClientError);
  }

  /**
   * pg emits an error on the pool when an idle connection breaks (server restart, terminated backend);
   * without a listener that would crash the process. The pool drops the broken client by itself, and the
   * next operation connects afresh, so there is nothing else to do.
   */
  readonly #onIdleClientError = (): void => undefined;

  #open(): void {
    if (this.#closing) throw new StoreClosedError();
  }

  /** Connects and migrates once; a failure is not remembered, so a later call tries again. */
  #ready(): Promise<void> {
    this.#readiness ??= this.#prepare().catch((error: unknown) => {
      this.#readiness = undefined;
      throw error;
    });
    return this.#readiness;
  }

  async #prepare(): Promise<void> {
    const version = await schemaVersion(this.#pool, this.schema);
    if (version >= SCHEMA_VERSION) return;
    if (!this.#autoMigrate) throw notMigratedError(this.schema, version);
    await runMigrations(this.#pool, this.schema);
  }

  async #query<R extends QueryResultRow>(
    what: string,
    text: string,
    values: unknown[],
  ): Promise<QueryResult<R>> {
    await this.#ready();
    try {
      if (!this.#preparedStatements) return await this.#pool.query<R>(text, values);
      return await this.#pool.query<R>({ name: statementName(text), text, values });
    } catch (error) {
      if (this.#closing) throw new StoreClosedError();
      throw toStoreError(error, `Postgres ${what}`);
    }
  }
}

/**
 * Opens a store from a `postgres://` or `postgresql://` URL, e.g.
 * `postgres://app@db:5432/app?schema=mcp&poolSize=20`, connected and migrated.
 */
export function storeFromUrl(url: string): Promise<PostgresSessionStore> {
  return PostgresSessionStore.open({ connection: url });
}

/**
 * A prepared statement's name, derived from its text (which includes the schema), so every distinct
 * query gets one name and stores on other schemas never collide. Values never go into the text (context
 * keys travel as one jsonb or text[] parameter), so the texts, and the statements each connection keeps,
 * are bounded by the combinations of options.
 */
function statementName(text: string): string {
  return `mcp_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
}

/** The guards every record-targeting primitive applies, in SQL, on the row aliased `alias`. */
function guardPredicate(alias: string, guards: RecordGuards, p: Params): string {
  const conditions = [
    `(${alias}.expires_at IS NULL OR ${alias}.expires_at > ${p.add(guards.now, 'bigint')})`,
  ];
  if (guards.owner !== undefined) {
    conditions.push(
      `(${alias}.owner IS NULL OR ${alias}.owner IS NOT DISTINCT FROM ${p.add(guards.owner, 'text')})`,
    );
  }
  if (guards.expectedVersion !== undefined) {
    conditions.push(`${alias}.version = ${p.add(guards.expectedVersion, 'bigint')}`);
  }
  const states = expectedStates(guards.expectedState);
  if (states !== undefined) conditions.push(`${alias}.state = ANY (${p.add(states, 'text[]')})`);
  return conditions.join(' AND ');
}

/**
 * The new context in SQL, computed from the locked row (`cur.context`): replacement, then per-key set
 * (`||` replaces top-level keys), then per-key delete (`-`). Null when the change leaves it alone.
 */
function contextExpression(change: SessionChange, p: Params): string | null {
  const set = Object.keys(change.contextSet ?? {});
  const deleted = change.contextDelete ?? [];
  if (change.context === undefined && set.length === 0 && deleted.length === 0) return null;
  let expression =
    change.context === undefined ? 'cur.context' : p.add(JSON.stringify(change.context), 'jsonb');
  if (set.length > 0) {
    for (const key of set) assertValidKey(key, undefined, `contextSet.${key}`);
    expression = `(${expression} || ${p.add(JSON.stringify(change.contextSet), 'jsonb')})`;
  }
  if (deleted.length > 0) expression = `(${expression} - ${p.add(deleted, 'text[]')})`;
  return expression;
}

/** `least(at + idle, created_at + lifetime)`; least() skips NULL terms and is NULL when both are. */
function slidingExpirySql(touch: NonNullable<SessionChange['touch']>, p: Params): string {
  const at = p.add(touch.at, 'bigint');
  return `LEAST(${at} + ${p.add(touch.idleTimeoutMs, 'bigint')}, s.created_at + ${p.add(touch.maxLifetimeMs, 'bigint')})`;
}

/**
 * Throws the error for a guarded statement that wrote nothing: not found, or a version/state conflict,
 * judged by `checkGuards` on the row the statement locked. Returns when the guards hold (the statement
 * refused for another reason).
 */
function refuse(row: GuardRow | undefined, guards: RecordGuards): void {
  if (!row) throw new SessionNotFoundError();
  checkGuards(
    {
      version: Number(row.g_version),
      state: row.g_state,
      owner: row.g_owner,
      expiresAt: row.g_expires_at === null ? null : Number(row.g_expires_at),
    } as SessionRecord,
    guards,
  );
}

function toRecord(row: RecordRow): SessionRecord {
  return {
    id: row.id,
    state: row.state,
    context: row.context,
    metadata: row.metadata,
    owner: row.owner,
    createdAt: Number(row.created_at),
    lastActivityAt: Number(row.last_activity_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    version: Number(row.version),
    messageCount: Number(row.message_count),
  };
}

function prefixed(alias: string, columns: string): string {
  return columns
    .split(', ')
    .map((column) => `${alias}.${column}`)
    .join(', ');
}

/**
 * Times, seqs and counters are bigint columns: a fraction would come back from Postgres as a confusing
 * driver error, so it is refused as a bad argument first. Undefined and null mean "not given".
 */
function checkIntegers(values: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== null && !Number.isSafeInteger(value)) {
      throw new InvalidValueError(
        `${name} must be an integer (epoch milliseconds, a seq or a count), got ${String(value)}`,
      );
    }
  }
}

function touchTimes(touch: Touch | undefined): Record<string, unknown> {
  return touch === undefined
    ? {}
    : {
        'touch.at': touch.at,
        'touch.idleTimeoutMs': touch.idleTimeoutMs,
        'touch.maxLifetimeMs': touch.maxLifetimeMs,
      };
}
