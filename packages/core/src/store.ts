import type {
  JsonObject,
  JsonValue,
  LogEntry,
  SessionRecord,
  SessionState,
  StoreCapabilities,
  StoreStats,
} from './types.js';

/** Options of `create`. */
export interface CreateOptions {
  /** Current time, epoch milliseconds: an existing record counts as live unless `expiresAt <= now`. */
  now: number;
  /**
   * Logs created together with the record (import and migration use this), keyed by log name. Each
   * log's entries keep their `seq` and `at`; seqs must be consecutive positive integers, as a log's
   * retained entries always are. Later appends continue after the last seq. Check them with
   * `checkImportedLogs`.
   */
  logs?: Readonly<Record<string, readonly LogEntry[]>>;
}

/**
 * Guards every store primitive that targets one record understands. They are checked atomically with
 * the operation, in this order: the record exists and is not expired → `owner` → `expectedVersion` →
 * `expectedState`.
 */
export interface RecordGuards {
  /** Current time, epoch milliseconds. A record with `expiresAt <= now` is treated as absent. */
  now: number;
  /**
   * When given (even as null), the record is treated as absent unless its owner is null or equal to this
   * value. Owner mismatches therefore surface exactly like missing records.
   */
  owner?: string | null;
  /** Fail with `VersionConflictError` (guard `version`) unless the record is at this version. */
  expectedVersion?: number;
  /** Fail with `VersionConflictError` (guard `state`) unless the record is in (one of) these states. */
  expectedState?: SessionState | readonly SessionState[];
}

/**
 * One atomic change to a record. Fields left undefined are untouched. `context` (whole replacement) is
 * applied before `contextSet` and `contextDelete`, so all three may be combined.
 */
export interface SessionChange {
  state?: SessionState;
  /** Replaces the whole metadata object. */
  metadata?: JsonObject;
  /** Replaces the whole context object. */
  context?: JsonObject;
  /**
   * Sets individual top-level context keys. Keys not named here are untouched, so concurrent writers of
   * disjoint keys never overwrite each other.
   */
  contextSet?: Readonly<Record<string, JsonValue>>;
  /** Removes individual top-level context keys (absent keys are ignored). */
  contextDelete?: readonly string[];
  /** Epoch milliseconds. */
  lastActivityAt?: number;
  /** Absolute expiry, epoch milliseconds, or null for never. */
  expiresAt?: number | null;
  /** Slides `lastActivityAt`/`expiresAt`; applied after the two fields above. */
  touch?: Touch;
}

/** Options of `update`. */
export interface UpdateOptions extends RecordGuards {
  /**
   * When given, the update fails with `PayloadTooLargeError` and writes nothing if the context it leaves,
   * serialized as JSON by the backend, is larger than this many bytes — whether or not the change touches
   * the context: a touch, state or metadata change of a record whose stored context is already over the
   * limit fails too, and a change that brings the context under the limit passes. Backends serialize
   * slightly differently (whitespace), so treat it as a bound with a few percent of slack.
   */
  maxContextBytes?: number;
}

/**
 * Slides a session's expiry in the same atomic step as a write. The store sets `lastActivityAt = at` and
 * `expiresAt = min(at + idleTimeoutMs, createdAt + maxLifetimeMs)`, where a null term is no bound and
 * both null means never (see `slidingExpiry`). The store computes it because only it has `createdAt` at
 * hand inside the atomic step.
 */
export interface Touch {
  /** Time of the activity, epoch milliseconds. */
  at: number;
  /** Sliding idle window, milliseconds, or null for none. */
  idleTimeoutMs: number | null;
  /** Absolute lifetime counted from `createdAt`, milliseconds, or null for none. */
  maxLifetimeMs: number | null;
}

