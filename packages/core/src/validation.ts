import { InvalidIdError, InvalidValueError, PayloadTooLargeError } from './errors.js';
import type { JsonObject, JsonValue } from './types.js';

/** Structural and size limits checked before anything is written. Sizes are bytes of UTF-8 JSON. */
export interface SessionLimits {
  /** Longest accepted session id, in characters. Default 256. */
  maxIdLength: number;
  /** Longest accepted owner string, in characters. Default 1024. */
  maxOwnerLength: number;
  /** Deepest nesting of objects and arrays in one value. Default 32. */
  maxDepth: number;
  /** Most keys in one object. Default 1000. */
  maxKeys: number;
  /** Longest object key, in characters. Default 256. */
  maxKeyLength: number;
  /** Largest whole context, enforced atomically by the store. Default 1 MiB. */
  maxContextBytes: number;
  /** Largest metadata object. Default 64 KiB. */
  maxMetadataBytes: number;
  /** Largest single history message or log entry. Default 256 KiB. */
  maxMessageBytes: number;
}

export const DEFAULT_LIMITS: Readonly<SessionLimits> = Object.freeze({
  maxIdLength: 256,
  maxOwnerLength: 1024,
  maxDepth: 32,
  maxKeys: 1000,
  maxKeyLength: 256,
  maxContextBytes: 1024 * 1024,
  maxMetadataBytes: 64 * 1024,
  maxMessageBytes: 256 * 1024,
});

/** Merges overrides into the defaults, rejecting limits that are not positive integers. */
export function resolveLimits(overrides: Partial<SessionLimits> = {}): SessionLimits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    assertPositiveInteger(value, `limits.${name}`);
  }
  return limits;
}

/** Throws `InvalidValueError` unless `value` is a positive safe integer. */
export function assertPositiveInteger(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidValueError(`${name} must be a positive integer, got ${describe(value)}`);
  }
}

/**
 * Checks a session or storage id: 1..maxLength characters, each visible ASCII (0x21–0x7E), as MCP
 * requires of `Mcp-Session-Id`.
 */
export function assertValidId(
  id: unknown,
  maxLength = DEFAULT_LIMITS.maxIdLength,
): asserts id is string {
  if (typeof id !== 'string')
    throw new InvalidIdError(`Session id must be a string, got ${describe(id)}.`);
  if (id.length === 0 || id.length > maxLength) {
    throw new InvalidIdError(
      `Session id must be 1 to ${maxLength} characters long, got ${id.length}.`,
    );
  }
  for (let i = 0; i < id.length; i++) {
    const code = id.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) {
      throw new InvalidIdError(
        `Session id may only contain visible ASCII characters (0x21-0x7E); found 0x${code.toString(16)} at position ${i}.`,
      );
    }
  }
}

const LOG_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Checks a log name: 1..128 characters of `A-Z a-z 0-9 _ . : -`. */
export function assertValidLogName(log: unknown): asserts log is string {
  if (typeof log !== 'string' || !LOG_NAME.test(log)) {
    throw new InvalidValueError(
      `Log name must be 1-128 characters of A-Z, a-z, 0-9, "_", ".", ":" or "-", got ${describe(log)}`,
    );
  }
}

/** Checks an owner: null, or a non-empty well-formed string without NUL of at most `maxLength` characters. */
export function assertValidOwner(
  owner: unknown,
  maxLength = DEFAULT_LIMITS.maxOwnerLength,
): asserts owner is string | null {
  if (owner === null) return;
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > maxLength) {
    throw new InvalidValueError(
      `Owner must be null or a string of 1 to ${maxLength} characters, got ${describe(owner)}`,
    );
  }
  assertPortableString(owner, 'owner');
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor']);

/** Checks one object key (also used for context keys written one by one). */
export function assertValidKey(
  key: unknown,
  limits: Pick<SessionLimits, 'maxKeyLength'> = DEFAULT_LIMITS,
  path = 'key',
): asserts key is string {
  if (typeof key !== 'string' || key.length > limits.maxKeyLength) {
    throw new InvalidValueError(
      `Keys must be strings of at most ${limits.maxKeyLength} characters, got ${describe(key)}`,
      path,
    );
  }
  if (FORBIDDEN_KEYS.has(key)) {
    throw new InvalidValueError(
      `The key "${key}" is not allowed (prototype pollution guard)`,
      path,
    );
  }
  assertPortableString(key, path);
}

/**
 * Checks that `value` is plain JSON within the structural limits and returns its size in bytes of UTF-8
 * JSON. Rejects cycles, `undefined`, functions, symbols, BigInt, NaN/Infinity, sparse arrays, class
 * instances (Date, Map, Buffer…), accessors, symbol keys, `__proto__`/`constructor` keys, lone surrogates
 * and NUL characters (Postgres `jsonb` cannot store them, so no backend accepts them).
 */
