import {
  type AppendOptions,
  type AppendResult,
  BaseSessionStore,
  type CountOptions,
  type CreateOptions,
  checkGuards,
  decodeListCursor,
  encodeListCursor,
  type JsonValue,
  type ListOptions,
  type ListPage,
  type LogEntry,
  PayloadTooLargeError,
  type ReadOptions,
  type RecordGuards,
  type ReplaceEntriesOptions,
  type ReplaceEntriesResult,
  type ReplacementEntry,
  type SessionChange,
  SessionExistsError,
  SessionNotFoundError,
  type SessionRecord,
  type SessionState,
  type StoreCapabilities,
  type StoreOpenOptions,
  type StoreStats,
  StoreUnavailableError,
  toStoreError,
  type UpdateOptions,
} from '@mcp-session/core/adapter';
import type { Pool, QueryResult, QueryResultRow } from 'pg';
import { notMigratedError, runMigrations, SCHEMA_VERSION, schemaVersion } from './migrations.js';
import { type PostgresSessionStoreOptions, quoteIdentifier, resolveConnection } from './options.js';
import { PostgresMessageBus } from './postgres-bus.js';
import {
  appendEntriesSql,
  countRecordsSql,
  createRecordSql,
  deleteRecordSql,
  type GuardRow,
  getRecordSql,
  listRecordsSql,
  lockRecordSql,
  type RecordRow,
  readEntriesSql,
  replaceEntriesSql,
  type Statement,
  statsSql,
  sweepExpiredSql,
  updateRecordSql,
} from './sql.js';

/**
 * Sessions in PostgreSQL, shared by any number of processes and hosts. Every primitive is one statement
 * (appends and creates call plpgsql functions the migration installs), so each is atomic and costs one
 * round trip. The schema is created and migrated on first use unless `autoMigrate` is false.
 */
export class PostgresSessionStore extends BaseSessionStore {
  readonly capabilities: StoreCapabilities = Object.freeze({
    durable: true,
    sharedAcrossProcesses: true,
    nativeExpiry: false,
    messaging: true,
  });
  /** Live messages between the processes on this schema: LISTEN/NOTIFY (see `PostgresMessageBus`). */
  readonly messages: PostgresMessageBus;
  protected readonly backend = 'Postgres';

  /** The schema holding this store's tables. */
  readonly schema: string;

  readonly #pool: Pool;
  readonly #ownsPool: boolean;
  readonly #autoMigrate: boolean;
  readonly #mustExist: boolean;
  readonly #preparedStatements: boolean;
  /** `schema`, quoted for SQL. */
  readonly #quoted: string;
  #readiness: Promise<void> | undefined;

