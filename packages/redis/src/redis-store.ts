import {
  type AppendOptions,
  type AppendResult,
  BaseSessionStore,
  type CountOptions,
  type CreateOptions,
  checkGuards,
  decodeListCursor,
  emptyStats,
  encodeListCursor,
  InvalidStoreUrlError,
  InvalidValueError,
  isExpired,
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
  SESSION_STATES,
  type SessionChange,
  SessionExistsError,
  type SessionRecord,
  type SessionState,
  type StoreCapabilities,
  type StoreStats,
  StoreUnavailableError,
  type UpdateOptions,
} from '@mcp-session/core/adapter';
import { Cluster, Redis } from 'ioredis';
import { DEFAULT_PREFIX, KeyLayout } from './keys.js';
import { RedisMessageBus } from './redis-bus.js';
import {
  encodeAppend,
  encodeCount,
  encodeCreate,
  encodeDue,
  encodeExpire,
  encodeGet,
  encodeIndex,
  encodeList,
  encodeRead,
  encodeRemove,
  encodeReplace,
  encodeStats,
  encodeUpdate,
  type IndexChange,
  type ScriptCall,
  type SessionKeys,
} from './scripts.js';
import { type ParsedRedisUrl, parseRedisUrl, URL_OPTIONS, type UrlStoreOptions } from './url.js';

/** An ioredis client the store can use: a standalone `Redis` or a `Cluster`. */
export type RedisClient = Redis | Cluster;

/** Options of `RedisSessionStore`. Give exactly one of `url` and `client`. */
export interface RedisSessionStoreOptions {
  /**
   * `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS). Its query may carry the other
   * options below (`?prefix=app&commandTimeoutMs=2000`); an option may not be given both ways. The store
   * creates its own client and closes it in `close()`.
   */
  url?: string;
  /**
   * An ioredis `Redis` or `Cluster` instance you created and configured. The store never closes it:
   * `close()` only stops the store; call `quit()` on the client yourself. It must not have a
   * `keyPrefix` (use `prefix`).
   */
  client?: RedisClient;
  /**
   * Start of every key name, 1–128 visible ASCII characters without braces. Default `mcp-session`.
   * Stores with different prefixes share a database without seeing each other.
   */
  prefix?: string;
  /**
   * How long after a session's `expiresAt` (by Redis's clock) Redis deletes its keys on its own, in
   * milliseconds. Default 5000. Reads treat a session as gone from `expiresAt` on (by the caller's clock);
   * the grace keeps a caller whose clock runs a little behind Redis's from losing a live session.
   */
  expiryGraceMs?: number;
  /**
   * With `url` only: milliseconds a command may take before it fails with `StoreUnavailableError`,
   * including time waiting for a connection; 1 to 2147483647. Default 5000.
   */
  commandTimeoutMs?: number;
  /** With `url` only: milliseconds to establish a connection, 1 to 2147483647. Default 5000. */
  connectTimeoutMs?: number;
  /**
   * With `url` only: the URL names one node of a Redis Cluster; the store opens an ioredis `Cluster`
   * from it. Default false.
   */
  cluster?: boolean;
}

const DEFAULT_GRACE_MS = 5_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Index entries one list round trip looks at, so a sparse filter never blocks Redis for long. */
const LIST_BUDGET = 1_000;

const OPTION_NAMES = [
  'url',
  'client',
  'prefix',
  'expiryGraceMs',
  'commandTimeoutMs',
  'connectTimeoutMs',
  'cluster',
] as const;
const URL_ONLY = ['commandTimeoutMs', 'connectTimeoutMs', 'cluster'] as const;

type Reply = (string | number | null | Reply)[];

