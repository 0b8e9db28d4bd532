import { defineConfig } from 'vitest/config';

/**
 * Export condition that points every workspace package at its TypeScript source, so tests, child
 * processes and editors run without a build step.
 */
const SOURCE_CONDITION = '@mcp-session/source';
const SERVER_CONDITIONS = [SOURCE_CONDITION, 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions: SERVER_CONDITIONS },
  ssr: { resolve: { conditions: SERVER_CONDITIONS } },
  test: {
    // Node's own resolver (require.resolve, child processes) must see the source condition too.
    execArgv: [`--conditions=${SOURCE_CONDITION}`],
    env: { NODE_OPTIONS: `--conditions=${SOURCE_CONDITION}` },
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
