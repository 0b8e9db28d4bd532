import { type Clock, systemClock } from './clock.js';
import {
  type EncryptionBinding,
  isEncryptedValue,
  isKeyring,
  type Keyring,
  openValue,
  sealValue,
} from './encryption.js';
import {
  InvalidValueError,
  isSessionError,
  QuotaExceededError,
  SessionClosedError,
  SessionNotFoundError,
  SessionSuspendedError,
  type VersionConflictError,
} from './errors.js';
import { TypedEmitter } from './events.js';
import { DEFAULT_ID_BYTES, generateSessionId, SessionIdDigests } from './ids.js';
import {
  assertTransition,
  canTransition,
  RESUMABLE_STATES,
  SESSION_TRANSITIONS,
  WRITABLE_STATES,
} from './state-machine.js';
import type { ListPage, SessionChange, SessionStore, Touch } from './store.js';
import { slidingExpiry } from './store-kit.js';
import {
  type JsonObject,
  type JsonValue,
  type LogEntry,
  SESSION_STATES,
  type SessionRecord,
  type SessionState,
  type StoreStats,
} from './types.js';
import {
  assertMaxBytes,
  assertPositiveInteger,
  assertValidId,
  assertValidKey,
  assertValidLogName,
  assertValidOwner,
  jsonByteLength,
  markCheckedJson,
  resolveLimits,
  type SessionLimits,
  validateJson,
  validateJsonObject,
} from './validation.js';

/** Name of the log that holds the conversation history. */
export const HISTORY_LOG = 'history';

/** Options of `SessionManager`. Every duration is in milliseconds. */
export interface SessionManagerOptions {
  /** Where sessions live. The manager owns it: `manager.close()` closes it. */
  store: SessionStore;
  /** Source of "now" for every time decision. Default: the wall clock. Inject a `ManualClock` in tests. */
  clock?: Clock;
  /** Sliding idle timeout: a session expires this long after its last activity. Default 30 minutes; null disables. */
  idleTimeoutMs?: number | null;
  /** Absolute maximum lifetime from creation, whatever the activity. Default 24 hours; null disables. */
  maxLifetimeMs?: number | null;
  /**
   * Reads record activity (a write of `lastActivityAt`) only when at least this much time has passed since
   * the last recorded activity, so reads do not turn into writes. Default: a tenth of the idle timeout
   * (one minute without one). Writes always record activity, at no extra cost.
   */
  activityWriteIntervalMs?: number;
  /** How long a closed session stays as a tombstone (answering "not found") before it is swept. Default 1 hour. */
  closedRetentionMs?: number;
  /** Messages kept in a session's history; older ones are trimmed atomically on append. Default 100. */
  historyCap?: number;
  /**
   * Store only the SHA-256 digest of each session id, so a leaked database holds no live ids. Default true.
   * Every manager sharing a store must use the same setting.
   */
  hashIds?: boolean;
  /** Random bytes per session id (≥ 16). Default 24 (192 bits). */
  idBytes?: number;
  /** Size and structure limits for ids, context, metadata and messages. */
  limits?: Partial<SessionLimits>;
  /**
   * Most sessions one owner may have in the store, closed ones not counted (nor expired ones, which are
   * gone): a create beyond it fails with `QuotaExceededError` (scope `owner`) and writes nothing. Default
   * 1000; null disables it. Checked exactly on every create that has an owner, with `store.count` through
   * the owner index (its cost grows with that owner's sessions only). This manager runs one owner's
   * creates one at a time, so one process never overshoots; managers in other processes check on their
   * own, so together they may overshoot by as many creates as they run for that owner at the same moment.
   * Unbound sessions (no owner) count only toward `maxSessions`.
   */
  maxSessionsPerOwner?: number | null;
  /**
   * Most sessions the store may hold in all, closed ones not counted: a create beyond it fails with
   * `QuotaExceededError` (scope `total`) and writes nothing. Default 100,000; null disables it.
   * Approximate by design, so that a create never costs a count of the whole store: the manager counts
   * at most once per `quotaRefreshMs` and adds the sessions it created since. Sessions closed or expired
   * since the last count free their places at the next count; creates by other processes are seen only
   * then, so together they may overshoot by what they create in one refresh interval.
   */
  maxSessions?: number | null;
  /** How old the total count behind `maxSessions` may get before a create counts again. Default 10 s; 0 counts on every create. */
  quotaRefreshMs?: number;
  /** Called when an event listener throws. Default: `console.error`. */
  onListenerError?: (error: unknown, event: string) => void;
  /**
   * Encrypts every top-level context value and every history entry at rest with this keyring's current
   * key (`createKeyring`, `loadKeyringFile`); any key of it decrypts. Default: none, values are stored in
   * clear. With it, `limits.maxContextBytes` counts the stored (encrypted) form, about 4/3 of the JSON
   * plus ~60 bytes per key; `maxMessageBytes` counts the message in clear. Values in clear (written
   * before) still read, and are encrypted when next written or by `reencryptStore`. See the README,
   * "Encryption at rest", for what is and is not protected.
   */
  encryption?: Keyring;
}

/** A session as the manager hands it out: the record, with the caller's own session id as `id`. */
export interface Session extends Omit<SessionRecord, 'id'> {
  /** The session id (what clients send), not the storage id. */
  id: string;
}

/** Who is asking. A session bound to an owner is invisible to every other caller, who gets "not found". */
export interface AccessOptions {
  /** The authenticated principal; omitted means "no owner", which only sees unbound sessions. */
  owner?: string | null;
}

/** A message of the conversation history. Any extra fields are kept as they are. */
export interface SessionMessage extends JsonObject {
  /** Who spoke, e.g. "user", "assistant", "tool". */
  role: string;
  content: JsonValue;
}

