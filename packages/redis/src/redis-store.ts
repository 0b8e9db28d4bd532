import {
  type AppendOptions,
  type AppendResult,
  assertValidKey,
  assertValidOwner,
  type CreateOptions,
  checkGuards,
  checkImportedLogs,
  checkOptionalPositive,
  checkStoreArgs,
  decodeListCursor,
  emptyStats,
  encodeListCursor,
  expectedStates,
  InvalidStoreUrlError,
  InvalidValueError,
  isExpired,
  isVisibleTo,
  type JsonValue,
  type ListOptions,
  type ListPage,
  type LogEntry,
  PayloadTooLargeError,
  type ReadOptions,
  type RecordGuards,
  redactUrl,
  SESSION_STATES,
  type SessionChange,
  SessionExistsError,
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
import { Cluster, Redis } from 'ioredis';
import { DEFAULT_PREFIX, KeyLayout } from './keys.js';
import { type LuaScript, SCRIPTS } from './scripts.js';
import { parseRedisUrl, type UrlStoreOptions } from './url.js';

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
   * including time queued while reconnecting. Default 5000.
   */
  commandTimeoutMs?: number;
  /** With `url` only: milliseconds to establish a connection. Default 5000. */
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
const DEFAULT_SWEEP_LIMIT = 1_000;
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
 */
export class RedisSessionStore implements SessionStore {
  readonly capabilities: StoreCapabilities = Object.freeze({
    durable: true,
    sharedAcrossProcesses: true,
    nativeExpiry: true,
  });
  /** The ioredis client in use. */
  readonly client: RedisClient;
  /** Start of every key this store writes. */
  readonly prefix: string;

  readonly #keys: KeyLayout;
  readonly #graceMs: number;
  readonly #ownsClient: boolean;
  /**
   * How long an operation waits for the client to be ready, in milliseconds; 0 when the client queues
   * commands itself (a client you passed in with its offline queue on).
   */
  readonly #connectWaitMs: number = 0;
  /** Settles when the client is next ready (or has ended); shared by every operation waiting for it. */
  #nextReady: Promise<void> | undefined;
  /** Standalone server: session scripts maintain the index themselves. */
  readonly #inline: boolean;
  #closed = false;

  /**
   * Checks every option, then (with `url`) creates the client, which connects in the background.
   * @throws InvalidValueError naming a bad option and what is allowed (`InvalidStoreUrlError` for a URL
   *   that cannot be read).
   */
  constructor(options: RedisSessionStoreOptions) {
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
    this.#graceMs = milliseconds(settings, 'expiryGraceMs', DEFAULT_GRACE_MS, 0);
    let client: RedisClient;
    if (parsed) {
      const commandTimeout = milliseconds(
        settings,
        'commandTimeoutMs',
        DEFAULT_COMMAND_TIMEOUT_MS,
        1,
      );
      const connectTimeout = milliseconds(
        settings,
        'connectTimeoutMs',
        DEFAULT_CONNECT_TIMEOUT_MS,
        1,
      );
      if (settings.cluster !== undefined && typeof settings.cluster !== 'boolean') {
        throw new InvalidValueError(
          `cluster must be true or false, got ${String(settings.cluster)}`,
        );
      }
      if (settings.cluster && parsed.db !== 0) {
        throw new InvalidValueError('Redis Cluster has only database 0; drop the /db from the URL');
      }
      client = connect(parsed, settings.cluster === true, commandTimeout, connectTimeout);
      this.#ownsClient = true;
      this.#connectWaitMs = commandTimeout;
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
  }

  /** One script inserts the record (and its imported logs), replacing an expired one. */
  async create(record: SessionRecord, options: CreateOptions): Promise<void> {
    return this.#run('create', async () => {
      checkStoreArgs(record?.id);
      checkNow(options?.now);
      const logs = checkImportedLogs(options.logs);
      const fields = recordFields(record);
      const entries: string[] = [];
      for (const [log, list] of logs) {
        const first = list[0];
        const last = list.at(-1);
        if (!first || !last) continue;
        entries.push(log, `${first.seq} ${last.seq}`);
        for (const entry of list) {
          entries.push(`${log}#${entry.seq}`, `${entry.at},${toJson(entry.data, `logs.${log}`)}`);
        }
      }
      const reply = await this.#eval(SCRIPTS.create, this.#sessionKeys(record.id), [
        record.id,
        String(options.now),
        String(this.#graceMs),
        String(fields.length),
        ...fields,
        ...entries,
      ]);
      if (reply[0] === 'exists') throw new SessionExistsError(record.id);
      if (!this.#inline) {
        await this.#indexOp(
          'apply',
          record.id,
          String(reply[1]),
          String(options.now - this.#graceMs),
        );
      }
    });
  }

  /** One `HGETALL`: the record and its context live in one hash. */
  async get(
    id: string,
    options: { now: number; owner?: string | null },
  ): Promise<SessionRecord | null> {
    return this.#run('get', async () => {
      checkStoreArgs(id);
      checkNow(options?.now);
      const [key] = this.#keys.session(id);
      const fields = await this.client.hgetall(key);
      if (fields.state === undefined) return null;
      const record = toRecord(id, fields);
      return isExpired(record, options.now) || !isVisibleTo(record, options.owner) ? null : record;
    });
  }

  /** One script: guards, the context size check, the change, the new expiry of every key. */
  async update(id: string, change: SessionChange, options: UpdateOptions): Promise<SessionRecord> {
    return this.#run('update', async () => {
      checkStoreArgs(id);
      const guards = guardArgs(options);
      checkOptionalPositive(options.maxContextBytes, 'maxContextBytes');
      const { replace, set, remove } = contextChange(change);
      const exp = change.expiresAt;
      if (exp !== undefined && exp !== null) checkTime(exp, 'expiresAt');
      if (change.lastActivityAt !== undefined) checkTime(change.lastActivityAt, 'lastActivityAt');
      if (change.state !== undefined) checkState(change.state, 'state');
      const metadata =
        change.metadata === undefined ? '' : toJsonObject(change.metadata, 'metadata');
      const reply = await this.#eval(SCRIPTS.update, this.#sessionKeys(id), [
        id,
        String(this.#graceMs),
        ...guards,
        options.maxContextBytes === undefined ? '' : String(options.maxContextBytes),
        change.state ?? '',
        metadata,
        replace ? '1' : '',
        change.lastActivityAt === undefined ? '' : String(change.lastActivityAt),
        exp === undefined ? '' : exp === null ? 'null' : 'set',
        exp === undefined || exp === null ? '' : String(exp),
        ...touchArgs(change.touch),
        String(set.length / 2),
        ...set,
        ...remove,
      ]);
      if (reply[0] === 'guard') failGuards(reply, options);
      if (reply[0] === 'too_large') {
        throw new PayloadTooLargeError(
          'context',
          options.maxContextBytes as number,
          Number(reply[1]),
        );
      }
      if (!this.#inline && reply[1] !== '') await this.#indexOp('apply', id, String(reply[1]), '');
      return toRecord(id, pairsToObject(reply[2] as string[]));
    });
  }

  /** One script: guards, seqs, the entries, trimming to `cap`, the record's counters and expiry. */
  async append(
    id: string,
    log: string,
    entries: readonly JsonValue[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    return this.#run('append', async () => {
      checkStoreArgs(id, log);
      const guards = guardArgs(options);
      checkOptionalPositive(options.cap, 'cap');
      if (!Array.isArray(entries) || entries.length === 0) {
        throw new InvalidValueError('append needs at least one entry');
      }
      const at = String(options.now);
      const values = entries.map((data, i) => `${at},${toJson(data, `entries[${i}]`)}`);
      const reply = await this.#eval(SCRIPTS.append, this.#sessionKeys(id), [
        id,
        String(this.#graceMs),
        ...guards,
        log,
        options.cap === undefined ? '' : String(options.cap),
        options.countMessages ? '1' : '',
        ...touchArgs(options.touch),
        ...values,
      ]);
      if (reply[0] === 'guard') failGuards(reply, options);
      if (!this.#inline && reply[5] !== '') await this.#indexOp('apply', id, String(reply[5]), '');
      return {
        firstSeq: Number(reply[1]),
        lastSeq: Number(reply[2]),
        version: Number(reply[3]),
        messageCount: Number(reply[4]),
      };
    });
  }

  /** One script: guards, then the page's entries fetched by seq arithmetic. */
  async read(id: string, log: string, options: ReadOptions): Promise<LogEntry[]> {
    return this.#run('read', async () => {
      checkStoreArgs(id, log);
      const guards = guardArgs(options);
      checkOptionalPositive(options.limit, 'limit');
      checkSeq(options.afterSeq, 'afterSeq');
      checkSeq(options.beforeSeq, 'beforeSeq');
      if (options.order !== undefined && options.order !== 'asc' && options.order !== 'desc') {
        throw new InvalidValueError(`order must be "asc" or "desc", got ${String(options.order)}`);
      }
      const [record, logs] = this.#keys.session(id);
      const reply = await this.#eval(
        SCRIPTS.read,
        [record, logs],
        [
          ...guards,
          log,
          options.afterSeq === undefined ? '' : String(options.afterSeq),
          options.beforeSeq === undefined ? '' : String(options.beforeSeq),
          options.limit === undefined ? '' : String(options.limit),
          options.order === 'desc' ? '1' : '',
        ],
      );
      if (reply[0] === 'guard') failGuards(reply, options);
      const start = Number(reply[1]);
      const step = Number(reply[2]);
      return (reply[3] as (string | null)[]).map((value, i) => {
        if (value === null) throw new StoreUnavailableError(`Log "${log}" is missing an entry`);
        return toEntry(start + i * step, value);
      });
    });
  }

  /** One script unlinks both keys of the session (and, standalone, its index entry). */
  async delete(id: string): Promise<boolean> {
    return this.#run('delete', async () => {
      checkStoreArgs(id);
      const reply = await this.#eval(SCRIPTS.remove, this.#sessionKeys(id), [id]);
      if (!this.#inline && reply[1] !== '') await this.#indexOp('drop', id, String(reply[1]));
      return Number(reply[0]) === 1;
    });
  }

  /**
   * Walks the id index (or the owner index) in byte order from the cursor, at most 1000 entries per
   * round trip, then re-reads every candidate: only live records matching the filter are returned.
   */
  async list(options: ListOptions): Promise<ListPage> {
    return this.#run('list', async () => {
      checkNow(options?.now);
      checkOptionalPositive(options.limit, 'limit');
      if (options.limit === undefined) throw new InvalidValueError('list needs a limit');
      if (options.state !== undefined) checkState(options.state, 'state');
      if (options.owner !== undefined) assertValidOwner(options.owner);
      let after = decodeListCursor(options.cursor) ?? '';
      const wanted = options.limit + 1;
      const page: SessionRecord[] = [];
      for (;;) {
        const reply = (await this.#eval(
          SCRIPTS.list,
          [...this.#keys.index],
          [
            String(options.now),
            options.state ?? '',
            options.owner === undefined ? '' : 'o',
            options.owner ?? '',
            after,
            String(wanted - page.length),
            String(LIST_BUDGET),
          ],
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
      const records = page.slice(0, options.limit);
      const last = records.at(-1);
      return {
        records,
        nextCursor: page.length > options.limit && last ? encodeListCursor(last.id) : null,
      };
    });
  }

  /**
   * Deletes sessions due by the expiry index through a per-session script that checks the record itself.
   * Returns how many it deleted; sessions Redis had already expired are dropped from the index, uncounted.
   */
  async sweep(now: number, options: SweepOptions = {}): Promise<number> {
    return this.#run('sweep', async () => {
      checkNow(now);
      checkOptionalPositive(options.limit, 'limit');
      const limit = options.limit ?? DEFAULT_SWEEP_LIMIT;
      let deleted = 0;
      while (deleted < limit) {
        const reply = (await this.#eval(
          SCRIPTS.due,
          [...this.#keys.index],
          [String(now), String(limit - deleted)],
        )) as string[];
        if (reply.length === 0) break;
        const outcomes = await Promise.all(
          pairs(reply).map(([id, meta]) => this.#expire(id, meta, now)),
        );
        deleted += outcomes.filter((outcome) => outcome === 'deleted').length;
        if (outcomes.every((outcome) => outcome === 'stuck')) break;
      }
      return deleted;
    });
  }

  /** One script over the index: running sums per state, minus the entries already past expiry. */
  async stats(now: number): Promise<StoreStats> {
    return this.#run('stats', async () => {
      checkNow(now);
      const reply = await this.#eval(SCRIPTS.stats, [...this.#keys.index], [String(now)]);
      const stats = emptyStats();
      SESSION_STATES.forEach((state, i) => {
        stats.byState[state] = Number(reply[i]);
        stats.total += Number(reply[i]);
      });
      stats.expired = Number(reply[4]);
      stats.messages = Number(reply[5]);
      stats.oldestCreatedAt = reply[6] === '' ? null : Number(reply[6]);
      return stats;
    });
  }

  /**
   * Stops the store; later calls fail with `StoreClosedError`. Closes the client only if the store
   * created it from a URL (a client you passed in stays open). Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
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

  async #run<T>(what: string, body: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreClosedError();
    try {
      await this.#connected();
      return await body();
    } catch (error) {
      // ioredis can fail a command without any I/O (a socket that just died, before its close event). A
      // caller retrying such failures in a loop would then never give the event loop a turn, the close
      // would never be processed and the client could never reconnect; failing a turn later avoids that.
      await new Promise((resolve) => setImmediate(resolve));
      throw toStoreError(error, `Redis ${what}`);
    }
  }

  /**
   * Waits (up to the command timeout) until a client without an offline queue is connected. Our own
   * clients have none: ioredis would send a queued command after reconnecting even when it had already
   * failed it with a timeout, so an append the caller saw fail (and may have retried) could still be
   * applied. Waiting here instead means an operation that gave up is never sent.
   */
  async #connected(): Promise<void> {
    const client = this.client;
    if (this.#connectWaitMs === 0 || client.status === 'ready') return;
    if (client.status === 'end') throw new StoreUnavailableError('The Redis connection has ended');
    this.#nextReady ??= new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        this.#nextReady = undefined;
        client.off('ready', onReady);
        client.off('end', onEnd);
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => settle();
      const onEnd = () => settle(new StoreUnavailableError('The Redis connection has ended'));
      client.on('ready', onReady);
      client.on('end', onEnd);
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new StoreUnavailableError(
              `No connection to Redis within ${this.#connectWaitMs} ms; nothing was sent`,
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

  #sessionKeys(id: string): string[] {
    const keys = this.#keys.session(id);
    return this.#inline ? [...keys, ...this.#keys.index] : keys;
  }

  /** EVALSHA, or EVAL when the server does not have the script (first use, restart, SCRIPT FLUSH). */
  async #eval(script: LuaScript, keys: string[], args: string[]): Promise<Reply> {
    try {
      return (await this.client.call('EVALSHA', [
        script.sha,
        keys.length,
        ...keys,
        ...args,
      ])) as Reply;
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return (await this.client.call('EVAL', [script.lua, keys.length, ...keys, ...args])) as Reply;
    }
  }

  /** Index maintenance and repair (see the index script). Returns whether the index changed. */
  async #indexOp(...args: string[]): Promise<boolean> {
    return Number(await this.#eval(SCRIPTS.index, [...this.#keys.index], args)) === 1;
  }

  /**
   * Reads a listing candidate's record and repairs its index entry when the two disagree (the record is
   * gone, or on a Cluster an index write was lost or overtaken). Returns the record when it is live.
   */
  async #verify(id: string, meta: string, now: number): Promise<SessionRecord | null> {
    const [key] = this.#keys.session(id);
    const fields = await this.client.hgetall(key);
    const record = fields.state === undefined ? null : toRecord(id, fields);
    const actual = record ? metaOf(fields) : '';
    if (meta !== '' && !sameEntry(meta, actual)) await this.#indexOp('cas', id, meta, actual);
    return record && !isExpired(record, now) ? record : null;
  }

  /** One sweep step: deletes an expired session, or cleans or repairs its index entry. */
  async #expire(id: string, meta: string, now: number): Promise<'deleted' | 'cleaned' | 'stuck'> {
    const reply = await this.#eval(SCRIPTS.expire, this.#sessionKeys(id), [id, String(now)]);
    if (reply[0] === 'deleted') {
      if (!this.#inline) await this.#indexOp('drop', id, String(reply[1]));
      return 'deleted';
    }
    if (reply[0] === 'absent' && this.#inline) return 'cleaned';
    const actual = reply[0] === 'absent' ? '' : String(reply[1]);
    return (await this.#indexOp('cas', id, meta, actual)) ? 'cleaned' : 'stuck';
  }
}

/**
 * `redis://…` or `rediss://…`: a store with its own client (what `createStore` calls). A bad option in
 * the URL fails with `InvalidStoreUrlError` naming it; the password never appears in messages.
 */
export function storeFromUrl(url: string): RedisSessionStore {
  try {
    return new RedisSessionStore({ url });
  } catch (error) {
    if (!(error instanceof InvalidValueError)) throw error;
    throw new InvalidStoreUrlError(`${error.message} (in "${redactUrl(String(url))}")`, {
      cause: error,
    });
  }
}

function connect(
  parsed: ReturnType<typeof parseRedisUrl>,
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

function urlOf(url: unknown): string {
  if (typeof url !== 'string') {
    throw new InvalidValueError('url must be a string such as redis://localhost:6379');
  }
  return url;
}

function milliseconds(
  settings: RedisSessionStoreOptions,
  key: 'expiryGraceMs' | 'commandTimeoutMs' | 'connectTimeoutMs',
  fallback: number,
  min: 0 | 1,
): number {
  const value = settings[key] ?? fallback;
  if (!(Number.isSafeInteger(value) && value >= min)) {
    throw new InvalidValueError(
      `${key} must be ${min === 0 ? 'a non-negative' : 'a positive'} whole number of milliseconds, got ${String(value)}`,
    );
  }
  return value;
}

function checkNow(now: unknown): void {
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw new InvalidValueError(`now must be epoch milliseconds, got ${String(now)}`);
  }
}

function checkTime(value: unknown, name: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidValueError(`${name} must be epoch milliseconds, got ${String(value)}`);
  }
}

