/**
 * Building blocks for store adapters: the exact semantics of guards, expiry, changes and cursors, written
 * once so every adapter (ours and community ones) agrees with the contract.
 */
import {
  InvalidValueError,
  isSessionError,
  type SessionError,
  SessionNotFoundError,
  StoreUnavailableError,
  VersionConflictError,
} from './errors.js';
import type { CountOptions, CreateOptions, RecordGuards, SessionChange, Touch } from './store.js';
import type { LogEntry, SessionRecord, SessionState, StoreStats } from './types.js';
import { assertValidKey, assertValidLogName, jsonByteLength, validateJson } from './validation.js';

/** A record is expired when it has an expiry and `expiresAt <= now`. */
export function isExpired(record: Pick<SessionRecord, 'expiresAt'>, now: number): boolean {
  return record.expiresAt !== null && record.expiresAt <= now;
}

/** The owner guard: no guard (undefined), an unbound record, or the same owner. */
export function isVisibleTo(
  record: Pick<SessionRecord, 'owner'>,
  owner: string | null | undefined,
): boolean {
  return owner === undefined || record.owner === null || record.owner === owner;
}

/**
 * Whether `count(options)` counts this record: live at `now`, bound to exactly `options.owner` when given
 * (never an unbound record then), in one of `options.states` when given.
 */
export function isCounted(
  record: Pick<SessionRecord, 'expiresAt' | 'owner' | 'state'>,
  options: CountOptions,
): boolean {
  return (
    !isExpired(record, options.now) &&
    (options.owner === undefined || record.owner === options.owner) &&
    (options.states === undefined || options.states.includes(record.state))
  );
}

/** Normalizes `expectedState` to a list (or undefined when there is no state guard). */
export function expectedStates(
  expected: SessionState | readonly SessionState[] | undefined,
): readonly SessionState[] | undefined {
  if (expected === undefined) return undefined;
  return typeof expected === 'string' ? [expected] : expected;
}

/** The fields the guards look at, so an adapter can check them without loading a whole record. */
export type GuardedFields = Pick<SessionRecord, 'expiresAt' | 'owner' | 'version' | 'state'>;

/**
 * Applies the guards to a record read inside the store's atomic section, in contract order, and returns
 * it. Pass `undefined`/`null` when the record is absent.
 */
export function checkGuards<R extends GuardedFields>(
  record: R | null | undefined,
  guards: RecordGuards,
): R {
  if (!record || isExpired(record, guards.now) || !isVisibleTo(record, guards.owner)) {
    throw new SessionNotFoundError();
  }
  if (guards.expectedVersion !== undefined && record.version !== guards.expectedVersion) {
    throw new VersionConflictError('version', record.version, record.state);
  }
  const states = expectedStates(guards.expectedState);
  if (states !== undefined && !states.includes(record.state)) {
    throw new VersionConflictError('state', record.version, record.state);
  }
  return record;
}

/**
 * Returns a new record with `change` applied and `version` incremented. Context keys are assigned as own
 * data properties, so a `__proto__` key could never reach a prototype (it is rejected anyway).
 */
