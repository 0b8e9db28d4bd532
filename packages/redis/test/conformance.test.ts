import { fileURLToPath } from 'node:url';
import { runStoreConformance } from '@mcp-session/test-suite';
import { freshRedisStore, REDIS_URL } from '@mcp-session/test-utils/redis';
import { Redis } from 'ioredis';
import { afterAll, expect } from 'vitest';
import { RedisSessionStore } from '../src/index.js';
import { damagePayloadWith, keysOf, prefixOf, removePrefix } from './helpers.js';

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
  damagePayload: damagePayloadWith(admin),
  childModule: fileURLToPath(new URL('./child-store.ts', import.meta.url)),
});
