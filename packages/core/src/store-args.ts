/**
 * The arguments every store primitive refuses, checked once for every adapter (`BaseSessionStore` runs
 * them before each primitive). A refused call throws before any I/O, so it writes nothing:
 *
 * | argument | must be | else |
 * |---|---|---|
 * | `id` (every primitive that takes one) | 1–256 visible ASCII characters (0x21–0x7E) | `InvalidIdError` |
 * | `log` | 1–128 characters of `A-Z a-z 0-9 _ . : -` | `InvalidValueError` |
 * | `now`, every time (`createdAt`, `lastActivityAt`, `expiresAt`, `touch.at`) | epoch milliseconds, a safe integer (`expiresAt` may be null) | `InvalidValueError` |
 * | `owner` guard, `record.owner`, `list({ owner })`, `count({ owner })` | undefined (not for the record), null (not for `list` or `count`) or a non-empty string without NUL or lone surrogates | `InvalidValueError` |
 * | `expectedVersion` | a positive integer | `InvalidValueError` |
 * | `expectedState`, `state`, `list({ state })` | one of `active idle suspended closed` (the guard also takes a list) | `InvalidValueError` |
| `count({ states })` | undefined or a non-empty array of those states | `InvalidValueError` |
 * | `cap`, `limit` (read, sweep), `maxContextBytes` | a positive integer | `InvalidValueError` |
 * | `list({ limit })` | required, a positive integer | `InvalidValueError` |
 * | `afterSeq`, `beforeSeq` | a non-negative integer | `InvalidValueError` |
 * | `order` | `asc` or `desc` | `InvalidValueError` |
 * | `touch.idleTimeoutMs`, `touch.maxLifetimeMs` | null or a non-negative integer | `InvalidValueError` |
 * | the record of `create` | an object with every field of `SessionRecord` well-typed, `version` ≥ 1, `messageCount` ≥ 0 | `InvalidValueError` |
 * | `context`, `metadata`, `contextSet` values, log entries, imported log data | plain JSON (no cycles, `undefined`, functions, BigInt, NaN, class instances, accessors, `__proto__`/`constructor` keys, lone surrogates, NUL), nested at most 1000 deep | `InvalidValueError` |
 * | `contextSet` keys, `contextDelete` | strings (`contextSet` keys also not `__proto__`/`constructor`) | `InvalidValueError` |
 * | `append` entries | a non-empty array | `InvalidValueError` |
 * | `replaceEntries` entries | an array (may be empty) of `{ seq, value }`: `seq` a positive safe integer, no seq twice, `value` plain JSON as above | `InvalidValueError` |
 * | `create({ logs })` | see `checkImportedLogs` | `InvalidValueError` |
 *
 * Size and structure limits (`SessionLimits`) are the manager's policy, not checked here: a store takes
 * whatever plain JSON its caller decided to write, except that `maxContextBytes` is enforced atomically.
 */
import { InvalidValueError } from './errors.js';
import type {
  AppendOptions,
  CountOptions,
  CreateOptions,
  ListOptions,
  ReadOptions,
  RecordGuards,
  ReplaceEntriesOptions,
  SessionChange,
  SweepOptions,
  Touch,
  UpdateOptions,
} from './store.js';
import { checkImportedLogs } from './store-kit.js';
import { SESSION_STATES, type SessionRecord, type SessionState } from './types.js';
import {
  assertPositiveInteger,
  assertValidId,
  assertValidLogName,
  assertValidOwner,
  takeCheckedJson,
  validateJson,
} from './validation.js';

/**
 * Structure a store accepts in JSON values: deep enough for any manager limit, bounded so a hostile
 * value cannot exhaust the stack. Key count and key length are the manager's limits.
 */
const STORE_JSON_LIMITS = {
  maxDepth: 1000,
  maxKeys: Number.POSITIVE_INFINITY,
  maxKeyLength: Number.POSITIVE_INFINITY,
};
const NO_OWNER_LENGTH_LIMIT = Number.POSITIVE_INFINITY;

/** Checks the arguments of `create`, including imported logs. */
export function checkCreateArgs(record: SessionRecord, options: CreateOptions): void {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new InvalidValueError(`record must be a SessionRecord object, got ${kind(record)}`);
  }
  assertValidId(record.id);
  checkOptionsObject(options, 'create');
  checkTime(options.now, 'now');
  checkState(record.state, 'record.state');
  checkJsonObject(record.context, 'record.context');
  checkJsonObject(record.metadata, 'record.metadata');
  assertValidOwner(record.owner, NO_OWNER_LENGTH_LIMIT);
  checkTime(record.createdAt, 'record.createdAt');
  checkTime(record.lastActivityAt, 'record.lastActivityAt');
  if (record.expiresAt !== null) checkTime(record.expiresAt, 'record.expiresAt');
  assertPositiveInteger(record.version, 'record.version');
  checkCount(record.messageCount, 'record.messageCount');
  checkImportedLogs(options.logs);
}

