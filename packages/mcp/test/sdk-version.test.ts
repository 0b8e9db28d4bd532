import { expect, it } from 'vitest';
import { checkSdkCompatibility } from '../src/index.js';

it('runs against the SDK version this project is meant to test (the alias really applies)', async () => {
  // server/sseKeepAlive.js appeared after 1.26, so its presence tells the two apart.
  const keepAlive = import('@modelcontextprotocol/sdk/server/sseKeepAlive.js');
  if (process.env.MCP_SDK_UNDER_TEST === '1.26') await expect(keepAlive).rejects.toThrow();
  else await expect(keepAlive).resolves.toBeDefined();
});

it('passes the start-up compatibility probe', async () => {
  await expect(checkSdkCompatibility()).resolves.toBeUndefined();
});
