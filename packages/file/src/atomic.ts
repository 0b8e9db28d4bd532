import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Whether an error is a Node file-system error with this code. */
export function hasCode(error: unknown, ...codes: string[]): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && codes.includes(code);
}

/** A catch handler for removals: a file that is already gone is fine. */
export function ignoreMissing(error: unknown): void {
  if (!hasCode(error, 'ENOENT')) throw error;
}

/**
 * Flushes a directory so a rename or a new file in it survives a power cut. Windows cannot open a
 * directory for this and journals renames itself, so there it is a no-op.
 */
export async function fsyncDirectory(directory: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` with `data` so that every reader, and the disk after a crash, sees either the old or
 * the new content in full: write a temp file, flush it, rename it over the target, flush the directory.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  tmpPath: string,
  durable: boolean,
): Promise<void> {
  const handle = await open(tmpPath, 'wx');
  try {
    try {
      await handle.writeFile(data);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmpPath, path);
  } catch (error) {
    await unlink(tmpPath).catch(() => undefined);
    throw error;
  }
  if (durable) await fsyncDirectory(dirname(path));
}
