import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('frees what a session holds when it is evicted (measured with forced GC in a child process)', async () => {
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', 'scripts/measure-memory.ts', '1000', 'bare'],
    { cwd: join(import.meta.dirname, '..') },
  );
  const result = JSON.parse(stdout) as Record<string, number>;
  console.info('memory per session (bytes of V8 heap):', result);
  expect(result).toMatchObject({ sessions: 1000, liveWhileHeld: 1000, liveAfterEviction: 0 });
  // A held session costs tens of KB (transport, McpServer); an evicted one must leave nothing per
  // session behind: what remains is one-time JIT code, a few hundred KB in all.
  expect(result.heldBytesPerSession).toBeGreaterThan(5_000);
  expect(result.evictedBytesPerSession).toBeLessThan(2_048);
  expect(result.growthBytesPerSessionInNextRound).toBeLessThan(1_024);
}, 120_000);