/**
 * Sessions in Redis through ioredis, for many server instances. Every primitive that reads and writes a
 * session is one Lua script over that session's keys, which share a hash tag, so it is atomic and works
 * on Redis Cluster. Keys expire natively with the session. With a standalone server the same scripts
 * also keep the listing, sweep and stats indexes exact; on a Cluster the indexes live in their own slot
 * and are maintained right after each write (see README, "Consistency").
 *
 * `BaseSessionStore` checks every argument before a script is encoded, and reports a driver failure as
 * `StoreUnavailableError` ("Redis append failed: …") only after the event loop had a turn. That turn
 * matters here: ioredis can fail a command without any I/O (a socket that just died, before its close
 * event), and a caller retrying such failures in a loop would otherwise never let the close be
 * processed, so the client could never reconnect.
 */
export class RedisSessionStore extends BaseSessionStore {
  readonly capabilities: StoreCapabilities = Object.freeze({
    durable: true,
    sharedAcrossProcesses: true,
    nativeExpiry: true,
    messaging: true,
  });
  /** Live messages between the processes on this prefix: Redis pub/sub (see `RedisMessageBus`). */
  readonly messages: RedisMessageBus;
  protected readonly backend = 'Redis';
  /** The ioredis client in use. */
  readonly client: RedisClient;
  /** Start of every key this store writes. */
  readonly prefix: string;

  readonly #keys: KeyLayout;
  readonly #graceMs: number;
  readonly #ownsClient: boolean;
  /**
   * How long a command waits for the client to be ready, in milliseconds; 0 when the client queues
   * commands itself (a client you passed in with its offline queue on).
   */
  readonly #connectWaitMs: number = 0;
  /** Settles when the client is next ready (or has ended); shared by every command waiting for it. */
  #nextReady: Promise<void> | undefined;
  /** Standalone server: session scripts maintain the index themselves. */
  readonly #inline: boolean;
  /** Where the client connects, `host:port` (never the password), for connection errors. */
  readonly #address: string;
  /** The database the URL names, 0 without one or with a client passed in. */
  readonly #database: number = 0;
  /**
   * Set when the server refused the URL's database (SELECT failed): ioredis would carry on in database 0,
   * so the store has closed its client and fails every command with this instead.
   */
  #refusal: InvalidStoreUrlError | undefined;
  /** Whether `#coalesceWrites` holds the socket's writes until the end of this tick. */
  #corked = false;

