import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

/**
 * Two projects run every test: once against the SDK installed for development, once against the lowest
 * version the peer range allows (the `sdk-1-26` alias), so the range in package.json is a tested claim.
 * test/sdk-version.test.ts proves the alias really applies.
 */
export default mergeConfig(
  shared,
  defineConfig({
    test: {
      projects: [
        { extends: true, test: { name: 'sdk-latest', env: { MCP_SDK_UNDER_TEST: 'latest' } } },
        {
          extends: true,
          test: {
            name: 'sdk-1.26',
            env: { MCP_SDK_UNDER_TEST: '1.26' },
            exclude: [
              // Their child processes load the SDK by plain Node resolution; the alias cannot reach them.
              'test/memory.test.ts',
              'test/main-entry.test.ts',
              // They use no SDK 1.x code: running them twice would prove nothing more.
              'test/handles.test.ts',
              'test/handle-tools-v2.test.ts',
              'test/handles-entry.test.ts',
              // What a session's events take in each backend is the event store's doing, not the SDK's;
              // its 10,000 tool calls would only double the run.
              'test/event-budget.test.ts',
            ],
          },
          resolve: {
            alias: [{ find: /^@modelcontextprotocol\/sdk\//, replacement: 'sdk-1-26/' }],
          },
        },
      ],
    },
  }),
);
