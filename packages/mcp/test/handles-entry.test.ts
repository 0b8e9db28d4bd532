import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('the @mcp-session/mcp/handles entry mints and resolves handles with no MCP SDK and no Zod installed', async () => {
  // A child process whose module hooks make every @modelcontextprotocol/* and zod import fail.
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      './test/fixtures/deny-sdk.mjs',
      'test/fixtures/use-handles-entry.ts',
    ],
    { cwd: join(import.meta.dirname, '..') },
  );
  expect(
    stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line)),
  ).toEqual([
    { ok: true },
    // The hooks really were active: the SDK could not be loaded.
    { sdkImport: 'denied' },
  ]);
});