/** A history message with its store-assigned sequence number and time. */
export type HistoryEntry = LogEntry<SessionMessage>;

/** Counters since this manager was created (per process). */
export interface ManagerCounters {
  sessionsCreated: number;
  sessionsResumed: number;
  sessionsClosed: number;
  sessionsExpired: number;
  messagesAdded: number;
  transitions: number;
  versionConflicts: number;
  activityWrites: number;
  /** Creates refused with `QuotaExceededError` (either scope). */
  quotaRefusals: number;
}

/** Process-local counters plus the store's own aggregates. */
export interface SessionMetrics {
  counters: ManagerCounters;
  store: StoreStats;
}

/** Per-session figures. */
export interface SessionStatistics {
  id: string;
  state: SessionState;
  /** Milliseconds since creation. */
  ageMs: number;
  /** Milliseconds since the last recorded activity. */
  idleMs: number;
  /** Milliseconds until expiry, or null for never. */
  expiresInMs: number | null;
  /** Messages ever added. */
  messageCount: number;
  /** Messages still in the capped history. */
  retainedMessages: number;
  contextKeys: number;
  /** UTF-8 JSON bytes of the context. */
  contextBytes: number;
  version: number;
}

/** The shape returned by `getConversationSummary`. */
export interface ConversationSummary {
  id: string;
  state: SessionState;
  /** Messages ever added. */
  messageCount: number;
  /** Messages still in the capped history. */
  retainedMessages: number;
  /** Retained messages per role. */
  byRole: Record<string, number>;
  /** Time of the oldest retained message, epoch milliseconds. */
  firstMessageAt: number | null;
  /** Time of the newest message, epoch milliseconds. */
  lastMessageAt: number | null;
  /** The newest few messages, oldest first. */
  recent: HistoryEntry[];
}

/** Events the manager emits after a successful write. Payload ids are session ids. */
export interface SessionEvents {
  created: { id: string; owner: string | null };
  resumed: { id: string; owner: string | null };
  updated: { id: string; version: number };
  message: { id: string; seq: number; role: string };
  transitioned: { id: string; from: SessionState; to: SessionState };
  closed: { id: string };
  expired: { count: number };
}

/** For each state, the states the state machine allows entering it from, in `SESSION_STATES` order. */
const TRANSITION_SOURCES: Readonly<Record<SessionState, readonly SessionState[]>> = Object.freeze({
  active: sourcesOf('active'),
  idle: sourcesOf('idle'),
  suspended: sourcesOf('suspended'),
  closed: sourcesOf('closed'),
});

function sourcesOf(to: SessionState): readonly SessionState[] {
  return SESSION_STATES.filter((from) => canTransition(from, to));
}

/** Session id digests a manager keeps: enough for every session a busy instance is serving. */
const ID_DIGESTS_KEPT = 4_096;

const DEFAULTS = {
  idleTimeoutMs: 30 * 60_000,
  maxLifetimeMs: 24 * 60 * 60_000,
  closedRetentionMs: 60 * 60_000,
  historyCap: 100,
  maxSessionsPerOwner: 1_000,
  maxSessions: 100_000,
  quotaRefreshMs: 10_000,
};

/** The states the quotas count: every state but closed (a tombstone holds no place). */
const QUOTA_STATES: readonly SessionState[] = ['active', 'idle', 'suspended'];

/** What the manager knows about the store's total, for `maxSessions`. */
interface TotalQuotaState {
  /** Sessions (not closed) the last count found. */
  counted: number;
  /** When it was counted, by the manager's clock; null before the first count. */
  countedAt: number | null;
  /** Sessions this manager created since that count. */
  created: number;
  /** Creates past the check and not yet finished, each already holding its place. */
  pending: number;
  /** The count under way, shared by every create that needs it. */
  refreshing: Promise<void> | undefined;
}

const SESSION_MANAGER_BRAND = Symbol.for('@mcp-session/core.SessionManager');

/**
 * True for a `SessionManager` from any copy of this package. Libraries built on core (the MCP glue) check
 * managers with it: `instanceof` is false for a manager made by another copy of core.
 */
export function isSessionManager(value: unknown): value is SessionManager {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { [SESSION_MANAGER_BRAND]?: unknown })[SESSION_MANAGER_BRAND] === true
  );
}

/**
 * Sessions with context, capped history, a guarded state machine, sliding TTL, owner binding, events and
 * metrics — written once over any `SessionStore`. Every operation validates its input before writing, and
 * every write is one atomic store call.
 */
