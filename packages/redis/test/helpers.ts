import { Cluster, type Redis } from 'ioredis';
import { KeyLayout } from '../src/keys.js';

/** The prefix of a store URL (one from `freshRedisStore`); fails the test when it has none. */
export function prefixOf(location: string): string {
  const prefix = new URL(location).searchParams.get('prefix');
  if (prefix === null) throw new Error(`${location} has no prefix`);
  return prefix;
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

/**
 * The suite's `damagePayload` hook over `client`: context fields (a JSON-encoded key, so they start with
 * a double quote) and log entries ("<at>,<data JSON>") get values that are not JSON, so the store's parse
 * of either fails. Throws when the record has none of them left.
 */
export function damagePayloadWith(
  client: Redis | Cluster,
): (location: string, storageId: string) => Promise<void> {
  return async (location, storageId) => {
    const [record, logs] = new KeyLayout(prefixOf(location)).session(storageId);
    const contextFields = (await client.hkeys(record)).filter((field) => field.startsWith('"'));
    const entryFields = (await client.hkeys(logs)).filter((field) => field.includes('#'));
    if (contextFields.length === 0 || entryFields.length === 0) {
      throw new Error(`Nothing to damage: record ${storageId} has no context or log entries`);
    }
    await client.hset(record, ...contextFields.flatMap((field) => [field, '{not json']));
    await client.hset(logs, ...entryFields.flatMap((field) => [field, '0,{not json']));
  };
}