/** Checks the arguments of `get`. */
export function checkGetArgs(id: string, options: { now: number; owner?: string | null }): void {
  assertValidId(id);
  checkOptionsObject(options, 'get');
  checkTime(options.now, 'now');
  checkOwnerGuard(options.owner);
}

/** Checks the arguments of `update`: the guards, `maxContextBytes` and every field of the change. */
export function checkUpdateArgs(id: string, change: SessionChange, options: UpdateOptions): void {
  assertValidId(id);
  checkGuardArgs(options, 'update');
  if (options.maxContextBytes !== undefined) {
    assertPositiveInteger(options.maxContextBytes, 'maxContextBytes');
  }
  if (typeof change !== 'object' || change === null || Array.isArray(change)) {
    throw new InvalidValueError(`change must be a SessionChange object, got ${kind(change)}`);
  }
  if (change.state !== undefined) checkState(change.state, 'change.state');
  if (change.metadata !== undefined) checkJsonObject(change.metadata, 'change.metadata');
  if (change.context !== undefined) checkJsonObject(change.context, 'change.context');
  if (change.contextSet !== undefined) {
    const { contextSet } = change;
    if (typeof contextSet !== 'object' || contextSet === null || Array.isArray(contextSet)) {
      throw new InvalidValueError(
        `change.contextSet must be an object of keys to values, got ${kind(contextSet)}`,
      );
    }
    if (!takeCheckedJson(contextSet)) validateJson(contextSet, STORE_JSON_LIMITS, 'contextSet');
  }
  if (change.contextDelete !== undefined) {
    if (!Array.isArray(change.contextDelete)) {
      throw new InvalidValueError('change.contextDelete must be an array of keys');
    }
    change.contextDelete.forEach((key, i) => {
      if (typeof key !== 'string') {
        throw new InvalidValueError(
          `keys must be strings, got ${kind(key)}`,
          `contextDelete[${i}]`,
        );
      }
    });
  }
  if (change.lastActivityAt !== undefined) checkTime(change.lastActivityAt, 'lastActivityAt');
  if (change.expiresAt !== undefined && change.expiresAt !== null) {
    checkTime(change.expiresAt, 'expiresAt');
  }
  if (change.touch !== undefined) checkTouch(change.touch);
}

/** Checks the arguments of `append`. */
export function checkAppendArgs(
  id: string,
  log: string,
  entries: readonly unknown[],
  options: AppendOptions,
): void {
  assertValidId(id);
  assertValidLogName(log);
  checkGuardArgs(options, 'append');
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new InvalidValueError('append needs a non-empty array of entries');
  }
  if (!takeCheckedJson(entries)) validateJson(entries, STORE_JSON_LIMITS, 'entries');
  if (options.cap !== undefined) assertPositiveInteger(options.cap, 'cap');
  if (options.countMessages !== undefined && typeof options.countMessages !== 'boolean') {
    throw new InvalidValueError(
      `countMessages must be true or false, got ${kind(options.countMessages)}`,
    );
  }
  if (options.touch !== undefined) checkTouch(options.touch);
}

/** Checks the arguments of `replaceEntries`: the guards and every `{ seq, value }` of the batch. */
export function checkReplaceEntriesArgs(
  id: string,
  log: string,
  entries: readonly unknown[],
  options: ReplaceEntriesOptions,
): void {
  assertValidId(id);
  assertValidLogName(log);
  checkGuardArgs(options, 'replaceEntries');
  if (!Array.isArray(entries)) {
    throw new InvalidValueError(
      `replaceEntries needs an array of { seq, value } entries, got ${kind(entries)}`,
    );
  }
  const values: unknown[] = [];
  const seen = new Set<number>();
  entries.forEach((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new InvalidValueError(
        `each entry must be an object { seq, value }, got ${kind(entry)}`,
        `entries[${i}]`,
      );
    }
    const { seq, value } = entry as { seq?: unknown; value?: unknown };
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
      throw new InvalidValueError(
        `seq must be a positive integer (the seq read gave the entry), got ${kind(seq)}`,
        `entries[${i}].seq`,
      );
    }
    if (seen.has(seq)) {
      throw new InvalidValueError(
        `seq ${seq} appears twice in the batch; give each entry once`,
        `entries[${i}].seq`,
      );
    }
    seen.add(seq);
    values.push(value);
  });
  if (!takeCheckedJson(entries)) {
    values.forEach((value, i) => {
      validateJson(value, STORE_JSON_LIMITS, `entries[${i}].value`);
    });
  }
}

/** Checks the arguments of `read`. */
export function checkReadArgs(id: string, log: string, options: ReadOptions): void {
  assertValidId(id);
  assertValidLogName(log);
  checkGuardArgs(options, 'read');
  checkSeq(options.afterSeq, 'afterSeq');
  checkSeq(options.beforeSeq, 'beforeSeq');
  if (options.limit !== undefined) assertPositiveInteger(options.limit, 'limit');
  if (options.order !== undefined && options.order !== 'asc' && options.order !== 'desc') {
    throw new InvalidValueError(`order must be "asc" or "desc", got ${kind(options.order)}`);
  }
}