  /**
   * Checks every option, then (with `url`) creates the client, which connects in the background.
   * @throws InvalidValueError naming a bad option and what is allowed; InvalidStoreUrlError for a bad
   *   URL or URL option (never showing the password).
   */
  constructor(options: RedisSessionStoreOptions) {
    super();
    if (typeof options !== 'object' || options === null) {
      throw new InvalidValueError('RedisSessionStore needs an options object with url or client');
    }
    for (const key of Object.keys(options)) {
      if (!(OPTION_NAMES as readonly string[]).includes(key)) {
        throw new InvalidValueError(
          `Unknown RedisSessionStore option "${key}" (known: ${OPTION_NAMES.join(', ')})`,
        );
      }
    }
    if ((options.url === undefined) === (options.client === undefined)) {
      throw new InvalidValueError(
        'RedisSessionStore needs exactly one of url (a redis:// URL) or client (an ioredis Redis or Cluster)',
      );
    }
    const settings: RedisSessionStoreOptions = { ...options };
    const parsed = options.url === undefined ? undefined : parseRedisUrl(urlOf(options.url));
    for (const [key, value] of Object.entries(parsed?.options ?? {})) {
      if (options[key as keyof UrlStoreOptions] !== undefined) {
        throw new InvalidValueError(
          `${key} is given both in the URL and as an option; give it once`,
        );
      }
      Object.assign(settings, { [key]: value });
    }
    this.prefix = settings.prefix ?? DEFAULT_PREFIX;
    this.#keys = new KeyLayout(this.prefix);
    this.#graceMs = milliseconds(settings, 'expiryGraceMs', DEFAULT_GRACE_MS);
    let client: RedisClient;
    if (parsed) {
      const commandTimeout = milliseconds(settings, 'commandTimeoutMs', DEFAULT_COMMAND_TIMEOUT_MS);
      const connectTimeout = milliseconds(settings, 'connectTimeoutMs', DEFAULT_CONNECT_TIMEOUT_MS);
      if (settings.cluster !== undefined && typeof settings.cluster !== 'boolean') {
        throw new InvalidValueError(
          `cluster must be true or false, got ${String(settings.cluster)}`,
        );
      }
      if (settings.cluster && parsed.db !== 0) {
        throw new InvalidStoreUrlError(
          `Redis Cluster has only database 0; drop the /${parsed.db} from "${parsed.shown}"`,
        );
      }
      client = connect(parsed, settings.cluster === true, commandTimeout, connectTimeout);
      this.#address = hostAndPort(parsed.host, parsed.port);
      this.#ownsClient = true;
      this.#connectWaitMs = commandTimeout;
      this.#database = parsed.db;
      client.on('error', (error: unknown) => this.#refuseIfSelectFailed(error, parsed.shown));
    } else {
      for (const key of URL_ONLY) {
        if (options[key] !== undefined) {
          throw new InvalidValueError(
            `${key} applies only to a store opened from a url; configure the client you pass instead`,
          );
        }
      }
      client = options.client as RedisClient;
      if (typeof client !== 'object' || client === null || typeof client.call !== 'function') {
        throw new InvalidValueError('client must be an ioredis Redis or Cluster instance');
      }
      if (client.options?.keyPrefix) {
        throw new InvalidValueError(
          'The client has a keyPrefix; remove it and pass prefix to the store instead (key names carry Cluster hash tags)',
        );
      }
      this.#ownsClient = false;
      this.#address = addressOf(client);
      // A client without an offline queue fails every command sent before it is ready: wait for it.
      if (client.options?.enableOfflineQueue === false) {
        const redisOptions = client.isCluster
          ? (client as Cluster).options.redisOptions
          : (client as Redis).options;
        this.#connectWaitMs = redisOptions?.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT_MS;
      }
    }
    this.client = client;
    this.#inline = client.isCluster !== true;
    this.messages = new RedisMessageBus({
      client,
      prefix: this.prefix,
      send: (command) => this.#send(command),
    });
  }

  /**
   * Creates the store and, when its URL names a database other than 0, waits for the first connection
   * attempt, so a database the server refuses fails here rather than at the first command. A server that
   * cannot be reached is no error yet: the store reconnects, as `new RedisSessionStore` does.
   * @throws InvalidStoreUrlError for a bad URL or option, or a database the server refused (out of range,
   *   no SELECT on a Cluster node, an ACL without SELECT); InvalidValueError for a bad option.
   */
  static async open(options: RedisSessionStoreOptions): Promise<RedisSessionStore> {
    const store = new RedisSessionStore(options);
    await store.#firstConnection();
    if (store.#refusal) {
      await store.close();
      throw store.#refusal;
    }
    return store;
  }

  /** One script inserts the record (and its imported logs), replacing an expired one. */
  protected async createRecord(record: SessionRecord, options: CreateOptions): Promise<void> {
    const reply = await this.#eval(
      encodeCreate({
        keys: this.#sessionKeys(record.id),
        record,
        now: options.now,
        graceMs: this.#graceMs,
        logs: Object.entries(options.logs ?? {}),
      }),
    );
    if (reply[0] === 'exists') throw new SessionExistsError(record.id);
    if (!this.#inline) {
      await this.#index({
        op: 'apply',
        id: record.id,
        meta: String(reply[1]),
        pruneGraceMs: this.#graceMs,
      });
    }
  }

  /**
   * One script: expiry and owner are checked on the guard fields, and only then is the hash (the
   * record and its context) read, so a hidden record's context never leaves Redis.
   */
  protected async getRecord(
    id: string,
    options: { now: number; owner?: string | null },
  ): Promise<SessionRecord | null> {
    const [record] = this.#keys.session(id);
    const reply = (await this.#eval(encodeGet({ keys: { record }, guards: options }))) as string[];
    return reply.length === 0 ? null : toRecord(id, pairsToObject(reply));
  }

  /** One script: guards, the context size check, the change, the new expiry of every key. */
  protected async updateRecord(
    id: string,
    change: SessionChange,
    options: UpdateOptions,
  ): Promise<SessionRecord> {
    const reply = await this.#eval(
      encodeUpdate({
        keys: this.#sessionKeys(id),
        id,
        graceMs: this.#graceMs,
        guards: options,
        maxContextBytes: options.maxContextBytes,
        state: change.state,
        metadata: change.metadata,
        context: change.context,
        contextSet: change.contextSet,
        contextDelete: change.contextDelete,
        lastActivityAt: change.lastActivityAt,
        expiresAt: change.expiresAt,
        touch: change.touch,
      }),
    );
    if (reply[0] === 'guard') failGuards(reply, options);
    if (reply[0] === 'too_large') {
      throw new PayloadTooLargeError(
        'context',
        options.maxContextBytes as number,
        Number(reply[1]),
      );
    }
    if (!this.#inline && reply[1] !== '') {
      await this.#index({ op: 'apply', id, meta: String(reply[1]), pruneGraceMs: undefined });
    }
    return toRecord(id, pairsToObject(reply[2] as string[]));
  }

  /** One script: guards, seqs, the entries, trimming to `cap`, the record's counters and expiry. */
  protected async appendEntries(
    id: string,
    log: string,
    entries: readonly JsonValue[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const reply = await this.#eval(
      encodeAppend({
        keys: this.#sessionKeys(id),
        id,
        graceMs: this.#graceMs,
        guards: options,
        log,
        cap: options.cap,
        countMessages: options.countMessages,
        touch: options.touch,
        entries,
      }),
    );
    if (reply[0] === 'guard') failGuards(reply, options);
    if (!this.#inline && reply[5] !== '') {
      await this.#index({ op: 'apply', id, meta: String(reply[5]), pruneGraceMs: undefined });
    }
    return {
      firstSeq: Number(reply[1]),
      lastSeq: Number(reply[2]),
      version: Number(reply[3]),
      messageCount: Number(reply[4]),
    };
  }

  /** One script: guards, then the new values of the seqs still in the log, and version + 1. */
  protected async replaceLogEntries(
    id: string,
    log: string,
    entries: readonly ReplacementEntry[],
    options: ReplaceEntriesOptions,
  ): Promise<ReplaceEntriesResult> {
    const [record, logs] = this.#keys.session(id);
    const reply = await this.#eval(
      encodeReplace({ keys: { record, logs }, guards: options, log, entries }),
    );
    if (reply[0] === 'guard') failGuards(reply, options);
    return { replaced: Number(reply[1]), version: Number(reply[2]) };
  }

  /** One script: guards, then the page's entries fetched by seq arithmetic. */
  protected async readEntries(id: string, log: string, options: ReadOptions): Promise<LogEntry[]> {
    const [record, logs] = this.#keys.session(id);
    const reply = await this.#eval(
      encodeRead({
        keys: { record, logs },
        guards: options,
        log,
        afterSeq: options.afterSeq,
        beforeSeq: options.beforeSeq,
        limit: options.limit,
        order: options.order,
      }),
    );
    if (reply[0] === 'guard') failGuards(reply, options);
    const start = Number(reply[1]);
    const step = Number(reply[2]);
    return (reply[3] as (string | null)[]).map((value, i) => {
      if (value === null) throw new StoreUnavailableError(`Log "${log}" is missing an entry`);
      return toEntry(start + i * step, value);
    });
  }

  /** One script unlinks both keys of the session (and, standalone, its index entry). */
  protected async deleteRecord(id: string): Promise<boolean> {
    const reply = await this.#eval(encodeRemove({ keys: this.#sessionKeys(id), id }));
    if (!this.#inline && reply[1] !== '') {
      await this.#index({ op: 'drop', id, gen: String(reply[1]) });
    }
    return Number(reply[0]) === 1;
  }

  /**
   * Walks the id index (or the owner index) in byte order from the cursor, at most 1000 entries per
   * round trip, then re-reads every candidate: only live records matching the filter are returned.
   */
  protected async listRecords(options: ListOptions): Promise<ListPage> {
    const limit = options.limit as number;
    let after = decodeListCursor(options.cursor);
    const wanted = limit + 1;
    const page: SessionRecord[] = [];
    for (;;) {
      const reply = (await this.#eval(
        encodeList({
          keys: this.#keys.index,
          now: options.now,
          state: options.state,
          owner: options.owner,
          after,
          wanted: wanted - page.length,
          budget: LIST_BUDGET,
        }),
      )) as string[];
      const candidates: [id: string, meta: string][] = [];
      for (let i = 2; i < reply.length; i += 2) {
        candidates.push([reply[i] as string, reply[i + 1] as string]);
      }
      const checked = await Promise.all(
        candidates.map(async ([id, meta]) => {
          const record = await this.#verify(id, meta, options.now);
          const wantedRecord =
            record !== null &&
            (options.state === undefined || record.state === options.state) &&
            (options.owner === undefined || record.owner === options.owner);
          return wantedRecord ? record : null;
        }),
      );
      for (const record of checked) if (record) page.push(record);
      if (page.length >= wanted || Number(reply[0]) === 1) break;
      after = String(reply[1]);
    }
    const records = page.slice(0, limit);
    const last = records.at(-1);
    return {
      records,
      nextCursor: page.length > limit && last ? encodeListCursor(last.id) : null,
    };
  }

  /**
   * Deletes sessions due by the expiry index through a per-session script that checks the record itself.
   * Returns how many it deleted; sessions Redis had already expired are dropped from the index, uncounted.
   */
  protected async sweepExpired(now: number, limit: number): Promise<number> {
    let deleted = 0;
    while (deleted < limit) {
      const reply = (await this.#eval(
        encodeDue({ keys: this.#keys.index, now, max: limit - deleted }),
      )) as string[];
      if (reply.length === 0) break;
      const outcomes = await Promise.all(
        pairs(reply).map(([id, meta]) => this.#expire(id, meta, now)),
      );
      deleted += outcomes.filter((outcome) => outcome === 'deleted').length;
      if (outcomes.every((outcome) => outcome === 'stuck')) break;
    }
    return deleted;
  }

  /** One script over the index: running sums per state, minus the entries already past expiry. */
  protected async computeStats(now: number): Promise<StoreStats> {
    const reply = await this.#eval(encodeStats({ keys: this.#keys.index, now }));
    const stats = emptyStats();
    SESSION_STATES.forEach((state, i) => {
      stats.byState[state] = Number(reply[i]);
      stats.total += Number(reply[i]);
    });
    stats.expired = Number(reply[4]);
    stats.messages = Number(reply[5]);
    stats.oldestCreatedAt = reply[6] === '' ? null : Number(reply[6]);
    return stats;
  }

  /**
   * One script over the index: by owner, that owner's range of the owner index with each entry's expiry
   * and state; without one, the running sums minus the entries past expiry.
   */
  protected async countRecords(options: CountOptions): Promise<number> {
    const reply = await this.#eval(
      encodeCount({
        keys: this.#keys.index,
        now: options.now,
        owner: options.owner,
        states: options.states,
      }),
    );
    return Number(reply);
  }

  /** Closes the client only if the store created it from a URL (a client you passed in stays open). */
  protected async release(): Promise<void> {
    await this.messages.close();
    if (!this.#ownsClient) return;
    const client = this.client;
    if (client.status === 'end') return;
    const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
    if (client.status === 'ready') {
      await client.quit().catch(() => client.disconnect());
    } else {
      client.disconnect();
    }
    // Between reconnect attempts there is no socket left to close, and ioredis may never emit 'end'.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise((resolve) => (timer = setTimeout(resolve, 1_000)))]);
    clearTimeout(timer);
  }

  /** Sends one command: at once when the client can take it, else once `#connected()` says it can. */
  #send<T>(command: () => Promise<T>): Promise<T> {
    if (this.#refusal) return Promise.reject(this.#refusal);
    if (this.#connectWaitMs === 0 || this.client.status === 'ready') {
      this.#coalesceWrites();
      return command();
    }
    return this.#connected().then(command);
  }

  /**
   * Holds the socket's writes until the current tick's other commands have been issued, so commands
   * sent together leave in one write: under concurrency a write syscall per command was the largest
   * cost in the client (issue 17). Unlike ioredis's auto-pipelining, which waits for the next
   * event-loop turn, the socket is released in the same tick, so a lone command is not delayed. Each
   * command still settles on its own reply. (A Cluster's sockets are its nodes'; they are left alone.)
   */
  #coalesceWrites(): void {
    if (this.#corked || !this.#inline) return;
    const stream = (this.client as Redis).stream;
    if (!stream || stream.writableCorked > 0) return;
    stream.cork();
    this.#corked = true;
    process.nextTick(() => {
      this.#corked = false;
      stream.uncork();
    });
  }

  /**
   * ioredis reports a SELECT the server refused as an error event and goes on in database 0, where every
   * write would land in another application's data. The client is closed before it is ready (the error
   * comes during its handshake), so no command of ours ever reaches database 0.
   */
  #refuseIfSelectFailed(error: unknown, shownUrl: string): void {
    const command = (error as { command?: { name?: unknown } } | null)?.command;
    if (this.#refusal || command?.name !== 'select') return;
    const reason = error instanceof Error ? error.message : String(error);
    this.#refusal = new InvalidStoreUrlError(
      `Redis at ${this.#address} refused database ${this.#database} of "${shownUrl}" (${reason}). ` +
        'Name a database the server has (a default server has 16: /0 to /15), or raise its "databases" setting.',
    );
    this.client.disconnect();
  }

  /**
   * Settles after the client's first connection attempt: ready, refused (see above), or failed — or after
   * the command timeout, which is as long as a command would wait for it.
   */
  async #firstConnection(): Promise<void> {
    const client = this.client;
    if (!this.#ownsClient || this.#database === 0) return;
    if (client.status === 'ready' || client.status === 'end') return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        for (const event of ['ready', 'close', 'end']) client.off(event, done);
        resolve();
      };
      for (const event of ['ready', 'close', 'end']) client.once(event, done);
      timer = setTimeout(done, this.#connectWaitMs);
    });
  }

  /**
   * Waits (up to the command timeout) until a client without an offline queue is connected. Our own
   * clients have none: ioredis would send a queued command after reconnecting even when it had already
   * failed it with a timeout, so an append the caller saw fail (and may have retried) could still be
   * applied. Waiting here instead means a command that gave up is never sent. It fails with plain
   * errors, as the driver does: the base passes this project's errors through at once, but a driver
   * failure gets the event-loop turn (see the class) and becomes "Redis <primitive> failed: …".
   */
  async #connected(): Promise<void> {
    const client = this.client;
    const ended = `the connection to Redis at ${this.#address} has ended`;
    if (client.status === 'end') throw this.#refusal ?? new Error(ended);
    this.#nextReady ??= new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        this.#nextReady = undefined;
        client.off('ready', onReady);
        client.off('end', onEnd);
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => settle();
      const onEnd = () => settle(this.#refusal ?? new Error(ended));
      client.on('ready', onReady);
      client.on('end', onEnd);
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `no connection to Redis at ${this.#address} within ${this.#connectWaitMs} ms; nothing was sent`,
            ),
          ),
        this.#connectWaitMs,
      );
    });
    try {
      await Promise.race([this.#nextReady, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #sessionKeys(id: string): SessionKeys {
    const [record, logs] = this.#keys.session(id);
    return { record, logs, index: this.#inline ? this.#keys.index : null };
  }

  /** EVALSHA, or EVAL when the server does not have the script (first use, restart, SCRIPT FLUSH). */
  async #eval({ script, keys, args }: ScriptCall): Promise<Reply> {
    try {
      return (await this.#send(() =>
        this.client.call('EVALSHA', [script.sha, keys.length, ...keys, ...args]),
      )) as Reply;
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return (await this.#send(() =>
        this.client.call('EVAL', [script.lua, keys.length, ...keys, ...args]),
      )) as Reply;
    }
  }

  /** Index maintenance and repair (see the index script). Returns whether the index changed. */
  async #index(change: IndexChange): Promise<boolean> {
    return Number(await this.#eval(encodeIndex({ ...change, keys: this.#keys.index }))) === 1;
  }

  /**
   * Reads a listing candidate's record and repairs its index entry when the two disagree (the record is
   * gone, or on a Cluster an index write was lost or overtaken). Returns the record when it is live.
   */
  async #verify(id: string, meta: string, now: number): Promise<SessionRecord | null> {
    const [key] = this.#keys.session(id);
    const fields = await this.#send(() => this.client.hgetall(key));
    const record = fields.state === undefined ? null : toRecord(id, fields);
    const actual = record ? metaOf(fields) : null;
    if (meta !== '' && !sameEntry(meta, actual)) {
      await this.#index({ op: 'cas', id, expected: meta, replacement: actual });
    }
    return record && !isExpired(record, now) ? record : null;
  }

  /** One sweep step: deletes an expired session, or cleans or repairs its index entry. */
  async #expire(id: string, meta: string, now: number): Promise<'deleted' | 'cleaned' | 'stuck'> {
    const reply = await this.#eval(encodeExpire({ keys: this.#sessionKeys(id), id, now }));
    if (reply[0] === 'deleted') {
      if (!this.#inline) await this.#index({ op: 'drop', id, gen: String(reply[1]) });
      return 'deleted';
    }
    if (reply[0] === 'absent' && this.#inline) return 'cleaned';
    const actual = reply[0] === 'absent' ? null : String(reply[1]);
    const repaired = await this.#index({ op: 'cas', id, expected: meta, replacement: actual });
    return repaired ? 'cleaned' : 'stuck';
  }
}

