import { randomBytes } from 'node:crypto';
import connectPgSimple from 'connect-pg-simple';
import { RedisStore } from 'connect-redis';
import session, { type SessionData, type Store } from 'express-session';
import pg from 'pg';
import { createClient } from 'redis';
import type { Target } from '../workload.js';
import { type BlobStore, BlobWorkload, type SessionBlob } from './blob.js';

/** The express-session `Store` contract (get/set whole sessions), promisified. */
function overStore(
  store: Store,
  close: () => Promise<void>,
  prune?: BlobStore['prune'],
): BlobStore {
  return {
    get: (sid) =>
      new Promise((resolve, reject) =>
        store.get(sid, (error, value) =>
          error ? reject(error) : resolve(value as unknown as SessionBlob | undefined),
        ),
      ),
    set: (sid, value, ttlMs) =>
      new Promise((resolve, reject) =>
        store.set(
          sid,
          { ...value, cookie: { originalMaxAge: ttlMs, maxAge: ttlMs } } as unknown as SessionData,
          (error) => (error ? reject(error) : resolve()),
        ),
      ),
    close,
    ...(prune ? { prune } : {}),
  };
}

/** connect-redis 9 over node-redis. */
export function connectRedisTarget(url: string): Target {
  return {
    backend: 'redis',
    kind: 'connect-redis',
    async open() {
      const client = createClient({ url });
      await client.connect();
      const prefix = `bench-cr-${randomBytes(4).toString('hex')}:`;
      const store = new RedisStore({ client, prefix, ttl: 1_800 });
      return new BlobWorkload(
        overStore(store, async () => {
          await store.clear();
          await client.quit();
        }),
      );
    },
  };
}

/** connect-pg-simple 10 over pg, with its own prune. */
export function connectPgTarget(url: string, schema: string): Target {
  return {
    backend: 'postgres',
    kind: 'connect-pg-simple',
    async open() {
      const pool = new pg.Pool({ connectionString: url, max: 10 });
      await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      const PgStore = connectPgSimple(session);
      const countRows = async () =>
        Number((await pool.query(`SELECT count(*) AS n FROM ${schema}.session`)).rows[0].n);
      const store = new PgStore({
        pool,
        schemaName: schema,
        tableName: 'session',
        createTableIfMissing: true,
        pruneSessionInterval: false,
        ttl: 1_800,
      });
      return new BlobWorkload(
        overStore(
          store,
          async () => {
            store.close();
            await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
            await pool.end();
          },
          {
            // Its prune deletes rows whose expire < NOW(): move every row there first (not timed).
            expireAll: async () => {
              await pool.query(`UPDATE ${schema}.session SET expire = NOW() - interval '1 second'`);
            },
            prune: async () => {
              const before = await countRows();
              await new Promise<void>((resolve) => store.pruneSessions(() => resolve()));
              return before - (await countRows());
            },
          },
        ),
      );
    },
  };
}