/** Checks the argument of `delete`. */
export function checkDeleteArgs(id: string): void {
  assertValidId(id);
}

/** Checks the options of `list`. */
export function checkListArgs(options: ListOptions): void {
  checkOptionsObject(options, 'list');
  checkTime(options.now, 'now');
  if (options.limit === undefined) throw new InvalidValueError('list needs a limit');
  assertPositiveInteger(options.limit, 'limit');
  if (options.state !== undefined) checkState(options.state, 'state');
  if (options.owner !== undefined) {
    if (options.owner === null) {
      throw new InvalidValueError('list({ owner }) takes an owner string; omit it for every owner');
    }
    assertValidOwner(options.owner, NO_OWNER_LENGTH_LIMIT);
  }
  const { cursor } = options;
  if (cursor !== undefined && cursor !== null && typeof cursor !== 'string') {
    throw new InvalidValueError(
      'cursor must be the nextCursor of the previous page, or null for the first',
    );
  }
}

/** Checks the options of `count`. */
export function checkCountArgs(options: CountOptions): void {
  checkOptionsObject(options, 'count');
  checkTime(options.now, 'now');
  if (options.owner !== undefined) {
    if (options.owner === null) {
      throw new InvalidValueError(
        'count({ owner }) takes an owner string; omit it for every owner',
      );
    }
    assertValidOwner(options.owner, NO_OWNER_LENGTH_LIMIT);
  }
  const { states } = options;
  if (states === undefined) return;
  if (!Array.isArray(states) || states.length === 0) {
    throw new InvalidValueError(
      `count({ states }) takes a non-empty array of states; omit it for every state, got ${
        Array.isArray(states) ? 'an empty array' : kind(states)
      }`,
    );
  }
  for (const state of states) checkState(state, 'states');
}

/** Checks the arguments of `sweep`. */
export function checkSweepArgs(now: number, options: SweepOptions | undefined): void {
  checkTime(now, 'now');
  if (options === undefined) return;
  checkOptionsObject(options, 'sweep');
  if (options.limit !== undefined) assertPositiveInteger(options.limit, 'limit');
}

/** Checks the argument of `stats`. */
export function checkStatsArgs(now: number): void {
  checkTime(now, 'now');
}

function checkGuardArgs(guards: RecordGuards, primitive: string): void {
  checkOptionsObject(guards, primitive);
  checkTime(guards.now, 'now');
  checkOwnerGuard(guards.owner);
  if (guards.expectedVersion !== undefined) {
    assertPositiveInteger(guards.expectedVersion, 'expectedVersion');
  }
  const { expectedState } = guards;
  if (expectedState === undefined) return;
  if (Array.isArray(expectedState)) {
    for (const state of expectedState) checkState(state, 'expectedState');
  } else {
    checkState(expectedState, 'expectedState');
  }
}

function checkOwnerGuard(owner: unknown): void {
  if (owner !== undefined) assertValidOwner(owner, NO_OWNER_LENGTH_LIMIT);
}

function checkOptionsObject(options: unknown, primitive: string): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidValueError(
      `${primitive} needs an options object with now (epoch milliseconds)`,
    );
  }
}

function checkTime(value: unknown, name: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new InvalidValueError(
      `${name} must be epoch milliseconds (a safe integer), got ${kind(value)}`,
    );
  }
}

function checkCount(value: unknown, name: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidValueError(`${name} must be a non-negative integer, got ${kind(value)}`);
  }
}

function checkSeq(value: unknown, name: string): void {
  if (value !== undefined) checkCount(value, name);
}

function checkState(state: unknown, name: string): asserts state is SessionState {
  if (!SESSION_STATES.includes(state as SessionState)) {
    throw new InvalidValueError(
      `${name} must be one of ${SESSION_STATES.join(', ')}, got ${kind(state)}`,
    );
  }
}

function checkJsonObject(value: unknown, name: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidValueError(`${name} must be a plain JSON object, got ${kind(value)}`);
  }
  if (!takeCheckedJson(value)) validateJson(value, STORE_JSON_LIMITS, name);
}

function checkTouch(touch: Touch): void {
  if (typeof touch !== 'object' || touch === null) {
    throw new InvalidValueError(
      `touch must be { at, idleTimeoutMs, maxLifetimeMs }, got ${kind(touch)}`,
    );
  }
  checkTime(touch.at, 'touch.at');
  for (const key of ['idleTimeoutMs', 'maxLifetimeMs'] as const) {
    const value = touch[key];
    if (value !== null) checkCount(value, `touch.${key}`);
  }
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? 'a long string' : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return 'an object';
  return typeof value;
}
