import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runStoreConformance } from '@mcp-session/test-suite';
import { conformanceLocations, freshDirectory } from '@mcp-session/test-utils';
import { FileSessionStore } from '../src/index.js';

/** Locations whose payload a case damaged on purpose: their repairs (quarantines) are expected. */
const damaged = new Set<string>();

runStoreConformance({
  name: 'file',
  ...conformanceLocations(() => {
    const { path, remove } = freshDirectory('file');
    return { location: path, cleanup: remove };
  }),
  // Warnings would mean a repair happened; none is expected in the suite, so let them print — except
  // where a case damaged a payload on purpose.
  open: (location) =>
    FileSessionStore.open(location, {
      onWarning: (warning) => {
        if (!damaged.has(location)) console.warn(warning);
      },
    }),
  // The record file keeps its head (format, id, owner, expiry…) but its context stops being JSON, and
  // every log line becomes garbage of the same length, so the committed byte counts still match.
  damagePayload: async (location, storageId) => {
    damaged.add(location);
    const hash = createHash('sha256').update(storageId).digest('hex');
    const shard = join(location, 'sessions', hash.slice(0, 2));
    const recordPath = join(shard, `${hash}.json`);
    const text = await readFile(recordPath, 'utf8');
    if (!text.includes(',"context":')) throw new Error(`${recordPath} holds no context to damage`);
    await writeFile(recordPath, text.replace(',"context":', ',"context":]'));
    const logs = (await readdir(join(shard, hash))).filter((name) => name.endsWith('.jsonl'));
    if (logs.length === 0) throw new Error(`Record ${storageId} has no log files to damage`);
    for (const name of logs) {
      const path = join(shard, hash, name);
      await writeFile(path, (await readFile(path, 'utf8')).replace(/[^\n]/g, '#'));
    }
  },
  childModule: fileURLToPath(new URL('./fixtures/child-store.ts', import.meta.url)),
});
