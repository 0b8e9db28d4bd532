import type { SessionError, SessionErrorCode } from '@mcp-session/core';
import { expect } from 'vitest';

/**
 * Asserts that `promise` rejects with an error of this project carrying `code`, and returns it. Checked by
 * code, not class, so an adapter that bundles its own copy of core still passes.
 */
export async function expectCode(
  promise: Promise<unknown>,
  code: SessionErrorCode,
): Promise<SessionError> {
  let error: unknown;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  expect(error, `expected an error with code ${code}`).toBeInstanceOf(Error);
  expect((error as { code?: unknown }).code, `error: ${String(error)}`).toBe(code);
  return error as SessionError;
}

/** Synchronous variant of `expectCode`. */
export function expectCodeSync(fn: () => unknown, code: SessionErrorCode): SessionError {
  let error: unknown;
  try {
    fn();
  } catch (caught) {
    error = caught;
  }
  expect(error, `expected an error with code ${code}`).toBeInstanceOf(Error);
  expect((error as { code?: unknown }).code, `error: ${String(error)}`).toBe(code);
  return error as SessionError;
}

/** Settles every promise and splits the outcomes. */
export async function settle<T>(
  promises: Promise<T>[],
): Promise<{ fulfilled: T[]; rejected: unknown[] }> {
  const results = await Promise.allSettled(promises);
  return {
    fulfilled: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    rejected: results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : [])),
  };
}

/** 0..n-1 */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** from..to inclusive */
export function seqRange(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Error codes of rejected outcomes, for compact assertions. */
export function codesOf(errors: unknown[]): string[] {
  return errors.map((e) => String((e as { code?: unknown }).code ?? e));
}

/** A JSON value that exercises escaping, Unicode and number edge cases. */
export const TRICKY_JSON = {
  text: 'quotes " \' backslash \\ newline \n tab \t emoji 🎉 accents éü 中文 ',
  numbers: [0, -1, 0.1, 1e21, 2 ** 53 - 1, -2.5e-7],
  flags: [true, false, null],
  nested: { empty: {}, list: [], deep: { deeper: { deepest: ['x'] } } },
  'key with spaces and . dots $ and "quotes"': 'ok',
  '': 'empty key',
};