function checkState(state: unknown, name: string): asserts state is SessionState {
  if (!SESSION_STATES.includes(state as SessionState)) {
    throw new InvalidValueError(
      `${name} must be one of ${SESSION_STATES.join(', ')}, got ${JSON.stringify(state)}`,
    );
  }
}

function checkSeq(value: unknown, name: string): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 0)) {
    throw new InvalidValueError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
}

function checkCount(value: unknown, name: string): void {
  if (!(Number.isSafeInteger(value) && (value as number) >= 0)) {
    throw new InvalidValueError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
}

/** The guard arguments every session script takes: now, owner mode, owner, version, states. */
function guardArgs(guards: RecordGuards): string[] {
  checkNow(guards?.now);
  const { owner, expectedVersion } = guards;
  if (owner !== undefined && owner !== null && typeof owner !== 'string') {
    throw new InvalidValueError(`owner must be a string or null, got ${String(owner)}`);
  }
  if (expectedVersion !== undefined) checkCount(expectedVersion, 'expectedVersion');
  const states = expectedStates(guards.expectedState);
  for (const state of states ?? []) checkState(state, 'expectedState');
  return [
    String(guards.now),
    owner === undefined ? '' : owner === null ? 'n' : 'o',
    owner ?? '',
    expectedVersion === undefined ? '' : String(expectedVersion),
    // An empty list admits no state; a lone comma encodes it (no state name matches).
    states === undefined ? '' : states.length === 0 ? ',' : states.join(','),
  ];
}

function touchArgs(touch: Touch | undefined): string[] {
  if (touch === undefined) return ['', '', ''];
  checkTime(touch.at, 'touch.at');
  for (const key of ['idleTimeoutMs', 'maxLifetimeMs'] as const) {
    const value = touch[key];
    if (value !== null && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
      throw new InvalidValueError(`touch.${key} must be null or non-negative milliseconds`);
    }
  }
  return [
    String(touch.at),
    touch.idleTimeoutMs === null ? '' : String(touch.idleTimeoutMs),
    touch.maxLifetimeMs === null ? '' : String(touch.maxLifetimeMs),
  ];
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

function toJson(value: unknown, path: string): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new InvalidValueError('Value is not JSON', path);
  return json;
}

function toJsonObject(value: unknown, path: string): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidValueError(`${path} must be a JSON object`);
  }
  return toJson(value, path);
}

