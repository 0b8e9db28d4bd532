import { randomBytes } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import { KeyLayout } from '../src/keys.js';

/** The Redis the tests use (REDIS_URL, default the local one). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh random key prefix, so concurrent test runs never share keys. */
export function randomPrefix(): string {
  return `t-${randomBytes(8).toString('hex')}`;
}

/** A store URL on REDIS_URL with a fresh prefix and extra query options. */
export function storeUrl(options: Record<string, string> = {}, base = REDIS_URL): string {
  const url = new URL(base);
  url.searchParams.set('prefix', randomPrefix());
  for (const [key, value] of Object.entries(options)) url.searchParams.set(key, value);
  return url.toString();
}

/** The prefix of a store URL. */
export function prefixOf(location: string): string {
  return new URL(location).searchParams.get('prefix') as string;
}

/** Every key of a prefix, from every master when the client is a Cluster. */
export async function keysOf(client: Redis | Cluster, prefix: string): Promise<string[]> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  const keys: string[] = [];
  for (const node of nodes) {
    for (const pattern of new KeyLayout(prefix).scanPatterns()) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
    }
  }
  return keys;
}

/** Deletes every key of a prefix (one UNLINK per key: keys of different slots cannot share one). */
export async function removePrefix(client: Redis | Cluster, prefix: string): Promise<void> {
  await Promise.all((await keysOf(client, prefix)).map((key) => client.unlink(key)));
}
