import { describe, it } from 'vitest';
import { conformanceCases } from './cases/index.js';
import { runConformanceCase } from './harness.js';
import { type ConformanceCase, type ConformanceOptions, GROUPS } from './types.js';

/**
 * Registers the conformance suite with vitest: one `describe` per group, one test per case. Cases that
 * need a capability the store does not declare are reported as skipped, with the reason.
 *
 * @example
 * runStoreConformance({
 *   name: 'my-store',
 *   location: () => `mystore://localhost/${randomUUID()}`,
 *   open: (location) => MyStore.open(location),
 * });
 */
export function runStoreConformance(
  options: ConformanceOptions,
  cases: readonly ConformanceCase[] = conformanceCases,
): void {
  describe(`${options.name}: SessionStore conformance`, () => {
    for (const group of GROUPS) {
      const groupCases = cases.filter((c) => c.group === group);
      if (groupCases.length === 0) continue;
      describe(group, () => {
        for (const testCase of groupCases) {
          it(testCase.name, { timeout: testCase.timeout ?? 30_000 }, async (context) => {
            const skipped = await runConformanceCase(testCase, options);
            if (skipped !== null) context.skip(skipped);
          });
        }
      });
    }
  });
}