/** The record hash fields of a new record (see the data model in scripts.ts). */
function recordFields(record: SessionRecord): string[] {
  if (typeof record !== 'object' || record === null)
    throw new InvalidValueError('record must be an object');
  checkState(record.state, 'record.state');
  assertValidOwner(record.owner);
  checkTime(record.createdAt, 'record.createdAt');
  checkTime(record.lastActivityAt, 'record.lastActivityAt');
  if (record.expiresAt !== null) checkTime(record.expiresAt, 'record.expiresAt');
  checkCount(record.version, 'record.version');
  checkCount(record.messageCount, 'record.messageCount');
  const fields = [
    'state',
    record.state,
    'createdAt',
    String(record.createdAt),
    'lastActivityAt',
    String(record.lastActivityAt),
    'version',
    String(record.version),
    'messageCount',
    String(record.messageCount),
    'metadata',
    toJsonObject(record.metadata, 'record.metadata'),
  ];
  if (record.owner !== null) fields.push('owner', record.owner);
  if (record.expiresAt !== null) fields.push('expiresAt', String(record.expiresAt));
  toJsonObject(record.context, 'record.context');
  let bytes = 0;
  for (const [key, value] of Object.entries(record.context)) {
    const field = JSON.stringify(key);
    const json = toJson(value, `record.context.${key}`);
    fields.push(field, json);
    bytes += Buffer.byteLength(field) + Buffer.byteLength(json) + 2;
  }
  fields.push('contextBytes', String(bytes));
  return fields;
}