/** Options of `append`. */
export interface AppendOptions extends RecordGuards {
  /**
   * Keep only the newest `cap` entries of this log after the append (a positive integer). Omit for an
   * uncapped log.
   */
  cap?: number;
  /** Add the number of appended entries to the record's `messageCount`. */
  countMessages?: boolean;
  /** Also slide `lastActivityAt` and `expiresAt` in the same atomic step. */
  touch?: Touch;
}

/** Result of `append`. */
export interface AppendResult {
  /** Seq of the first appended entry; the batch has contiguous seqs `firstSeq..lastSeq`. */
  firstSeq: number;
  /** Seq of the last appended entry. */
  lastSeq: number;
  /** The record's version after the append. */
  version: number;
  /** The record's `messageCount` after the append. */
  messageCount: number;
}

/** One entry of a `replaceEntries` batch: the entry of the log with this `seq` gets `value`. */
export interface ReplacementEntry {
  /** Seq of the entry to replace, a positive integer. */
  seq: number;
  /** The entry's new value (plain JSON, as `append` takes). */
  value: JsonValue;
}

/** Options of `replaceEntries`; the guards apply as for `update`. */
export interface ReplaceEntriesOptions extends RecordGuards {}

/** Result of `replaceEntries`. */
export interface ReplaceEntriesResult {
  /** How many entries of the batch were in the log and now hold their new value. */
  replaced: number;
  /** The record's version after the call: one more than before when `replaced > 0`, else unchanged. */
  version: number;
}

/** Options of `read`; the guards apply as for `update`. */
export interface ReadOptions extends RecordGuards {
  /** Only entries with `seq > afterSeq`. */
  afterSeq?: number;
  /** Only entries with `seq < beforeSeq`. */
  beforeSeq?: number;
  /** At most this many entries (a positive integer). */
  limit?: number;
  /**
   * `asc` (default) returns the oldest matching entries first; `desc` the newest first, so
   * `{ order: 'desc', limit: 20 }` is "the last 20".
   */
  order?: 'asc' | 'desc';
}

/** Options of `list`. */
export interface ListOptions {
  /** Current time, epoch milliseconds; expired records are never listed. */
  now: number;
  state?: SessionState;
  /** Only records bound to exactly this owner. */
  owner?: string;
  /** Page size, a positive integer. */
  limit: number;
  /** `nextCursor` of the previous page. Opaque. */
  cursor?: string | null;
}

/** One page of `list`, ordered by storage id ascending. */
export interface ListPage {
  records: SessionRecord[];
  /** Pass to the next call; null when this was the last page. */
  nextCursor: string | null;
}

/** Options of `count`. */
export interface CountOptions {
  /** Current time, epoch milliseconds; expired records (`expiresAt <= now`) are never counted. */
  now: number;
  /**
   * Only records bound to exactly this owner (compared as the exact string, like `list`). Unbound records
   * are never counted under an owner. Omit it to count every owner's records and unbound ones.
   */
  owner?: string;
  /** Only records in one of these states (a non-empty list). Omit it for every state. */
  states?: readonly SessionState[];
}

/** Options of `sweep`. */
export interface SweepOptions {
  /** Delete at most this many expired records in this call (a positive integer). Default 1000. */
  limit?: number;
}

/**
 * The adapter contract: small atomic primitives a backend must provide. Policy (ids, TTL, the state
 * machine, validation, history caps) lives in `SessionManager`; a store stores.
 *
 * Rules every implementation obeys (the conformance suite checks them):
 * - Every primitive is atomic: it happens entirely or not at all, also against other processes when
 *   `capabilities.sharedAcrossProcesses` is true.
 * - Values handed in and out are copies: mutating an argument or a result never changes stored data.
 * - Times come from the caller (`now`); a store never reads its own clock to decide expiry.
 * - Two sessions never see each other's data, logs included.
 * - Backend failures surface as `StoreUnavailableError`; after `close()`, `StoreClosedError`.
 */
export interface SessionStore {
  readonly capabilities: StoreCapabilities;

