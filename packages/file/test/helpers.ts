import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSessionStore, type FileStoreWarning } from '../src/index.js';

/** A new empty directory under the OS temp directory. */
export function freshDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'mcp-session-file-'));
}

export async function removeDirectory(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

/** Opens a store that collects its warnings instead of printing them. */
export async function openCollecting(
  directory: string,
): Promise<{ store: FileSessionStore; warnings: FileStoreWarning[] }> {
  const warnings: FileStoreWarning[] = [];
  const store = await FileSessionStore.open(directory, {
    onWarning: (warning) => warnings.push(warning),
  });
  return { store, warnings };
}
