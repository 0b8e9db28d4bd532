import { describe, expect, it } from 'vitest';
import {
  assertValidId,
  assertValidKey,
  assertValidLogName,
  DEFAULT_LIMITS,
  InvalidIdError,
  InvalidValueError,
  PayloadTooLargeError,
  resolveLimits,
  validateJson,
  validateJsonObject,
} from '../src/index.js';

describe('validateJson', () => {
  it('accepts plain JSON and returns its UTF-8 byte size', () => {
    const value = { a: [1, 'é', null, true, { b: -0.5 }], '': 'empty key is fine' };
    expect(validateJson(value)).toBe(Buffer.byteLength(JSON.stringify(value)));
    expect(validateJson(Object.assign(Object.create(null), { a: 1 }))).toBe(7);
  });

  it('accepts shared (non-cyclic) references', () => {
    const shared = { x: 1 };
    expect(() => validateJson({ a: shared, b: [shared, shared] })).not.toThrow();
  });

  it.each([
    [
      'cycle',
      () => {
        const a: Record<string, unknown> = {};
        a.a = a;
        return a;
      },
      /cycle/,
    ],
    ['BigInt', () => ({ n: 1n }), /BigInt/],
    ['NaN', () => [Number.NaN], /NaN is not a JSON number/],
    ['function', () => ({ f() {} }), /function/],
    ['Date', () => ({ d: new Date() }), /Instances of Date/],
    ['__proto__ key', () => JSON.parse('{"__proto__": 1}'), /prototype pollution/],
    ['constructor key', () => ({ constructor: 1 }), /prototype pollution/],
    ['lone surrogate', () => ({ s: '\udc00' }), /lone surrogate/],
    ['NUL', () => ({ s: 'a\u0000' }), /NUL/],
  ])('rejects a %s with InvalidValueError naming the path', (_, make, message) => {
    const error = (() => {
      try {
        validateJson(make(), DEFAULT_LIMITS, 'context');
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(InvalidValueError);
    expect((error as Error).message).toMatch(message);
    expect((error as InvalidValueError).path).toMatch(/^context/);
  });

  it('enforces depth and key limits exactly at the boundary', () => {
    const limits = { maxDepth: 3, maxKeys: 2, maxKeyLength: 4 };
    expect(() => validateJson({ a: { b: [1] } }, limits)).not.toThrow();
    expect(() => validateJson({ a: { b: [[1]] } }, limits)).toThrow(/deeper than 3/);
    expect(() => validateJson({ a: 1, b: 2, c: 3 }, limits)).toThrow(/3 keys, more than 2/);
    expect(() => validateJson({ abcde: 1 }, limits)).toThrow(/at most 4 characters/);
  });

  it('validateJsonObject requires an object and enforces the byte limit', () => {
    expect(() => validateJsonObject([], DEFAULT_LIMITS, 'context', 100)).toThrow(InvalidValueError);
    expect(() =>
      validateJsonObject({ a: 'x'.repeat(100) }, DEFAULT_LIMITS, 'context', 100),
    ).toThrow(PayloadTooLargeError);
  });
});

describe('ids, keys, log names and limits', () => {
  it('accepts visible ASCII ids and rejects everything else', () => {
    expect(() => assertValidId('!~azAZ09-_.')).not.toThrow();
    for (const bad of ['', ' ', 'a b', 'é', '\u007f', 'x'.repeat(257)]) {
      expect(() => assertValidId(bad), JSON.stringify(bad)).toThrow(InvalidIdError);
    }
    expect(() => assertValidId('x'.repeat(10), 9)).toThrow(/1 to 9 characters/);
  });

  it('checks context keys and log names', () => {
    expect(() => assertValidKey('__proto__')).toThrow(InvalidValueError);
    expect(() => assertValidKey('normal key')).not.toThrow();
    expect(() => assertValidLogName('events:_GET_stream')).not.toThrow();
    expect(() => assertValidLogName('has space')).toThrow(InvalidValueError);
    expect(() => assertValidLogName('x'.repeat(129))).toThrow(InvalidValueError);
  });

  it('merges limit overrides and rejects nonsense', () => {
    expect(resolveLimits({ maxDepth: 5 })).toMatchObject({
      maxDepth: 5,
      maxKeys: DEFAULT_LIMITS.maxKeys,
    });
    expect(() => resolveLimits({ maxDepth: 0 })).toThrow(
      /limits.maxDepth must be a positive integer/,
    );
  });
});

describe('values the manager hands to its store', () => {
  it('are checked once by the store, and again when the same value is used again', async () => {
    const { markCheckedJson, takeCheckedJson } = await import('../src/validation.js');
    const value = { ok: true };
    expect(takeCheckedJson(value)).toBe(false);
    markCheckedJson(value);
    expect(takeCheckedJson(value)).toBe(true);
    expect(takeCheckedJson(value)).toBe(false);
    expect(takeCheckedJson(null)).toBe(false);
    expect(takeCheckedJson('text')).toBe(false);
  });
});