/**
 * `redis://…` or `rediss://…`: a store with its own client (what `createStore` calls), opened with
 * `RedisSessionStore.open`. A bad URL or URL option, or a database the server refuses, fails with
 * `InvalidStoreUrlError` naming it; the password never appears in messages.
 */
export function storeFromUrl(url: string): Promise<RedisSessionStore> {
  return RedisSessionStore.open({ url });
}

function connect(
  parsed: ParsedRedisUrl,
  cluster: boolean,
  commandTimeout: number,
  connectTimeout: number,
): RedisClient {
  const connection = {
    ...(parsed.username === undefined ? {} : { username: parsed.username }),
    ...(parsed.password === undefined ? {} : { password: parsed.password }),
    ...(parsed.tls ? { tls: { servername: parsed.host } } : {}),
    connectionName: 'mcp-session',
    connectTimeout,
    commandTimeout,
    // A command whose connection drops fails at once instead of being resent after reconnecting: it may
    // already have run, and running an append twice would duplicate it. Commands are only sent while
    // connected (see #connected), never queued.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
  };
  const retry = (attempt: number) => Math.min(attempt * 100, 1_000);
  const client = cluster
    ? new Cluster([{ host: parsed.host, port: parsed.port }], {
        redisOptions: connection,
        clusterRetryStrategy: retry,
        enableOfflineQueue: false,
      })
    : new Redis({
        ...connection,
        host: parsed.host,
        port: parsed.port,
        db: parsed.db,
        retryStrategy: retry,
        enableOfflineQueue: false,
      });
  // Connection errors reach callers as StoreUnavailableError on the operations they break; without a
  // listener ioredis would also print every failed reconnect attempt.
  client.on('error', () => undefined);
  return client;
}

