import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManualClock, SessionManager } from '@mcp-session/core';
import { makeRecord, runStoreConformance } from '@mcp-session/test-suite';
import { freshDirectory } from '@mcp-session/test-utils';
import { freshRedisPrefix, freshRedisStore } from '@mcp-session/test-utils/redis';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../src/index.js';
import { KeyLayout } from '../src/keys.js';
import { SCRIPTS } from '../src/scripts.js';
import { damagePayloadWith, keysOf, prefixOf, removePrefix } from './helpers.js';
import { createCluster, killRedis, type RedisServer, sparePort, startRedis } from './servers.js';

/*
 * A real 3-master Redis Cluster of private redis-server processes on spare loopback ports, formed with
 * redis-cli --cluster create. The conformance suite runs against a store built on an ioredis Cluster the
 * test passes in (child processes open their own from a cluster=true URL).
 */
const directory = freshDirectory('redis-cluster');
const servers: RedisServer[] = [];
let cluster: Cluster;
let seedUrl = '';

beforeAll(async () => {
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await sparePort();
    const dir = mkdtempSync(join(directory.path, `node-${port}-`));
    servers.push(
      await startRedis(port, dir, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, 'nodes.conf'),
        '--cluster-node-timeout',
        '5000',
        '--appendonly',
        'no',
      ]),
    );
    ports.push(port);
  }
  await createCluster(ports);
  seedUrl = `redis://127.0.0.1:${ports[0]}`;
  cluster = new Cluster(
    ports.map((port) => ({ host: '127.0.0.1', port })),
    { redisOptions: { maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false } },
  );
  await new Promise<void>((resolve, reject) => {
    cluster.once('ready', resolve);
    cluster.once('error', reject);
  });
}, 60_000);

afterAll(async () => {
  await cluster?.quit();
  for (const server of servers) await killRedis(server);
  directory.remove();
});

function open(location: string): RedisSessionStore {
  return new RedisSessionStore({ client: cluster, prefix: prefixOf(location) });
}

runStoreConformance({
  name: 'redis cluster',
  location: () => freshRedisStore({ cluster: 'true' }, seedUrl).url,
  open,
  destroy: async (location) => {
    await removePrefix(cluster, prefixOf(location));
    expect(await keysOf(cluster, prefixOf(location))).toEqual([]);
  },
  damagePayload: (location, storageId) => damagePayloadWith(cluster)(location, storageId),
  childModule: fileURLToPath(new URL('./child-store.ts', import.meta.url)),
});

