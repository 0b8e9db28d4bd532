import { describe, expect, it } from 'vitest';
import { InvalidStoreUrlError, MAX_TIMER_MS, readUrlOptions } from '../src/adapter.js';

const SPEC = {
  prefix: { type: 'string', pattern: /^[a-z]{1,8}$/, description: '1-8 lower-case letters' },
  cluster: { type: 'boolean' },
  timeoutMs: { type: 'integer', min: 1, max: MAX_TIMER_MS, unit: 'milliseconds' },
} as const;

function read(query: string, passThrough?: readonly string[]) {
  return readUrlOptions(new URLSearchParams(query), SPEC, {
    store: 'Test',
    shownUrl: `test://host?${query}`,
    ...(passThrough ? { passThrough } : {}),
  });
}

describe('readUrlOptions', () => {
  it('reads typed values and returns only the options present', () => {
    expect(read('prefix=app&cluster=true&timeoutMs=2500').options).toEqual({
      prefix: 'app',
      cluster: true,
      timeoutMs: 2500,
    });
    expect(read('cluster=false').options).toEqual({ cluster: false });
    expect(read('').options).toEqual({});
  });

  it('refuses an unknown key, naming it and the known ones', () => {
    expect(() => read('prefx=app')).toThrow(InvalidStoreUrlError);
    expect(() => read('prefx=app')).toThrow(
      'Unknown Test store option "prefx" in "test://host?prefx=app" (known: prefix, cluster, timeoutMs)',
    );
  });

  it('refuses a key given twice, even with the same value', () => {
    expect(() => read('cluster=true&cluster=true')).toThrow(
      /store option "cluster" is given twice in .*; give it once/,
    );
    expect(() => read('prefix=a&prefix=b&prefix=c')).toThrow(/is given 3 times/);
  });

  it('accepts only decimal digits within bounds for integers', () => {
    for (const bad of [
      '0x10',
      '1e3',
      '-1',
      '2.5',
      '',
      ' 5',
      '0',
      `${MAX_TIMER_MS + 1}`,
      '9'.repeat(20),
    ]) {
      expect(() => read(`timeoutMs=${encodeURIComponent(bad)}`), bad).toThrow(
        /timeoutMs must be a whole number from 1 to 2147483647 \(milliseconds\)/,
      );
    }
    expect(read(`timeoutMs=${MAX_TIMER_MS}`).options.timeoutMs).toBe(MAX_TIMER_MS);
  });

  it('accepts only true and false for booleans, and checks string patterns', () => {
    for (const bad of ['1', 'yes', 'TRUE', '']) {
      expect(() => read(`cluster=${bad}`), bad).toThrow(/cluster must be true or false/);
    }
    expect(() => read('prefix=App1')).toThrow(/prefix must be 1-8 lower-case letters, got "App1"/);
  });

  it('hands pass-through parameters back untouched, still refusing duplicates', () => {
    const { options, rest } = read('prefix=app&sslmode=require&application_name=x', [
      'sslmode',
      'application_name',
    ]);
    expect(options).toEqual({ prefix: 'app' });
    expect(rest.toString()).toBe('sslmode=require&application_name=x');
    expect(() => read('sslmode=a&sslmode=b', ['sslmode'])).toThrow(/"sslmode" is given twice/);
    expect(() => read('other=1', ['sslmode'])).toThrow(
      /known: prefix, cluster, timeoutMs, sslmode/,
    );
  });

  it('does not treat inherited object keys as options', () => {
    expect(() => read('constructor=1')).toThrow(/Unknown Test store option "constructor"/);
    expect(() => read('toString=1')).toThrow(/Unknown Test store option "toString"/);
  });
});
