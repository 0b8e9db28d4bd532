import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Core from '@mcp-session/core';

/** A second, separately loaded copy of `@mcp-session/core`, and the function that deletes it. */
export interface SecondCoreCopy {
  core: typeof Core;
  /** The copy's adapter entry (`@mcp-session/core/adapter`). */
  adapter: typeof import('@mcp-session/core/adapter');
  remove(): Promise<void>;
}

/**
 * Loads core a second time from a copy of its sources in a temporary directory: what an application gets
 * when it and an adapter resolve two versions of core side by side. The copy's classes are not this
 * copy's (`instanceof` is false across them), which is what the brand checks must survive.
 */
export async function importSecondCoreCopy(): Promise<SecondCoreCopy> {
  const coreDir = dirname(createRequire(import.meta.url).resolve('@mcp-session/core/package.json'));
  const copyDir = await mkdtemp(join(tmpdir(), 'mcp-session-second-core-'));
  await cp(join(coreDir, 'src'), join(copyDir, 'src'), { recursive: true });
  await writeFile(join(copyDir, 'package.json'), JSON.stringify({ type: 'module' }));
  const load = (entry: string) => import(pathToFileURL(join(copyDir, 'src', entry)).href);
  return {
    core: (await load('index.ts')) as typeof Core,
    adapter: (await load('adapter.ts')) as typeof import('@mcp-session/core/adapter'),
    remove: () => rm(copyDir, { recursive: true, force: true }),
  };
}