export function applyChange(record: SessionRecord, change: SessionChange): SessionRecord {
  const context = { ...(change.context ?? record.context) };
  for (const [key, value] of Object.entries(change.contextSet ?? {})) {
    assertValidKey(key, undefined, `contextSet.${key}`);
    Object.defineProperty(context, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  for (const key of change.contextDelete ?? []) delete context[key];
  return {
    ...record,
    state: change.state ?? record.state,
    metadata: change.metadata ?? record.metadata,
    context,
    lastActivityAt: change.touch?.at ?? change.lastActivityAt ?? record.lastActivityAt,
    expiresAt: change.touch
      ? slidingExpiry(record.createdAt, change.touch)
      : change.expiresAt !== undefined
        ? change.expiresAt
        : record.expiresAt,
    version: record.version + 1,
  };
}

/**
 * The expiry a touch gives a record created at `createdAt`: `min(at + idleTimeoutMs, createdAt +
 * maxLifetimeMs)`, ignoring null terms; null when both are null.
 */
export function slidingExpiry(createdAt: number, touch: Touch): number | null {
  const idle = touch.idleTimeoutMs === null ? null : touch.at + touch.idleTimeoutMs;
  const absolute = touch.maxLifetimeMs === null ? null : createdAt + touch.maxLifetimeMs;
  if (idle === null) return absolute;
  if (absolute === null) return idle;
  return Math.min(idle, absolute);
}

/** Size of a context as the contract's `maxContextBytes` measures it (UTF-8 JSON bytes). */
export function contextByteLength(context: SessionRecord['context']): number {
  return jsonByteLength(context);
}

/**
 * Checks the logs handed to `create`: valid names, and entries with consecutive positive integer seqs (as
 * every log's retained entries are: trimming only drops the oldest), numeric times and plain-JSON data. Returns the
 * entries per log, ready to write.
 */
export function checkImportedLogs(
  logs: CreateOptions['logs'],
): [log: string, entries: readonly LogEntry[]][] {
  if (logs === undefined) return [];
  if (typeof logs !== 'object' || logs === null)
    throw new InvalidValueError('logs must be an object of arrays');
  return Object.entries(logs).map(([log, entries]) => {
    assertValidLogName(log);
    if (!Array.isArray(entries))
      throw new InvalidValueError(`logs.${log} must be an array of entries`);
    entries.forEach((entry: LogEntry, i) => {
      const first = entries[0]?.seq ?? 0;
      if (!Number.isSafeInteger(entry?.seq) || first < 1 || entry.seq !== first + i) {
        throw new InvalidValueError(
          'seqs must be consecutive positive integers',
          `logs.${log}[${i}].seq`,
        );
      }
      if (!Number.isSafeInteger(entry.at)) {
        throw new InvalidValueError(
          'at must be epoch milliseconds (a safe integer)',
          `logs.${log}[${i}].at`,
        );
      }
      validateJson(entry.data, undefined, `logs.${log}[${i}].data`);
    });
    return [log, entries];
  });
}

/** Encodes the position after `lastId` as an opaque list cursor. */
export function encodeListCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

/** Decodes a list cursor, or returns null for the first page. */
export function decodeListCursor(cursor: string | null | undefined): string | null {
  if (cursor === undefined || cursor === null) return null;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (id.length === 0 || encodeListCursor(id) !== cursor) {
    throw new InvalidValueError(
      'Malformed list cursor: pass nextCursor from the previous page unchanged',
    );
  }
  return id;
}

/**
 * Counts one record into `stats`, for stores that aggregate in JavaScript (those that can should
 * aggregate in the backend instead).
 */
export function tallyRecord(
  stats: StoreStats,
  record: Pick<SessionRecord, 'state' | 'expiresAt' | 'messageCount' | 'createdAt'>,
  now: number,
): void {
  if (isExpired(record, now)) {
    stats.expired++;
    return;
  }
  stats.total++;
  stats.byState[record.state]++;
  stats.messages += record.messageCount;
  if (stats.oldestCreatedAt === null || record.createdAt < stats.oldestCreatedAt) {
    stats.oldestCreatedAt = record.createdAt;
  }
}

/** Stats of an empty store; adapters fill it in. */
export function emptyStats(): StoreStats {
  return {
    total: 0,
    byState: { active: 0, idle: 0, suspended: 0, closed: 0 },
    expired: 0,
    messages: 0,
    oldestCreatedAt: null,
  };
}

/**
 * Wraps a driver failure as `StoreUnavailableError`, keeping errors of this project unchanged. Adapters
 * call it in their catch blocks.
 */
export function toStoreError(error: unknown, what: string): SessionError {
  if (isSessionError(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new StoreUnavailableError(`${what} failed: ${reason}`, { cause: error });
}