/**
 * A change's context part as the update script takes it: whether the context is replaced, the fields to
 * set, and the fields to delete. Replacement, then sets, then deletes, as the contract orders them.
 */
function contextChange(change: SessionChange): {
  replace: boolean;
  set: string[];
  remove: string[];
} {
  if (typeof change !== 'object' || change === null)
    throw new InvalidValueError('change must be an object');
  const values = new Map<string, string>();
  const replace = change.context !== undefined;
  if (replace) {
    toJsonObject(change.context, 'context');
    for (const [key, value] of Object.entries(change.context as object)) {
      values.set(JSON.stringify(key), toJson(value, `context.${key}`));
    }
  }
  for (const [key, value] of Object.entries(change.contextSet ?? {})) {
    assertValidKey(key, undefined, `contextSet.${key}`);
    values.set(JSON.stringify(key), toJson(value, `contextSet.${key}`));
  }
  const remove: string[] = [];
  for (const key of change.contextDelete ?? []) {
    if (typeof key !== 'string') throw new InvalidValueError('contextDelete must list string keys');
    const field = JSON.stringify(key);
    values.delete(field);
    if (!replace) remove.push(field);
  }
  return { replace, set: [...values].flat(), remove };
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
function sameEntry(a: string, b: string): boolean {
  if (b === '') return false;
  const strip = (meta: string) => {
    const parts = meta.split(' ');
    parts.splice(1, 1);
    return parts.join(' ');
  };
  return strip(a) === strip(b);
}
