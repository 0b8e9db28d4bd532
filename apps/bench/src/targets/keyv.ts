import { randomBytes } from 'node:crypto';
import KeyvPostgres from '@keyv/postgres';
import KeyvRedis from '@keyv/redis';
import KeyvSqlite from '@keyv/sqlite';
import Keyv, { type KeyvStoreAdapter } from 'keyv';
import type { Target } from '../workload.js';
import { BlobWorkload, type SessionBlob } from './blob.js';

/** Keyv over one of its adapters: the session as one blob, read-modify-write. */
export function keyvTarget(
  backend: string,
  adapter: () => KeyvStoreAdapter | Map<unknown, unknown>,
  cleanup?: () => Promise<void>,
): Target {
  return {
    backend,
    kind: 'keyv',
    async open() {
      const keyv = new Keyv<SessionBlob>({
        store: adapter(),
        namespace: `bench-${randomBytes(4).toString('hex')}`,
      });
      keyv.on('error', () => {});
      return new BlobWorkload({
        get: (key) => keyv.get(key),
        set: async (key, value, ttl) => {
          await keyv.set(key, value, ttl);
        },
        close: async () => {
          await keyv.clear();
          await keyv.disconnect();
          await cleanup?.();
        },
      });
    },
  };
}

export const keyvAdapters = {
  memory: () => new Map(),
  redis: (url: string) => () => new KeyvRedis(url) as unknown as KeyvStoreAdapter,
  postgres: (url: string, table: string) => () =>
    new KeyvPostgres({ uri: url, table }) as unknown as KeyvStoreAdapter,
  sqlite: (path: string) => () =>
    new KeyvSqlite({ uri: `sqlite://${path}`, table: 'keyv_bench' }) as unknown as KeyvStoreAdapter,
};