  /**
   * Creates the store without touching the network; the first operation connects and migrates. Use
   * `PostgresSessionStore.open` to surface connection and migration problems at start-up instead.
   * @throws InvalidValueError / InvalidStoreUrlError for bad options.
   */
  constructor(options: PostgresSessionStoreOptions) {
    super();
    const resolved = resolveConnection(options);
    this.#pool = resolved.pool;
    this.#ownsPool = resolved.ownsPool;
    this.#mustExist = options.mustExist === true;
    this.#autoMigrate = resolved.autoMigrate && !this.#mustExist;
    this.#preparedStatements = resolved.preparedStatements;
    this.schema = resolved.schema;
    this.#quoted = quoteIdentifier(resolved.schema);
    this.#pool.on('error', this.#onIdleClientError);
    this.messages = new PostgresMessageBus({
      pool: this.#pool,
      schema: this.schema,
      quoted: this.#quoted,
      ready: () => this.#ready(),
    });
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
      throw toStoreError(error, `Opening the Postgres store on schema "${store.schema}"`);
    }
    return store;
  }

  protected async createRecord(record: SessionRecord, options: CreateOptions): Promise<void> {
    const result = await this.#run(
      createRecordSql(this.#quoted, record, options.logs ?? {}, options.now),
    );
    if (!result.rows[0]?.created) throw new SessionExistsError(record.id);
  }

  protected async getRecord(
    id: string,
    options: { now: number; owner?: string | null },
  ): Promise<SessionRecord | null> {
    const result = await this.#run(getRecordSql(this.#quoted, id, options));
    const row = result.rows[0];
    return row ? toRecord(row) : null;
  }

  protected async updateRecord(
    id: string,
    change: SessionChange,
    options: UpdateOptions,
  ): Promise<SessionRecord> {
    const result = await this.#run(updateRecordSql(this.#quoted, id, change, options));
    const row = result.rows[0];
    if (row?.id != null) return toRecord(row as RecordRow);
    refuse(row, options);
    throw new PayloadTooLargeError(
      'context',
      options.maxContextBytes as number,
      Number(row?.g_bytes),
    );
  }

  protected async appendEntries(
    id: string,
    log: string,
    entries: readonly JsonValue[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    // Entries the cap would trim at once are never written.
    const kept =
      options.cap !== undefined && entries.length > options.cap
        ? entries.slice(-options.cap)
        : entries;
    const result = await this.#run(
      appendEntriesSql(this.#quoted, id, log, kept, entries.length, options),
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

  /**
   * One transaction of two statements: lock the session row and check the guards, then replace. Two
   * statements, because the second's snapshot must be taken after the lock is granted (see
   * `replaceEntriesSql`).
   */
  protected async replaceLogEntries(
    id: string,
    log: string,
    entries: readonly ReplacementEntry[],
    options: ReplaceEntriesOptions,
  ): Promise<ReplaceEntriesResult> {
    // Built now: the caller may change its objects while this waits for a connection.
    const lock = lockRecordSql(this.#quoted, id, options);
    const replace = replaceEntriesSql(this.#quoted, id, log, entries);
    return this.#transaction(async (run) => {
      const locked = (await run(lock)).rows[0];
      if (!locked?.ok) {
        refuse(locked, options);
        throw new StoreUnavailableError('Postgres replaceEntries refused a write the guards allow');
      }
      if (entries.length === 0) return { replaced: 0, version: Number(locked.g_version) };
      const row = (await run(replace)).rows[0];
      return {
        replaced: Number(row?.replaced ?? 0),
        version: row?.version == null ? Number(locked.g_version) : Number(row.version),
      };
    });
  }

  protected async readEntries(id: string, log: string, options: ReadOptions): Promise<LogEntry[]> {
    const result = await this.#run(readEntriesSql(this.#quoted, id, log, options));
    const first = result.rows[0];
    if (!first?.ok) refuse(first, options);
    return result.rows.flatMap((row) =>
      row.seq === null ? [] : [{ seq: Number(row.seq), at: Number(row.at), data: row.data }],
    );
  }

  protected async deleteRecord(id: string): Promise<boolean> {
    const result = await this.#run(deleteRecordSql(this.#quoted, id));
    return (result.rowCount ?? 0) > 0;
  }

  protected async listRecords(options: ListOptions): Promise<ListPage> {
    const after = decodeListCursor(options.cursor);
    // One row more than the page tells whether another page follows.
    const result = await this.#run(listRecordsSql(this.#quoted, options, after, options.limit + 1));
    const page = result.rows.slice(0, options.limit).map(toRecord);
    const last = page.at(-1);
    return {
      records: page,
      nextCursor:
        result.rows.length > options.limit && last !== undefined ? encodeListCursor(last.id) : null,
    };
  }

  protected async sweepExpired(now: number, limit: number): Promise<number> {
    const result = await this.#run(sweepExpiredSql(this.#quoted, now, limit));
    return result.rowCount ?? 0;
  }

  /** One `count(*)`; by owner it walks the owner index. */
  protected async countRecords(options: CountOptions): Promise<number> {
    const result = await this.#run(countRecordsSql(this.#quoted, options));
    return Number(result.rows[0]?.n ?? 0);
  }

  protected async computeStats(now: number): Promise<StoreStats> {
    const result = await this.#run(statsSql(this.#quoted, now));
    const row = result.rows[0];
    return {
      total: Number(row?.total ?? 0),
      byState: {
        active: Number(row?.active ?? 0),
        idle: Number(row?.idle ?? 0),
        suspended: Number(row?.suspended ?? 0),
        closed: Number(row?.closed ?? 0),
      },
      expired: Number(row?.expired ?? 0),
      messages: Number(row?.messages ?? 0),
      oldestCreatedAt: row?.oldest == null ? null : Number(row.oldest),
    };
  }

  /**
   * Ends the pool the store created, waiting for its connections to close; a `pg.Pool` you passed in
   * stays open, with its listeners as before (end it yourself).
   */
  protected async release(): Promise<void> {
    try {
      await this.messages.close();
      if (this.#ownsPool) await this.#pool.end();
    } finally {
      this.#pool.off('error', this.#onIdleClientError);
    }
  }

  /**
   * pg emits an error on the pool when an idle connection breaks (server restart, terminated backend);
   * without a listener that would crash the process. The pool drops the broken client by itself, and the
   * next operation connects afresh, so there is nothing else to do.
   */
  readonly #onIdleClientError = (): void => undefined;

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
    if (!this.#autoMigrate) throw notMigratedError(this.schema, version, this.#mustExist);
    await runMigrations(this.#pool, this.schema);
  }

  /**
   * Runs `work` in one READ COMMITTED transaction on one connection: committed when it returns, rolled
   * back when it throws. A connection whose rollback fails is destroyed, not returned to the pool.
   */
  async #transaction<T>(
    work: (
      run: <Row extends QueryResultRow>(statement: Statement<Row>) => Promise<QueryResult<Row>>,
    ) => Promise<T>,
  ): Promise<T> {
    await this.#ready();
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(({ name, text, values }) =>
        client.query(this.#preparedStatements ? { name, text, values } : { text, values }),
      );
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async #run<Row extends QueryResultRow>(statement: Statement<Row>): Promise<QueryResult<Row>> {
    await this.#ready();
    const { name, text, values } = statement;
    return this.#pool.query<Row>(
      this.#preparedStatements ? { name, text, values } : { text, values },
    );
  }
}

/**
 * Opens a store from a `postgres://` or `postgresql://` URL, e.g.
 * `postgres://app@db:5432/app?schema=mcp&poolSize=20`, connected and migrated. With `mustExist` (what
 * `createStore(url, { mustExist: true })` hands over) the schema must already hold the store, migrated.
 */
export function storeFromUrl(
  url: string,
  open: StoreOpenOptions = {},
): Promise<PostgresSessionStore> {
  return PostgresSessionStore.open({ connection: url, mustExist: open.mustExist === true });
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
    },
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