export class SessionManager {
  readonly store: SessionStore;
  readonly clock: Clock;
  readonly limits: SessionLimits;
  readonly historyCap: number;
  readonly hashIds: boolean;
  readonly idleTimeoutMs: number | null;
  readonly maxLifetimeMs: number | null;
  readonly activityWriteIntervalMs: number;
  readonly closedRetentionMs: number;
  readonly maxSessionsPerOwner: number | null;
  readonly maxSessions: number | null;
  readonly quotaRefreshMs: number;
  readonly #idBytes: number;
  /** Digests of recently seen session ids (see `SessionIdDigests`). */
  readonly #digests = new SessionIdDigests(ID_DIGESTS_KEPT);
  /** The at-rest keyring, or null when context and history are stored in clear. */
  readonly #keyring: Keyring | null;
  /** The tail of each owner's queue of creates: one owner's quota check and create run one at a time. */
  readonly #ownerQueues = new Map<string, Promise<unknown>>();
  /** The last count behind `maxSessions`, and what this manager created since. */
  readonly #total: TotalQuotaState = {
    counted: 0,
    countedAt: null,
    created: 0,
    pending: 0,
    refreshing: undefined,
  };
  readonly #events: TypedEmitter<SessionEvents>;
  readonly #counters: ManagerCounters = {
    sessionsCreated: 0,
    sessionsResumed: 0,
    sessionsClosed: 0,
    sessionsExpired: 0,
    messagesAdded: 0,
    transitions: 0,
    versionConflicts: 0,
    activityWrites: 0,
    quotaRefusals: 0,
  };

  constructor(options: SessionManagerOptions) {
    if (!options?.store) throw new InvalidValueError('SessionManager needs a store');
    Object.defineProperty(this, SESSION_MANAGER_BRAND, { value: true });
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.limits = resolveLimits(options.limits);
    this.idleTimeoutMs = optionalPositiveInteger(
      options.idleTimeoutMs,
      DEFAULTS.idleTimeoutMs,
      'idleTimeoutMs',
    );
    this.maxLifetimeMs = optionalPositiveInteger(
      options.maxLifetimeMs,
      DEFAULTS.maxLifetimeMs,
      'maxLifetimeMs',
    );
    this.activityWriteIntervalMs =
      options.activityWriteIntervalMs ??
      (this.idleTimeoutMs === null ? 60_000 : Math.floor(this.idleTimeoutMs / 10));
    if (!(this.activityWriteIntervalMs >= 0)) {
      throw new InvalidValueError('activityWriteIntervalMs must be zero or more');
    }
    this.closedRetentionMs = options.closedRetentionMs ?? DEFAULTS.closedRetentionMs;
    assertPositiveInteger(this.closedRetentionMs, 'closedRetentionMs');
    this.historyCap = options.historyCap ?? DEFAULTS.historyCap;
    assertPositiveInteger(this.historyCap, 'historyCap');
    this.maxSessionsPerOwner = optionalPositiveInteger(
      options.maxSessionsPerOwner,
      DEFAULTS.maxSessionsPerOwner,
      'maxSessionsPerOwner',
    );
    this.maxSessions = optionalPositiveInteger(
      options.maxSessions,
      DEFAULTS.maxSessions,
      'maxSessions',
    );
    this.quotaRefreshMs = options.quotaRefreshMs ?? DEFAULTS.quotaRefreshMs;
    if (!(Number.isSafeInteger(this.quotaRefreshMs) && this.quotaRefreshMs >= 0)) {
      throw new InvalidValueError(
        `quotaRefreshMs must be a whole number of milliseconds, 0 or more, got ${String(this.quotaRefreshMs)}`,
      );
    }
    this.hashIds = options.hashIds ?? true;
    this.#keyring = atRestKeyring(options.encryption);
    this.#idBytes = options.idBytes ?? DEFAULT_ID_BYTES;
    generateSessionId(this.#idBytes);
    this.#events = new TypedEmitter<SessionEvents>(
      options.onListenerError ??
        ((error, event) =>
          console.error(`[mcp-session] "${String(event)}" listener threw:`, error)),
    );
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof SessionEvents>(
    event: K,
    listener: (payload: SessionEvents[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  /** The storage id of a session id: its SHA-256 digest when `hashIds` is on, else the id itself. */
  storageId(id: string): string {
    assertValidId(id, this.limits.maxIdLength);
    return this.hashIds ? this.#digests.digest(id) : id;
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Creates an active session with a fresh id, bound to `owner` when given.
   * @throws QuotaExceededError when the owner already has `maxSessionsPerOwner` sessions, or the store
   *   `maxSessions` (closed ones not counted); nothing is written.
   */
  async createSession(
    options: AccessOptions & { context?: JsonObject; metadata?: JsonObject } = {},
  ): Promise<Session> {
    const owner = this.#owner(options);
    const context = options.context ?? {};
    const metadata = options.metadata ?? {};
    validateJsonObject(context, this.limits, 'context', this.limits.maxContextBytes);
    validateJsonObject(metadata, this.limits, 'metadata', this.limits.maxMetadataBytes);
    const create = () => this.#createWithinQuotas(owner, context, metadata);
    if (owner === null || this.maxSessionsPerOwner === null) return create();
    return this.#inOwnerQueue(owner, create);
  }

  /** Checks both quotas, then writes the session; a refusal writes nothing. */
  async #createWithinQuotas(
    owner: string | null,
    context: JsonObject,
    metadata: JsonObject,
  ): Promise<Session> {
    const now = this.clock.now();
    if (owner !== null && this.maxSessionsPerOwner !== null) {
      const held = await this.store.count({ now, owner, states: QUOTA_STATES });
      if (held >= this.maxSessionsPerOwner) {
        this.#counters.quotaRefusals++;
        throw new QuotaExceededError('owner', this.maxSessionsPerOwner);
      }
    }
    const total = this.#total;
    if (this.maxSessions !== null) {
      await this.#refreshTotal(now);
      // Synchronous from the check to taking the place: concurrent creates of this manager cannot
      // both take the last one.
      if (total.counted + total.created + total.pending >= this.maxSessions) {
        this.#counters.quotaRefusals++;
        throw new QuotaExceededError('total', this.maxSessions);
      }
    }
    total.pending++;
    try {
      const session = await this.#insertSession(owner, context, metadata, now);
      total.created++;
      return session;
    } finally {
      total.pending--;
    }
  }

  async #insertSession(
    owner: string | null,
    context: JsonObject,
    metadata: JsonObject,
    now: number,
  ): Promise<Session> {
    for (let attempt = 0; ; attempt++) {
      const id = generateSessionId(this.#idBytes);
      const storageId = this.storageId(id);
      const plainContext = structuredClone(context);
      const record: SessionRecord = {
        id: storageId,
        state: 'active',
        context: markCheckedJson(this.#sealContext(storageId, plainContext)),
        metadata: markCheckedJson(structuredClone(metadata)),
        owner,
        createdAt: now,
        lastActivityAt: now,
        expiresAt: slidingExpiry(now, this.#touch(now)),
        version: 1,
        messageCount: 0,
      };
      try {
        await this.store.create(record, { now });
      } catch (error) {
        // Only a 2^-96 collision gets here; one retry with a new id is plenty.
        if (isSessionError(error, 'SESSION_EXISTS') && attempt === 0) continue;
        throw error;
      }
      this.#counters.sessionsCreated++;
      this.#events.emit('created', { id, owner });
      return { ...record, context: plainContext, id };
    }
  }

  /**
   * Counts the store again when the last count is older than `quotaRefreshMs` (or the clock went back).
   * Sessions created while the count runs stay in `created`: they may be counted twice until the next
   * refresh, which errs on the side of the quota.
   */
  async #refreshTotal(now: number): Promise<void> {
    const total = this.#total;
    const age = total.countedAt === null ? Number.POSITIVE_INFINITY : now - total.countedAt;
    if (age >= 0 && age < this.quotaRefreshMs) return;
    if (total.refreshing === undefined) {
      const refreshing = this.#countTotal(now).finally(() => {
        if (total.refreshing === refreshing) total.refreshing = undefined;
      });
      total.refreshing = refreshing;
    }
    await total.refreshing;
  }

  async #countTotal(now: number): Promise<void> {
    const total = this.#total;
    const createdBefore = total.created;
    const counted = await this.store.count({ now, states: QUOTA_STATES });
    total.counted = counted;
    total.countedAt = now;
    total.created -= createdBefore;
  }

  /** Runs `task` after every earlier task queued for this owner has settled. */
  async #inOwnerQueue<T>(owner: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#ownerQueues.get(owner);
    const run = (previous ?? Promise.resolve()).then(task, task);
    const tail = run.catch(() => undefined);
    this.#ownerQueues.set(owner, tail);
    try {
      return await run;
    } finally {
      if (this.#ownerQueues.get(owner) === tail) this.#ownerQueues.delete(owner);
    }
  }

  /**
   * Returns the session, or null when it is unknown, expired, closed or bound to another owner. Records
   * activity when the activity write interval has passed.
   */
  async getSession(id: string, options: AccessOptions = {}): Promise<Session | null> {
    const owner = this.#owner(options);
    const record = await this.store.get(this.storageId(id), { now: this.clock.now(), owner });
    if (!record || record.state === 'closed') return null;
    return this.#recordActivity(id, record, owner).catch((error: unknown) => {
      if (isSessionError(error, 'SESSION_NOT_FOUND')) return null;
      throw error;
    });
  }

  /** Like `getSession`, but throws `SessionNotFoundError` (or `SessionClosedError`) instead of returning null. */
  async requireSession(id: string, options: AccessOptions = {}): Promise<Session> {
    const owner = this.#owner(options);
    const record = await this.store.get(this.storageId(id), { now: this.clock.now(), owner });
    if (!record) throw new SessionNotFoundError();
    if (record.state === 'closed') throw new SessionClosedError();
    return this.#recordActivity(id, record, owner);
  }

  /**
   * Reads a session without recording activity, closed tombstones included (their state and metadata
   * stay readable until swept); null when it is unknown, expired or bound to another owner (an unbound
   * session is visible to every caller, as for `getSession`). For decisions about a session that must not
   * count as its use: whether an id names a state handle, whether another instance used it lately.
   */
  async peekSession(id: string, options: AccessOptions = {}): Promise<Session | null> {
    const owner = this.#owner(options);
    const record = await this.store.get(this.storageId(id), { now: this.clock.now(), owner });
    return record ? this.#session(record, id) : null;
  }

  /**
   * Replaces the context and/or metadata as a whole. Pass `expectedVersion` (from a session you read) to
   * fail with `VersionConflictError` instead of overwriting someone else's write.
   */
  async updateSession(
    id: string,
    patch: { context?: JsonObject; metadata?: JsonObject },
    options: AccessOptions & { expectedVersion?: number } = {},
  ): Promise<Session> {
    const change: SessionChange = {};
    if (patch.context !== undefined) {
      validateJsonObject(patch.context, this.limits, 'context', this.limits.maxContextBytes);
      change.context = patch.context;
    }
    if (patch.metadata !== undefined) {
      validateJsonObject(patch.metadata, this.limits, 'metadata', this.limits.maxMetadataBytes);
      change.metadata = patch.metadata;
    }
    if (options.expectedVersion !== undefined) {
      assertPositiveInteger(options.expectedVersion, 'expectedVersion');
    }
    return this.#write(id, change, options, options.expectedVersion);
  }

  /**
   * Closes the session: it becomes a tombstone that answers "not found" and cannot come back, and is
   * swept after `closedRetentionMs`. With `purge`, deletes it and its history at once instead.
   * Returns false when there was no live session to close.
   */
  async closeSession(
    id: string,
    options: AccessOptions & { purge?: boolean } = {},
  ): Promise<boolean> {
    if (options.purge) {
      const storageId = this.storageId(id);
      const owner = this.#owner(options);
      const record = await this.store.get(storageId, { now: this.clock.now(), owner });
      if (!record || record.state === 'closed' || !(await this.store.delete(storageId)))
        return false;
      this.#counters.sessionsClosed++;
      this.#events.emit('closed', { id });
      return true;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#transition(id, 'closed', options);
        return true;
      } catch (error) {
        if (isSessionError(error, 'SESSION_NOT_FOUND')) return false; // also: someone else closed it
        // The state moved between read and write (say active → idle): closing is still allowed, re-read.
        if (!isSessionError(error, 'VERSION_CONFLICT') || attempt >= 4) throw error;
      }
    }
  }

  /**
   * Resumes the session `preferredId` when the store holds it in a resumable state (active, idle or
   * suspended) bound to exactly this owner; otherwise creates a fresh session with a new id. A client can
   * never choose an id: an unknown preferred id always yields a new one.
   */
  async resumeSession(
    preferredId: string | null | undefined,
    options: AccessOptions & { context?: JsonObject; metadata?: JsonObject } = {},
  ): Promise<{ session: Session; resumed: boolean }> {
    const owner = this.#owner(options);
    if (typeof preferredId === 'string' && isWellFormedId(preferredId, this.limits.maxIdLength)) {
      const resumed = await this.#resume(preferredId, owner);
      if (resumed) {
        this.#counters.sessionsResumed++;
        this.#events.emit('resumed', { id: preferredId, owner });
        return { session: resumed, resumed: true };
      }
    }
    return { session: await this.createSession({ ...options, owner }), resumed: false };
  }

  async #resume(id: string, owner: string | null): Promise<Session | null> {
    const storageId = this.storageId(id);
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.clock.now();
      const record = await this.store.get(storageId, { now, owner });
      // Strict owner equality: an unbound session cannot be claimed by an authenticated caller.
      if (!record || record.owner !== owner || !RESUMABLE_STATES.includes(record.state))
        return null;
      const change: SessionChange = { touch: this.#touch(now) };
      if (record.state !== 'active') change.state = 'active';
      try {
        const updated = await this.store.update(storageId, change, {
          now,
          owner,
          expectedState: record.state,
        });
        if (change.state) {
          this.#counters.transitions++;
          this.#events.emit('transitioned', { id, from: record.state, to: 'active' });
        }
        return this.#session(updated, id);
      } catch (error) {
        if (isSessionError(error, 'SESSION_NOT_FOUND')) return null;
        if (!isSessionError(error, 'VERSION_CONFLICT')) throw error;
      }
    }
    return null;
  }

  /** Records activity now (always writes): slides the idle expiry. */
  async touch(id: string, options: AccessOptions = {}): Promise<Session> {
    const owner = this.#owner(options);
    const now = this.clock.now();
    try {
      const record = await this.store.update(
        this.storageId(id),
        { touch: this.#touch(now) },
        { now, owner, expectedState: RESUMABLE_STATES },
      );
      this.#counters.activityWrites++;
      return this.#session(record, id);
    } catch (error) {
      throw this.#mapStateConflict(error);
    }
  }

  // ── context ────────────────────────────────────────────────────────────────────────────────────

  /** Sets one context key atomically; concurrent writes of other keys are never lost. */
  async setContext(
    id: string,
    key: string,
    value: JsonValue,
    options: AccessOptions = {},
  ): Promise<Session> {
    assertValidKey(key, this.limits, 'context key');
    assertMaxBytes(
      validateJson(value, this.limits, `context.${key}`),
      this.limits.maxContextBytes,
      `context.${key}`,
    );
    return this.#write(id, { contextSet: { [key]: value } }, options);
  }

  /** Reads the whole context. */
  async getContext(id: string, options?: AccessOptions): Promise<JsonObject>;
  /** Reads one context key (undefined when unset). */
  async getContext(
    id: string,
    key: string,
    options?: AccessOptions,
  ): Promise<JsonValue | undefined>;
  async getContext(
    id: string,
    keyOrOptions?: string | AccessOptions,
    maybeOptions?: AccessOptions,
  ): Promise<JsonObject | JsonValue | undefined> {
    const key = typeof keyOrOptions === 'string' ? keyOrOptions : undefined;
    const options = (typeof keyOrOptions === 'string' ? maybeOptions : keyOrOptions) ?? {};
    const { context } = await this.requireSession(id, options);
    return key === undefined ? context : Object.hasOwn(context, key) ? context[key] : undefined;
  }

  /**
   * Sets several keys (and removes the keys in `remove`) in one atomic write; other keys are untouched.
   */
  async updateContext(
    id: string,
    patch: JsonObject,
    options: AccessOptions & { remove?: readonly string[] } = {},
  ): Promise<Session> {
    validateJsonObject(patch, this.limits, 'context patch', this.limits.maxContextBytes);
    const remove = options.remove ?? [];
    if (!Array.isArray(remove)) throw new InvalidValueError('remove must be an array of keys');
    for (const key of remove) assertValidKey(key, this.limits, 'remove');
    return this.#write(id, { contextSet: patch, contextDelete: remove }, options);
  }

  /** Removes every context key. */
  async clearContext(id: string, options: AccessOptions = {}): Promise<Session> {
    return this.#write(id, { context: {} }, options);
  }

  // ── history ────────────────────────────────────────────────────────────────────────────────────

  /**
   * Appends a message to the history, trimming it to `cap` (default: the manager's `historyCap`) in the
   * same atomic step. Returns the message's sequence number.
   */
  async addMessage(
    id: string,
    message: SessionMessage,
    options: AccessOptions & { cap?: number } = {},
  ): Promise<{ seq: number; messageCount: number }> {
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      throw new InvalidValueError(
        'A message must be an object with "role" and "content"',
        'message',
      );
    }
    if (typeof message.role !== 'string' || message.role.length === 0) {
      throw new InvalidValueError('A message needs a non-empty string "role"', 'message.role');
    }
    if (!Object.hasOwn(message, 'content')) {
      throw new InvalidValueError('A message needs "content"', 'message.content');
    }
    const cap = options.cap ?? this.historyCap;
    assertPositiveInteger(cap, 'cap');
    assertMaxBytes(
      validateJson(message, this.limits, 'message'),
      this.limits.maxMessageBytes,
      'message',
    );
    const owner = this.#owner(options);
    const now = this.clock.now();
    const storageId = this.storageId(id);
    try {
      const stored = [this.#sealEntry(storageId, HISTORY_LOG, message)];
      const result = await this.store.append(storageId, HISTORY_LOG, markCheckedJson(stored), {
        now,
        owner,
        expectedState: WRITABLE_STATES,
        cap,
        countMessages: true,
        touch: this.#touch(now),
      });
      this.#counters.messagesAdded++;
      this.#events.emit('message', { id, seq: result.lastSeq, role: message.role });
      return { seq: result.lastSeq, messageCount: result.messageCount };
    } catch (error) {
      throw this.#mapStateConflict(error);
    }
  }

  /**
   * Reads the history, oldest first. With `limit` alone: the newest `limit` messages. With `afterSeq`:
   * the messages after it (for paging forward).
   */
  async getHistory(
    id: string,
    options: AccessOptions & { limit?: number; afterSeq?: number; beforeSeq?: number } = {},
  ): Promise<HistoryEntry[]> {
    return (await this.readLog(id, HISTORY_LOG, options)) as HistoryEntry[];
  }

  /** Counts, roles and the newest `recent` (default 5) messages of the retained history. */
  async getConversationSummary(
    id: string,
    options: AccessOptions & { recent?: number } = {},
  ): Promise<ConversationSummary> {
    const recent = options.recent ?? 5;
    if (recent !== 0) assertPositiveInteger(recent, 'recent');
    const session = await this.requireSession(id, options);
    const history = await this.getHistory(id, options);
    const byRole: Record<string, number> = {};
    for (const entry of history) byRole[entry.data.role] = (byRole[entry.data.role] ?? 0) + 1;
    return {
      id,
      state: session.state,
      messageCount: session.messageCount,
      retainedMessages: history.length,
      byRole,
      firstMessageAt: history[0]?.at ?? null,
      lastMessageAt: history.at(-1)?.at ?? null,
      recent: recent === 0 ? [] : history.slice(-recent),
    };
  }

  // ── generic logs (the MCP event store uses one per stream) ─────────────────────────────────────

  /**
   * Appends entries to a named log of the session (not `history`, which `addMessage` owns), trimmed to
   * `cap` newest entries when given. Records activity in the same atomic step.
   */
  async appendToLog(
    id: string,
    log: string,
    entries: readonly JsonValue[],
    options: AccessOptions & { cap?: number } = {},
  ): Promise<{ firstSeq: number; lastSeq: number }> {
    assertValidLogName(log);
    if (log === HISTORY_LOG) throw new InvalidValueError('Use addMessage to write the history log');
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new InvalidValueError('entries must be a non-empty array');
    }
    if (options.cap !== undefined) assertPositiveInteger(options.cap, 'cap');
    entries.forEach((entry, i) => {
      assertMaxBytes(
        validateJson(entry, this.limits, `entries[${i}]`),
        this.limits.maxMessageBytes,
        'log entry',
      );
    });
    const owner = this.#owner(options);
    const now = this.clock.now();
    const storageId = this.storageId(id);
    try {
      const result = await this.store.append(storageId, log, markCheckedJson(entries), {
        now,
        owner,
        expectedState: WRITABLE_STATES,
        ...(options.cap === undefined ? {} : { cap: options.cap }),
        touch: this.#touch(now),
      });
      return { firstSeq: result.firstSeq, lastSeq: result.lastSeq };
    } catch (error) {
      throw this.#mapStateConflict(error);
    }
  }

  /** Reads a named log, oldest first; same paging as `getHistory`. One round trip. */
  async readLog(
    id: string,
    log: string,
    options: AccessOptions & { limit?: number; afterSeq?: number; beforeSeq?: number } = {},
  ): Promise<LogEntry[]> {
    assertValidLogName(log);
    const { limit, afterSeq, beforeSeq } = options;
    if (limit !== undefined) assertPositiveInteger(limit, 'limit');
    for (const [name, value] of [
      ['afterSeq', afterSeq],
      ['beforeSeq', beforeSeq],
    ] as const) {
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
        throw new InvalidValueError(`${name} must be a non-negative integer`);
      }
    }
    // Without a lower bound, a limit means "the newest n": read backwards, then restore the order.
    const newestFirst = limit !== undefined && afterSeq === undefined;
    const storageId = this.storageId(id);
    let entries: LogEntry[];
    try {
      entries = await this.store.read(storageId, log, {
        now: this.clock.now(),
        owner: this.#owner(options),
        expectedState: RESUMABLE_STATES,
        ...(limit === undefined ? {} : { limit }),
        ...(afterSeq === undefined ? {} : { afterSeq }),
        ...(beforeSeq === undefined ? {} : { beforeSeq }),
        order: newestFirst ? 'desc' : 'asc',
      });
    } catch (error) {
      throw this.#mapStateConflict(error);
    }
    const opened = this.#openEntries(storageId, log, entries);
    return newestFirst ? opened.reverse() : opened;
  }

  // ── state machine ──────────────────────────────────────────────────────────────────────────────

  /**
   * Moves the session to `to` if the state machine allows it from its current state. The write is
   * guarded by the state it was read in, so of several racing transitions exactly one wins; the others
   * get `VersionConflictError` and may re-read and decide again. Moving to `closed` leaves a tombstone
   * for `closedRetentionMs`, as `closeSession` does. A transition counts as activity (it slides the
   * expiry) unless `recordActivity` is false, e.g. when a server marks a session idle because nobody used
   * it.
   */
  async transitionState(
    id: string,
    to: SessionState,
    options: AccessOptions & { recordActivity?: boolean } = {},
  ): Promise<Session> {
    return this.#session(await this.#transition(id, to, options), id);
  }

  /** `transitionState` without opening the context: `closeSession` needs no plaintext. */
  async #transition(
    id: string,
    to: SessionState,
    options: AccessOptions & { recordActivity?: boolean },
  ): Promise<SessionRecord> {
    if (!Object.hasOwn(SESSION_TRANSITIONS, to)) {
      throw new InvalidValueError(`Unknown session state ${JSON.stringify(to)}`);
    }
    const owner = this.#owner(options);
    const storageId = this.storageId(id);
    const now = this.clock.now();
    const change: SessionChange =
      to === 'closed'
        ? { state: to, lastActivityAt: now, expiresAt: now + this.closedRetentionMs }
        : options.recordActivity === false
          ? { state: to }
          : { state: to, touch: this.#touch(now) };
    // One guarded write instead of a read and a write (issue 17): the guard is a state `to` may be
    // entered from, the first one first; a miss reports the state the store holds, which either
    // explains the refusal or is the other source to retry from, so a second round trip happens only
    // for a session in its less usual source state (suspended → active, idle → closed …).
    let from = TRANSITION_SOURCES[to][0] as SessionState;
    for (let attempt = 0; ; attempt++) {
      try {
        const updated = await this.store.update(storageId, change, {
          now,
          owner,
          expectedState: from,
        });
        this.#counters.transitions++;
        this.#events.emit('transitioned', { id, from, to });
        if (to === 'closed') {
          this.#counters.sessionsClosed++;
          this.#events.emit('closed', { id });
        }
        return updated;
      } catch (error) {
        if (!isSessionError(error, 'VERSION_CONFLICT') || attempt > 0) {
          throw this.#mapStateConflict(error, false);
        }
        const actual = (error as VersionConflictError).actualState;
        if (actual === 'closed') throw new SessionClosedError();
        assertTransition(actual, to);
        from = actual;
      }
    }
  }

  /** The session's current state (a closed session throws `SessionClosedError`, like a missing one). */
  async getState(id: string, options: AccessOptions = {}): Promise<SessionState> {
    return (await this.requireSession(id, options)).state;
  }

  /** Whether the state machine allows `from → to`. */
  canTransition(from: SessionState, to: SessionState): boolean {
    return canTransition(from, to);
  }

  // ── listing, analytics, housekeeping ───────────────────────────────────────────────────────────

  /**
   * Pages through live sessions (closed tombstones included until swept), ordered by storage id. Records
   * carry storage ids: with `hashIds` on, session ids cannot be recovered from a listing.
   */
  async listSessions(
    options: { state?: SessionState; owner?: string; limit?: number; cursor?: string | null } = {},
  ): Promise<ListPage> {
    const limit = options.limit ?? 100;
    assertPositiveInteger(limit, 'limit');
    if (options.owner !== undefined) assertValidOwner(options.owner, this.limits.maxOwnerLength);
    if (options.state !== undefined && !Object.hasOwn(SESSION_TRANSITIONS, options.state)) {
      throw new InvalidValueError(`Unknown session state ${JSON.stringify(options.state)}`);
    }
    return this.store.list({
      now: this.clock.now(),
      limit,
      ...(options.state === undefined ? {} : { state: options.state }),
      ...(options.owner === undefined ? {} : { owner: options.owner }),
      ...(options.cursor == null ? {} : { cursor: options.cursor }),
    });
  }

  /** Deletes every expired session and its logs, in batches of `batchSize` (default 1000). Returns the count. */
  async sweepExpired(options: { batchSize?: number } = {}): Promise<number> {
    const batchSize = options.batchSize ?? 1000;
    assertPositiveInteger(batchSize, 'batchSize');
    const now = this.clock.now();
    let total = 0;
    for (;;) {
      const deleted = await this.store.sweep(now, { limit: batchSize });
      total += deleted;
      if (deleted < batchSize) break;
    }
    if (total > 0) {
      this.#counters.sessionsExpired += total;
      this.#events.emit('expired', { count: total });
    }
    return total;
  }

  /** This manager's counters since it was created (a copy; no store call, cheap enough for every scrape). */
  counters(): ManagerCounters {
    return { ...this.#counters };
  }

  /** Counters of this manager plus the store's aggregates. */
  async getMetrics(): Promise<SessionMetrics> {
    return { counters: { ...this.#counters }, store: await this.store.stats(this.clock.now()) };
  }

  /** Age, idleness, expiry, message and context figures of one session. */
  async getSessionStatistics(id: string, options: AccessOptions = {}): Promise<SessionStatistics> {
    const session = await this.requireSession(id, options);
    const [oldest] = await this.readLog(id, HISTORY_LOG, { ...options, afterSeq: 0, limit: 1 });
    const [newest] = await this.readLog(id, HISTORY_LOG, { ...options, limit: 1 });
    const now = this.clock.now();
    return {
      id,
      state: session.state,
      ageMs: now - session.createdAt,
      idleMs: now - session.lastActivityAt,
      expiresInMs: session.expiresAt === null ? null : session.expiresAt - now,
      messageCount: session.messageCount,
      // Seqs within a log are contiguous (trimming only drops the oldest), so this count is exact.
      retainedMessages: oldest && newest ? newest.seq - oldest.seq + 1 : 0,
      contextKeys: Object.keys(session.context).length,
      contextBytes: Buffer.byteLength(JSON.stringify(session.context), 'utf8'),
      version: session.version,
    };
  }

  /** Closes the store. */
  async close(): Promise<void> {
    await this.store.close();
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────────

  #owner(options: AccessOptions): string | null {
    const owner = options.owner ?? null;
    assertValidOwner(owner, this.limits.maxOwnerLength);
    return owner;
  }

  #touch(now: number): Touch {
    return { at: now, idleTimeoutMs: this.idleTimeoutMs, maxLifetimeMs: this.maxLifetimeMs };
  }

  /** One guarded write to a writable session, with activity recorded in the same step. */
  async #write(
    id: string,
    change: SessionChange,
    options: AccessOptions,
    expectedVersion?: number,
  ): Promise<Session> {
    const owner = this.#owner(options);
    const storageId = this.storageId(id);
    const now = this.clock.now();
    // Every JSON value of the change was validated by the method that built it.
    const stored = this.#sealChange(storageId, change);
    for (const value of [stored.context, stored.metadata, stored.contextSet]) {
      if (value !== undefined) markCheckedJson(value);
    }
    try {
      const record = await this.store.update(
        storageId,
        { ...stored, touch: this.#touch(now) },
        {
          now,
          owner,
          expectedState: WRITABLE_STATES,
          maxContextBytes: this.limits.maxContextBytes,
          ...(expectedVersion === undefined ? {} : { expectedVersion }),
        },
      );
      this.#events.emit('updated', { id, version: record.version });
      return this.#session(record, id);
    } catch (error) {
      throw this.#mapStateConflict(error);
    }
  }

  /** Writes activity for a read when the throttle window has passed; otherwise returns the record as read. */
  async #recordActivity(id: string, record: SessionRecord, owner: string | null): Promise<Session> {
    const now = this.clock.now();
    if (now - record.lastActivityAt < this.activityWriteIntervalMs)
      return this.#session(record, id);
    try {
      const updated = await this.store.update(
        record.id,
        { touch: this.#touch(now) },
        { now, owner, expectedState: RESUMABLE_STATES },
      );
      this.#counters.activityWrites++;
      return this.#session(updated, id);
    } catch (error) {
      throw this.#mapStateConflict(error);
    }
  }

  // ── at-rest encryption (the only place stored context values and history entries are sealed/opened) ──

  /** The session a caller sees: the record with its context opened and the session id as `id`. */
  #session(record: SessionRecord, id: string): Session {
    return { ...record, context: this.#openContext(record.id, record.context), id };
  }

  #openContext(storageId: string, context: JsonObject): JsonObject {
    const opened: JsonObject = {};
    for (const [key, value] of Object.entries(context)) {
      opened[key] = openValue(this.#keyring, value, contextBinding(storageId, key));
    }
    return opened;
  }

  /**
   * The stored form of a context: each top-level value sealed on its own, so writers of disjoint keys stay
   * as independent as in clear. Without a keyring, a value that looks encrypted is refused: it would read
   * back as ciphertext.
   */
  #sealContext(storageId: string, context: Readonly<Record<string, JsonValue>>): JsonObject {
    const stored: JsonObject = {};
    for (const [key, value] of Object.entries(context)) {
      if (this.#keyring === null && isEncryptedValue(value)) {
        throw new InvalidValueError(
          'A context value may not be a string starting with "mcpenc:" (the encrypted form) without a keyring',
          `context.${key}`,
        );
      }
      stored[key] = sealValue(this.#keyring, value, contextBinding(storageId, key));
    }
    if (this.#keyring !== null) {
      // The store enforces maxContextBytes on the stored form; a create is not checked by it.
      assertMaxBytes(jsonByteLength(stored), this.limits.maxContextBytes, 'context (encrypted)');
    }
    return stored;
  }

  #sealChange(storageId: string, change: SessionChange): SessionChange {
    const stored: SessionChange = { ...change };
    if (change.context !== undefined) stored.context = this.#sealContext(storageId, change.context);
    if (change.contextSet !== undefined) {
      stored.contextSet = this.#sealContext(storageId, change.contextSet);
    }
    return stored;
  }

  #sealEntry(storageId: string, log: string, entry: JsonValue): JsonValue {
    return sealValue(this.#keyring, entry, logBinding(storageId, log));
  }

  /** Opens the entries of the history log; other logs (the MCP event store's are sealed by it) pass as stored. */
  #openEntries(storageId: string, log: string, entries: LogEntry[]): LogEntry[] {
    if (log !== HISTORY_LOG) return entries;
    const binding = logBinding(storageId, log);
    return entries.map((entry) => ({
      ...entry,
      data: openValue(this.#keyring, entry.data, binding),
    }));
  }

  /**
   * Turns a failed guard into what the caller should see: closed → `SessionClosedError` (a not-found),
   * suspended → `SessionSuspendedError`. With `mapAll` false, only closed is mapped. The version guard
   * counts too: stores check it before the state, so a stale `expectedVersion` on a closed session fails
   * on the version, and answering that would tell the version of a tombstone, which a write without
   * `expectedVersion` never reveals. No write with a version guard accepts a closed or suspended session.
   */
  #mapStateConflict(error: unknown, mapAll = true): unknown {
    if (isSessionError(error, 'VERSION_CONFLICT')) {
      const { actualState } = error as VersionConflictError;
      if (actualState === 'closed') return new SessionClosedError();
      if (mapAll && actualState === 'suspended') return new SessionSuspendedError();
      this.#counters.versionConflicts++;
    }
    return error;
  }
}

/** An option that null disables: undefined takes the default, anything else must be a positive integer. */
function optionalPositiveInteger(
  value: number | null | undefined,
  fallback: number,
  name: string,
): number | null {
  if (value === null) return null;
  const chosen = value ?? fallback;
  assertPositiveInteger(chosen, name);
  return chosen;
}

function isWellFormedId(id: string, maxLength: number): boolean {
  try {
    assertValidId(id, maxLength);
    return true;
  } catch {
    return false;
  }
}

function atRestKeyring(encryption: Keyring | undefined): Keyring | null {
  if (encryption === undefined) return null;
  if (!isKeyring(encryption)) {
    throw new InvalidValueError(
      'encryption must be a keyring made by createKeyring or loadKeyringFile',
      'encryption',
    );
  }
  return encryption;
}

function contextBinding(storageId: string, key: string): EncryptionBinding {
  return { storageId, purpose: 'context', field: key };
}

function logBinding(storageId: string, log: string): EncryptionBinding {
  return { storageId, purpose: 'log', field: log };
}
