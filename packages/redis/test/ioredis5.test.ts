import { fileURLToPath } from 'node:url';
import { runStoreConformance } from '@mcp-session/test-suite';
import { freshRedisStore, REDIS_URL } from '@mcp-session/test-utils/redis';
import { Redis } from 'ioredis5';
import { afterAll, expect } from 'vitest';
import { type RedisClient, RedisSessionStore } from '../src/index.js';
import { keysOf, prefixOf, removePrefix } from './helpers.js';

/*
 * The declared peer range includes ioredis 5: the whole suite runs against a store built on an ioredis
 * 5.x client (RESP2, its own defaults), in this process and in the child processes.
 */
const ioredis5 = new Redis(REDIS_URL);
const client = ioredis5 as unknown as RedisClient;
afterAll(() => ioredis5.quit());

runStoreConformance({
  name: 'redis on ioredis 5',
  location: () => freshRedisStore().url,
  open: (location) => new RedisSessionStore({ client, prefix: prefixOf(location) }),
  destroy: async (location) => {
    await removePrefix(client, prefixOf(location));
    expect(await keysOf(client, prefixOf(location))).toEqual([]);
  },
  childModule: fileURLToPath(new URL('./child-store-ioredis5.ts', import.meta.url)),
});