/** `host:port`, with an IPv6 host in brackets. */
function hostAndPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Where a client handed in connects; a Cluster client does not expose its seed nodes. */
function addressOf(client: RedisClient): string {
  if (client.isCluster) return 'the Redis Cluster';
  const { host = 'localhost', port = 6379 } = (client as Redis).options ?? {};
  return hostAndPort(host, port);
}

function urlOf(url: unknown): string {
  if (typeof url !== 'string') {
    throw new InvalidValueError('url must be a string such as redis://localhost:6379');
  }
  return url;
}

/** A millisecond option given in code, held to the bounds `URL_OPTIONS` sets for it in a URL. */
function milliseconds(
  settings: RedisSessionStoreOptions,
  key: 'expiryGraceMs' | 'commandTimeoutMs' | 'connectTimeoutMs',
  fallback: number,
): number {
  const spec: { min: number; max?: number } = URL_OPTIONS[key];
  const value = settings[key] ?? fallback;
  if (!(Number.isSafeInteger(value) && value >= spec.min && value <= (spec.max ?? value))) {
    const least = spec.min === 0 ? 'a non-negative' : 'a positive';
    const most = spec.max === undefined ? '' : ` up to ${spec.max}`;
    throw new InvalidValueError(
      `${key} must be ${least} whole number of milliseconds${most}, got ${String(value)}`,
    );
  }
  return value;
}