  /**
   * Live messages between the processes that open this store's location: present exactly when
   * `capabilities.messaging` is true. `close()` releases it (its dedicated connections, timers and
   * subscriptions). See `MessageBus` for the delivery guarantee.
   */
  readonly messages?: MessageBus;

  /**
   * Inserts a new record exactly as given (including `version` and `messageCount`), with the logs in
   * `options.logs` if any, in one atomic step. An expired record with the same id is replaced, its logs
   * dropped.
   * @throws SessionExistsError when a non-expired record has this id — create never overwrites.
   * @throws InvalidValueError when `options.logs` is malformed (nothing is written).
   */
  create(record: SessionRecord, options: CreateOptions): Promise<void>;

  /** Returns a copy of the record, or null when it is absent, expired, or hidden by `owner`. */
  get(id: string, options: { now: number; owner?: string | null }): Promise<SessionRecord | null>;

  /**
   * Applies one change atomically and returns the new record; `version` increments by one.
   * @throws SessionNotFoundError when absent, expired or hidden by `owner`.
   * @throws VersionConflictError when `expectedVersion` or `expectedState` does not hold.
   * @throws PayloadTooLargeError when `maxContextBytes` would be exceeded (nothing is written).
   */
  update(id: string, change: SessionChange, options: UpdateOptions): Promise<SessionRecord>;

  /**
   * Appends entries to the named log of a session in one atomic step: assigns contiguous seqs, trims the
   * log to the newest `cap` entries, bumps `version` (and `messageCount` when asked), and applies `touch`.
   * Its cost must not grow with the length of the log.
   * @throws SessionNotFoundError / VersionConflictError as for `update`.
   */
  append(
    id: string,
    log: string,
    entries: readonly JsonValue[],
    options: AppendOptions,
  ): Promise<AppendResult>;

  /**
   * Replaces the values of existing entries of one log in one atomic step; each keeps its `seq` and `at`.
   * Seqs no longer in the log (trimmed by a capped append meanwhile) or never there are skipped. Bumps the
   * record's `version` by one when at least one entry was replaced; nothing else of the record changes
   * (not `messageCount`, not `lastActivityAt`, not `expiresAt`: it is maintenance, not activity).
   * Owner and expiry are checked before any entry is read or written (a foreign owner's call touches no
   * log data). Rewriting stored history in place (re-encryption with a new key) is what it is for.
   * @throws SessionNotFoundError / VersionConflictError as for `update`.
   * @throws InvalidValueError for a malformed batch (not an array — empty is allowed and replaces
   *   nothing —, a seq that is not a positive safe integer, the same seq twice, a value that is not valid
   *   JSON data by the same rules `append` applies) — nothing is written.
   */
  replaceEntries(
    id: string,
    log: string,
    entries: readonly ReplacementEntry[],
    options: ReplaceEntriesOptions,
  ): Promise<ReplaceEntriesResult>;

  /**
   * Reads a page of a log. A log that was never written reads as empty.
   * @throws SessionNotFoundError / VersionConflictError as for `update`.
   */
  read(id: string, log: string, options: ReadOptions): Promise<LogEntry[]>;

  /** Removes the record and all its logs. Returns whether a record (expired or not) was there. */
  delete(id: string): Promise<boolean>;

  /** Pages through non-expired records, ordered by id. By-owner listing uses an index. */
  list(options: ListOptions): Promise<ListPage>;

  /**
   * How many live (non-expired) records match: of exactly `owner` when given, in one of `states` when
   * given. Quotas on stored sessions are checked with it (`SessionManager`'s `maxSessionsPerOwner` and
   * `maxSessions`), so it must be computed by the backend, never by loading every record into JS:
   * - with `owner`, through the owner index that `list({ owner })` uses, at a cost that grows with that
   *   owner's records only, never with the whole store's;
   * - without `owner`, by the backend's own aggregate (a SQL `COUNT`, a running sum) where it has one; a
   *   backend without one walks its records and says so (the file store, as for `list` and `stats`).
   *
   * It is atomic about one consistent state: the number is what the store held at one moment (one
   * statement or script; a backend without multi-record snapshots counts each record in one committed
   * state, and a record created or deleted during the count may or may not be in it). Nothing more: the
   * count holds no lock, so a create that follows it may find the store changed. A caller deciding on it
   * (a quota) must serialize its own creates if it needs the limit exact.
   */
  count(options: CountOptions): Promise<number>;

