import { fileURLToPath } from 'node:url';
import { runStoreConformance } from '@mcp-session/test-suite';
import { freshRedisStore, REDIS_URL } from '@mcp-session/test-utils/redis';
import { Redis } from 'ioredis';
import { afterAll, expect } from 'vitest';
import { RedisSessionStore } from '../src/index.js';
import { KeyLayout } from '../src/keys.js';
import { keysOf, prefixOf, removePrefix } from './helpers.js';

const admin = new Redis(REDIS_URL);
afterAll(() => admin.quit());

runStoreConformance({
  name: 'redis',
  location: () => freshRedisStore().url,
  open: (location) => new RedisSessionStore({ url: location }),
  destroy: async (location) => {
    await removePrefix(admin, prefixOf(location));
    expect(await keysOf(admin, prefixOf(location))).toEqual([]);
  },
  // Context fields (a JSON-encoded key, so they start with a double quote) and log entries
  // ("<at>,<data JSON>") get values that are not JSON: the store's parse of either fails.
  damagePayload: async (location, storageId) => {
    const [record, logs] = new KeyLayout(prefixOf(location)).session(storageId);
    const contextFields = (await admin.hkeys(record)).filter((field) => field.startsWith('"'));
    const entryFields = (await admin.hkeys(logs)).filter((field) => field.includes('#'));
    if (contextFields.length === 0 || entryFields.length === 0) {
      throw new Error(`Nothing to damage: record ${storageId} has no context or log entries`);
    }
    await admin.hset(record, ...contextFields.flatMap((field) => [field, '{not json']));
    await admin.hset(logs, ...entryFields.flatMap((field) => [field, '0,{not json']));
  },
  childModule: fileURLToPath(new URL('./child-store.ts', import.meta.url)),
});
