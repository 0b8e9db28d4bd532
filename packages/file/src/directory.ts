import { mkdir, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  InvalidValueError,
  isSessionError,
  StoreNotFoundError,
  StoreUnavailableError,
} from '@mcp-session/core/adapter';
import { fsyncDirectory, hasCode, ignoreMissing, writeFileAtomic } from './atomic.js';
import { FORMAT_VERSION, type Layout, MARKER_FILE } from './layout.js';

/** Directories, among a store's own, that may exist before its marker does (an interrupted first open). */
const OWN_ENTRIES = new Set(['sessions', 'owners', 'quarantine', 'tmp', 'messages', MARKER_FILE]);

/**
 * Makes the directory usable: creates it, checks it is a store (or empty), creates the fixed
 * subdirectories, proves it is writable, and removes temp files of processes that are gone. With
 * `mustExist` it creates nothing: the directory must exist and already be a store.
 */
export async function prepareDirectory(
  layout: Layout,
  durable: boolean,
  mustExist = false,
): Promise<void> {
  const root = layout.root;
  const info = await stat(root).catch((error: unknown) => {
    if (hasCode(error, 'ENOENT')) return null;
    if (hasCode(error, 'ENOTDIR')) throw pathHasFile(root);
    throw error;
  });
  if (info && !info.isDirectory()) {
    throw new InvalidValueError(
      `${root} exists and is not a directory: point the file store at a directory (it is created if missing)`,
    );
  }
  if (!info && mustExist) {
    throw new StoreNotFoundError(
      `The file store directory ${root} does not exist; check the path. Nothing was created.`,
    );
  }
  if (!info) {
    await mkdir(root, { recursive: true }).catch((error: unknown) => {
      if (hasCode(error, 'ENOTDIR', 'EEXIST')) throw pathHasFile(root);
      throw new StoreUnavailableError(
        `Cannot create the store directory ${root} (${(error as Error).message}); check the path and permissions`,
        { cause: error },
      );
    });
  }
  const marker = await readFile(layout.marker, 'utf8').catch((error: unknown) => {
    if (hasCode(error, 'ENOENT')) return null;
    throw error;
  });
  if (marker === null && mustExist) {
    throw new StoreNotFoundError(
      `${root} holds no file session store (no ${MARKER_FILE}); check the path. Nothing was created.`,
    );
  }
  if (marker === null) {
    const foreign = (await readdir(root)).filter(
      (name) => !name.startsWith('.') && !OWN_ENTRIES.has(name),
    );
    if (foreign.length > 0) {
      throw new InvalidValueError(
        `${root} is not empty and is not a session store (it holds ${foreign.slice(0, 3).join(', ')}${
          foreign.length > 3 ? ', …' : ''
        }): point the file store at an empty or new directory`,
      );
    }
  } else if (!isOwnMarker(marker)) {
    throw new InvalidValueError(
      `${layout.marker} is not a marker of format ${FORMAT_VERSION}: this directory was written by another program or an incompatible version of @mcp-session/file`,
    );
  }
  try {
    for (const dir of [layout.sessions, layout.owners, layout.quarantine, layout.tmp]) {
      await mkdir(dir, { recursive: true });
    }
    if (marker === null) {
      // Written last, and atomically: a marker means the layout below it is complete.
      if (durable) await fsyncDirectory(root);
      await writeFileAtomic(
        layout.marker,
        `${JSON.stringify({ format: '@mcp-session/file', version: FORMAT_VERSION })}\n`,
        layout.tmpFile(),
        durable,
      );
    } else {
      const probe = layout.tmpFile();
      await writeFile(probe, '', { flag: 'wx' });
      await unlink(probe);
    }
  } catch (error) {
    if (isSessionError(error, 'INVALID_VALUE')) throw error;
    throw new StoreUnavailableError(
      `The store directory ${root} is not writable (${(error as Error).message}); check its permissions`,
      { cause: error },
    );
  }
  await removeOrphanTempFiles(layout.tmp);
}

function pathHasFile(root: string): InvalidValueError {
  return new InvalidValueError(
    `Cannot create the store directory ${root}: part of that path is a file`,
  );
}

function isOwnMarker(text: string): boolean {
  try {
    const parsed = JSON.parse(text) as { format?: unknown; version?: unknown };
    return parsed.format === '@mcp-session/file' && parsed.version === FORMAT_VERSION;
  } catch {
    return false;
  }
}

/** Temp files are named `<pid>-<random>.tmp`; those of processes no longer running are leftovers. */
async function removeOrphanTempFiles(tmp: string): Promise<void> {
  for (const name of await readdir(tmp)) {
    const pid = Number(/^(\d+)-[0-9a-f]+\.tmp$/.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (error) {
      if (hasCode(error, 'ESRCH')) await unlink(join(tmp, name)).catch(ignoreMissing);
    }
  }
}
