/** A JSON value as stored by every backend: no `undefined`, functions, BigInt, NaN or class instances. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

/** A plain JSON object. Key order is not preserved by every backend (Postgres `jsonb` sorts keys). */
export interface JsonObject {
  [key: string]: JsonValue;
}

/**
 * Lifecycle state of a session.
 * - `active`: in use.
 * - `idle`: not in use right now (set by the application, e.g. when it evicts the session from memory);
 *   still readable and writable.
 * - `suspended`: paused; reads work, writes are refused until it is resumed.
 * - `closed`: terminal. A closed session answers like a missing one and cannot come back.
 */
export type SessionState = 'active' | 'idle' | 'suspended' | 'closed';

/** Every state, in a stable order (handy for stats and listing). */
export const SESSION_STATES: readonly SessionState[] = ['active', 'idle', 'suspended', 'closed'];

/** One session as a store keeps it. */
export interface SessionRecord {
  /**
   * Storage id. When the manager hashes ids (the default) this is the SHA-256 digest of the session id
   * (64 lowercase hex characters), so the store never holds a live session id.
   */
  id: string;
  state: SessionState;
  /** Application data, written key by key. */
  context: JsonObject;
  /** Data about the session itself (client info, protocol version, initialize params…). */
  metadata: JsonObject;
  /** Principal the session is bound to, or null when it is not bound. */
  owner: string | null;
  /** Creation time, epoch milliseconds. */
  createdAt: number;
  /** Last recorded activity, epoch milliseconds (written at most once per throttle window). */
  lastActivityAt: number;
  /** Absolute expiry, epoch milliseconds, or null for never. A record is expired when `expiresAt <= now`. */
  expiresAt: number | null;
  /** Starts at 1 and increments by exactly 1 on every write to the record or its logs. */
  version: number;
  /** Total entries ever appended with `countMessages`, not reduced by the history cap. */
  messageCount: number;
}

/** One entry of a session log. */
export interface LogEntry<T extends JsonValue = JsonValue> {
  /**
   * Assigned by the store: starts at 1 per (session, log), strictly increasing in commit order, never
   * reused — trimming old entries does not rewind it.
   */
  seq: number;
  /** Time of the append, epoch milliseconds (the `now` the append was given). */
  at: number;
  data: T;
}

/** What a store can do beyond the contract every store meets. The test suite runs groups by these. */
export interface StoreCapabilities {
  /** Data survives `close()` and a process restart. Enables the suite's "durable" group. */
  durable: boolean;
  /**
   * Several processes may open the same data at once and every primitive stays atomic between them.
   * Enables the suite's "processes" group.
   */
  sharedAcrossProcesses: boolean;
  /**
   * The backend deletes expired data on its own clock (Redis key expiry, a timer), so `sweep()` is
   * housekeeping rather than a necessity. Informational: the suite cannot test a backend's own clock.
   */
  nativeExpiry: boolean;
  /**
   * The store has a message bus (`store.messages`): live publish/subscribe between every process that
   * opens the same location, on the engine's own mechanism. Enables the suite's "messaging" group. Absent
   * means false (stores written before the capability existed).
   */
  messaging?: boolean;
}

/** Aggregates over a store, computed by the backend. */
export interface StoreStats {
  /** Records that are not expired, whatever their state. */
  total: number;
  /** Non-expired records per state. */
  byState: Record<SessionState, number>;
  /** Records past their expiry that have not been swept yet. */
  expired: number;
  /** Sum of `messageCount` over non-expired records. */
  messages: number;
  /** `createdAt` of the oldest non-expired record, epoch milliseconds, or null when there is none. */
  oldestCreatedAt: number | null;
}
