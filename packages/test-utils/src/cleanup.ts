import { afterEach } from 'vitest';

/** Clean-ups registered during a test. */
export interface Cleanups {
  /** Runs `cleanup` after the current test; the last registered runs first. */
  push(cleanup: () => unknown): void;
}

/** Registers an `afterEach` that runs the test's clean-ups, last first. Call once at the top of a file. */
export function cleanupAfterEach(): Cleanups {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return { push: (cleanup) => cleanups.push(cleanup) };
}