export function validateJson(
  value: unknown,
  limits: Pick<SessionLimits, 'maxDepth' | 'maxKeys' | 'maxKeyLength'> = DEFAULT_LIMITS,
  path = 'value',
): number {
  checkJson(value, limits, path, 0, new Set());
  return jsonByteLength(value as JsonValue);
}

/** Like `validateJson`, but also requires a plain object at the top and enforces a byte limit. */
export function validateJsonObject(
  value: unknown,
  limits: Pick<SessionLimits, 'maxDepth' | 'maxKeys' | 'maxKeyLength'>,
  what: string,
  maxBytes: number,
): asserts value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidValueError(
      `${what} must be a plain JSON object, got ${describe(value)}`,
      what,
    );
  }
  assertMaxBytes(validateJson(value, limits, what), maxBytes, what);
}

/**
 * Values the manager has just validated and hands to its store in the same synchronous step. The store's
 * own argument check takes the mark instead of walking the value a second time. A mark is taken by the
 * first check that sees it, so a value that is used again is checked again.
 */
const checkedJson = new WeakSet<object>();

/** @internal Marks a value the caller validated as plain JSON for the store call it makes next. */
export function markCheckedJson<T extends object>(value: T): T {
  checkedJson.add(value);
  return value;
}

/** @internal Whether a value was marked by `markCheckedJson`; removes the mark. */
export function takeCheckedJson(value: unknown): boolean {
  return typeof value === 'object' && value !== null && checkedJson.delete(value);
}

/** Throws `PayloadTooLargeError` when `bytes > limit`. */
export function assertMaxBytes(bytes: number, limit: number, what: string): void {
  if (bytes > limit) throw new PayloadTooLargeError(what, limit, bytes);
}

/** Size of a value as UTF-8 JSON, in bytes. */
export function jsonByteLength(value: JsonValue): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

function checkJson(
  value: unknown,
  limits: Pick<SessionLimits, 'maxDepth' | 'maxKeys' | 'maxKeyLength'>,
  path: string,
  depth: number,
  ancestors: Set<object>,
): void {
  switch (typeof value) {
    case 'string':
      assertPortableString(value, path);
      return;
    case 'number':
      if (!Number.isFinite(value)) {
        throw new InvalidValueError(`${value} is not a JSON number`, path);
      }
      return;
    case 'boolean':
      return;
    case 'object':
      if (value === null) return;
      break;
    default:
      throw new InvalidValueError(`${describe(value)} is not a JSON value`, path);
  }
  if (depth + 1 > limits.maxDepth) {
    throw new InvalidValueError(`Value is nested deeper than ${limits.maxDepth} levels`, path);
  }
  if (ancestors.has(value)) throw new InvalidValueError('Value contains a cycle', path);
  ancestors.add(value);
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) {
      throw new InvalidValueError('Array subclasses are not plain JSON', path);
    }
    for (let i = 0; i < value.length; i++) {
      if (!Object.hasOwn(value, i))
        throw new InvalidValueError('Sparse arrays are not JSON', `${path}[${i}]`);
      checkJson(value[i], limits, `${path}[${i}]`, depth + 1, ancestors);
    }
  } else {
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'unknown';
      throw new InvalidValueError(`Instances of ${name} are not plain JSON objects`, path);
    }
    if (Object.getOwnPropertySymbols(value).length > 0) {
      throw new InvalidValueError('Symbol keys are not JSON', path);
    }
    const keys = Object.keys(value);
    if (keys.length > limits.maxKeys) {
      throw new InvalidValueError(
        `Object has ${keys.length} keys, more than ${limits.maxKeys}`,
        path,
      );
    }
    for (const key of keys) {
      const childPath = `${path}.${key}`;
      assertValidKey(key, limits, childPath);
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor === undefined || !('value' in descriptor)) {
        throw new InvalidValueError('Accessor properties are not plain JSON', childPath);
      }
      checkJson(descriptor.value, limits, childPath, depth + 1, ancestors);
    }
  }
  ancestors.delete(value);
}

function assertPortableString(value: string, path: string): void {
  if (!value.isWellFormed()) {
    throw new InvalidValueError('String contains a lone surrogate (not well-formed Unicode)', path);
  }
  if (value.includes('\u0000')) {
    throw new InvalidValueError(
      'String contains a NUL character, which not every backend can store',
      path,
    );
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
    case 'number':
    case 'boolean':
      return String(value);
    case 'bigint':
      return `the BigInt ${value}n`;
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      return 'an object';
  }
}