/** Raises the error the guards call for, from the fields a script found. */
function failGuards(reply: Reply, guards: RecordGuards): never {
  const [, state, owner, version, expiresAt] = reply as string[];
  checkGuards(
    state === ''
      ? null
      : {
          state: state as SessionState,
          owner: owner === '' ? null : (owner as string),
          version: Number(version),
          expiresAt: expiresAt === '' ? null : Number(expiresAt),
        },
    guards,
  );
  throw new StoreUnavailableError('Redis refused a write whose guards hold; this is a bug');
}

function toRecord(id: string, fields: Record<string, string>): SessionRecord {
  const context: string[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (field.startsWith('"')) context.push(`${field}:${value}`);
  }
  return {
    id,
    state: fields.state as SessionState,
    context: JSON.parse(`{${context.join(',')}}`),
    metadata: JSON.parse(fields.metadata as string),
    owner: fields.owner ?? null,
    createdAt: Number(fields.createdAt),
    lastActivityAt: Number(fields.lastActivityAt),
    expiresAt: fields.expiresAt === undefined ? null : Number(fields.expiresAt),
    version: Number(fields.version),
    messageCount: Number(fields.messageCount),
  };
}

function pairsToObject(flat: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [field, value] of pairs(flat)) {
    Object.defineProperty(fields, field, { value, enumerable: true, writable: true });
  }
  return fields;
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}

function toEntry(seq: number, value: string): LogEntry {
  const comma = value.indexOf(',');
  return { seq, at: Number(value.slice(0, comma)), data: JSON.parse(value.slice(comma + 1)) };
}

/** The index entry a record's fields call for, as the scripts encode it. */
function metaOf(fields: Record<string, string>): string {
  const parts = [
    fields.gen,
    fields.version,
    fields.state,
    fields.expiresAt ?? '-',
    fields.messageCount,
    fields.createdAt,
  ];
  if (fields.owner !== undefined) parts.push(fields.owner);
  return parts.join(' ');
}

/** Whether two index entries index the same thing (their versions may differ). */
function sameEntry(a: string, b: string | null): boolean {
  if (b === null) return false;
  const strip = (meta: string) => {
    const parts = meta.split(' ');
    parts.splice(1, 1);
    return parts.join(' ');
  };
  return strip(a) === strip(b);
}
