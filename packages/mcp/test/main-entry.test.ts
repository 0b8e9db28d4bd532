import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('the @mcp-session/mcp main entry serves sessions with no SDK 2.x installed (the dual-era listener has its own entry)', async () => {
  // A child process whose module hooks make every @modelcontextprotocol/{server,node,client} import fail.
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      './test/fixtures/deny-sdk-v2.mjs',
      'test/fixtures/use-main-entry.ts',
    ],
    { cwd: join(import.meta.dirname, '..') },
  );
  expect(
    stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line)),
  ).toEqual([
    { status: 200 },
    // The hooks really were active: SDK 2.x could not be loaded.
    { sdkV2Import: 'denied' },
  ]);
});