describe('redis cluster: key layout and index upkeep', () => {
  it('keeps every key of a session in one slot, the index in another, and spreads sessions over the masters', async () => {
    const prefix = freshRedisPrefix();
    const store = new RedisSessionStore({ client: cluster, prefix });
    const clock = new ManualClock();
    const manager = new SessionManager({ store, clock });
    try {
      for (let i = 0; i < 24; i++) {
        const { id } = await manager.createSession({ owner: `user-${i % 3}` });
        await manager.addMessage(
          id,
          { role: 'user', content: `hello ${i}` },
          { owner: `user-${i % 3}` },
        );
      }
      const layout = new KeyLayout(prefix);
      const slotOf = async (key: string) => Number(await cluster.cluster('KEYSLOT', key));
      const keys = await keysOf(cluster, prefix);
      const sessionKeys = keys.filter((key) => key.startsWith(`${prefix}:s:`));
      expect(sessionKeys).toHaveLength(48);
      const slots = new Set<number>();
      for (const record of sessionKeys.filter((key) => !key.endsWith(':logs'))) {
        const slot = await slotOf(record);
        expect(await slotOf(`${record}:logs`)).toBe(slot);
        slots.add(slot);
      }
      const indexSlots = new Set(await Promise.all(layout.index.map(slotOf)));
      expect(indexSlots.size).toBe(1);
      const masters = new Set<string>();
      for (const node of cluster.nodes('master')) {
        const found = await keysOf(node, prefix);
        if (found.some((key) => key.includes(':s:'))) masters.add(`${node.options.port}`);
      }
      expect(masters.size).toBeGreaterThan(1);
      expect((await store.stats(clock.now())).total).toBe(24);
      expect(
        (await store.list({ now: clock.now(), owner: 'user-1', limit: 100 })).records,
      ).toHaveLength(8);
    } finally {
      await removePrefix(cluster, prefix);
      await store.close();
    }
  });

  it('repairs an index entry a lost write left stale: listing finds the record, and the next write re-indexes a lost one', async () => {
    const prefix = freshRedisPrefix();
    const store = new RedisSessionStore({ client: cluster, prefix });
    const [, , , , meta, sum] = new KeyLayout(prefix).index as string[];
    const now = Date.now();
    try {
      const record = makeRecord(now, { owner: 'alice', state: 'idle' });
      await store.create(record, { now });
      const [recordKey] = new KeyLayout(prefix).session(record.id);
      // An update whose session script ran but whose index write never arrived: the index says idle.
      await cluster.hset(recordKey, 'state', 'active');
      expect((await store.list({ now, state: 'active', limit: 10 })).records).toHaveLength(0);
      const byOwner = await store.list({ now, owner: 'alice', limit: 10 });
      expect(byOwner.records.map((r) => [r.id, r.state])).toEqual([[record.id, 'active']]);
      expect((await store.list({ now, state: 'active', limit: 10 })).records).toHaveLength(1);
      expect(await cluster.hmget(sum as string, 'active', 'idle')).toEqual(['1', '0']);

      // A create whose index write never arrived: the record is unlisted until its next indexed write.
      const entry = (await cluster.hget(meta as string, record.id)) as string;
      const index = new KeyLayout(prefix).index;
      await cluster.call(
        'EVAL',
        SCRIPTS.index.lua,
        index.length,
        ...index,
        'cas',
        record.id,
        entry,
        '',
      );
      expect((await store.list({ now, limit: 10 })).records).toHaveLength(0);
      await store.update(record.id, { state: 'suspended' }, { now });
      expect((await store.list({ now, owner: 'alice', limit: 10 })).records).toHaveLength(1);
      expect(await cluster.hmget(sum as string, 'active', 'suspended')).toEqual(['0', '1']);
    } finally {
      await removePrefix(cluster, prefix);
      await store.close();
    }
  });

  it('drops index entries of sessions Redis expired on its own, on later creates and in sweep', async () => {
    const prefix = freshRedisPrefix();
    const store = new RedisSessionStore({ client: cluster, prefix, expiryGraceMs: 0 });
    const [, , exp, , meta] = new KeyLayout(prefix).index as string[];
    const past = Date.now() - 3_600_000;
    const sessionKeys = async () =>
      (await keysOf(cluster, prefix)).filter((key) => key.includes(':s:'));
    // Pruning goes by Redis's clock, so each create would prune the ones before it: a store whose grace
    // keeps the keys writes them, and they are deleted behind its back, as if Redis had expired them.
    const writer = new RedisSessionStore({
      client: cluster,
      prefix,
      expiryGraceMs: 24 * 3_600_000,
    });
    try {
      for (let i = 0; i < 12; i++) {
        const record = makeRecord(past, { expiresAt: past + 1_000 });
        await writer.create(record, { now: past });
        for (const key of new KeyLayout(prefix).session(record.id)) await cluster.unlink(key);
      }
      expect(await sessionKeys()).toEqual([]);
      expect(await cluster.zcard(exp as string)).toBe(12);
      const now = Date.now();
      await store.create(makeRecord(now), { now });
      expect(await cluster.zcard(exp as string)).toBe(12 + 1 - 8);
      expect(await store.sweep(now)).toBe(0);
      expect(await cluster.zcard(exp as string)).toBe(1);
      expect(await cluster.hlen(meta as string)).toBe(1);
      expect(await store.stats(now)).toMatchObject({ total: 1, expired: 0 });
    } finally {
      await removePrefix(cluster, prefix);
      await writer.close();
      await store.close();
    }
  });
});