  /**
   * Deletes up to `limit` expired records and their logs; returns how many were deleted. Callers loop
   * until it returns less than `limit`; each call is bounded so readers are never blocked for long.
   */
  sweep(now: number, options?: SweepOptions): Promise<number>;

  /** Aggregates over all records, computed by the backend where it can. */
  stats(now: number): Promise<StoreStats>;

  /**
   * Releases connections, timers and file handles so the process can exit. Idempotent. Later calls to
   * other primitives fail with `StoreClosedError`.
   */
  close(): Promise<void>;
}

/** Ends one subscription. Idempotent; resolves once no later message reaches its handler. */
export type Unsubscribe = () => Promise<void>;

/** Receives the payload of one message, exactly as it was published. */
export type MessageHandler = (payload: string) => void;

/**
 * A store's bus for live messages between processes (`store.messages`), on the engine's own mechanism:
 * Redis pub/sub, Postgres LISTEN/NOTIFY, a polled table or file for SQLite and the file store, in-process
 * for memory.
 *
 * Delivery guarantee, the same on every backend:
 * - **Live, at most once.** A message reaches each subscription of its channel that was live when the
 *   message was published (its `subscribe` had resolved), in every process that opened the same location.
 *   Nothing is stored for later: a subscriber that is not there (not yet subscribed, disconnected,
 *   crashed) never gets it, and nothing is replayed. What must survive belongs in a log (`append`), the
 *   bus only says "look" or carries what is worthless when late.
 * - **In order per channel and publisher.** Messages one process publishes on one channel, each after the
 *   previous `publish` resolved, arrive in that order. No order across channels or across publishers.
 * - **Exact channels.** A channel is compared as the exact string: no case folding, trimming or prefix
 *   matching; channels of two stores at different locations (prefixes, schemas, files) never meet.
 * - **Opaque payloads.** The bus never logs, parses or changes a payload; seal it if it is secret.
 * - A handler is called on the event loop, one message at a time per process; an exception it throws is
 *   reported with `process.emitWarning` (without the payload) and does not stop delivery.
 *
 * Arguments are checked before anything is sent (`checkPublishArgs`, `checkSubscribeArgs`): a channel is
 * 1–256 characters from space to `~` (0x20–0x7E); a payload a well-formed string without NUL of at most
 * `maxMessageBytes` UTF-8 bytes (default `DEFAULT_MAX_MESSAGE_BYTES`, 1 MiB). Failures of the engine are
 * `StoreUnavailableError`; after the store's `close()`, `StoreClosedError`.
 */
export interface MessageBus {
  /** Largest payload `publish` accepts, UTF-8 bytes. */
  readonly maxMessageBytes: number;

  /**
   * Sends `payload` to every live subscription of `channel`. Resolves when the engine has accepted the
   * message (not when it was delivered).
   * @throws InvalidValueError for a bad channel or payload, PayloadTooLargeError over `maxMessageBytes`:
   *   nothing is sent.
   */
  publish(channel: string, payload: string): Promise<void>;

  /**
   * Calls `onMessage` with every message published on `channel` from now on, until the returned
   * `Unsubscribe` is called or the store is closed. Resolves only once the subscription is live: a
   * `publish` that starts after it resolved, from any process, is delivered to it.
   * @throws InvalidValueError for a bad channel or a handler that is not a function.
   */
  subscribe(channel: string, onMessage: MessageHandler): Promise<Unsubscribe>;
}
