import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis the tests use: `REDIS_URL`, default the local one. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test (or concurrent run) uses. */
export function freshRedisPrefix(label = 't'): string {
  return `${label}-${randomBytes(8).toString('hex')}`;
}

/** A Redis store URL on a prefix of its own, and the function that deletes every key of that prefix. */
export interface FreshRedisStore {
  prefix: string;
  url: string;
  remove(): Promise<void>;
}

/** A store URL on `base` (default `REDIS_URL`) with a fresh prefix and the given extra options. */
export function freshRedisStore(
  options: Record<string, string> = {},
  base = REDIS_URL,
): FreshRedisStore {
  const prefix = freshRedisPrefix();
  const url = new URL(base);
  url.searchParams.set('prefix', prefix);
  for (const [key, value] of Object.entries(options)) url.searchParams.set(key, value);
  return { prefix, url: url.toString(), remove: () => removeRedisPrefix(prefix, base) };
}

/** Deletes every key that starts with `<prefix>:` (the Redis store's keys all do). */
export async function removeRedisPrefix(prefix: string, base = REDIS_URL): Promise<void> {
  const redis = new Redis(base, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:*`;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
