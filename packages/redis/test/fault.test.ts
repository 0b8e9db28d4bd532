import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type JsonValue, StoreUnavailableError } from '@mcp-session/core';
import { makeRecord } from '@mcp-session/test-suite';
import { freshDirectory } from '@mcp-session/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../src/index.js';
import {
  killRedis,
  type RedisServer,
  sparePort,
  startRedis,
  TcpProxy,
  waitUntil,
} from './servers.js';

/*
 * Private redis-servers with every write fsynced before it is acknowledged (appendonly yes, appendfsync
 * always): one is killed with SIGKILL while appends are in flight and restarted on the same port and
 * directory, one starts only after the store, one sits behind a TCP proxy that cuts the network. The
 * store instance is never recreated.
 */
const directory = freshDirectory('redis-fault');
const servers: RedisServer[] = [];
afterAll(async () => {
  for (const server of servers) await killRedis(server);
  directory.remove();
});

const DURABLE = ['--appendonly', 'yes', '--appendfsync', 'always'];

/** Everything the server at `port` had persisted in its append-only files, as text. */
function persisted(port: number): string {
  const dir = join(directory.path, String(port), 'appendonlydir');
  return readdirSync(dir)
    .map((file) => readFileSync(join(dir, file), 'latin1'))
    .join('');
}

async function start(port: number): Promise<RedisServer> {
  const dir = join(directory.path, String(port));
  mkdirSync(dir, { recursive: true });
  const server = await startRedis(port, dir, DURABLE);
  servers.push(server);
  return server;
}

async function kill(server: RedisServer): Promise<void> {
  await killRedis(server);
  servers.splice(servers.indexOf(server), 1);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('redis store: failures', () => {
  it('fails in-flight appends with STORE_UNAVAILABLE, recovers on its own, and loses nothing acknowledged', async () => {
    const port = await sparePort();
    let server = await start(port);
    const store = new RedisSessionStore({
      url: `redis://127.0.0.1:${port}?prefix=fault&commandTimeoutMs=2000`,
    });
    const now = Date.now();
    const record = makeRecord(now, { expiresAt: null });
    await store.create(record, { now });

    const acknowledged = new Map<number, JsonValue>();
    const failures: unknown[] = [];
    const failedData = new Set<string>();
    let ackedAfterRestart = 0;
    let restarted = false;
    let stop = false;
    const lanes = [0, 1, 2, 3].map(async (lane) => {
      for (let i = 0; !stop; i++) {
        const data = { lane, i };
        try {
          const appended = await store.append(record.id, 'history', [data], {
            now,
            countMessages: true,
          });
          acknowledged.set(appended.firstSeq, data);
          if (restarted) ackedAfterRestart++;
        } catch (error) {
          failures.push(error);
          failedData.add(JSON.stringify(data));
          await pause(20);
        }
      }
    });

    let persistedAtKill = '';
    try {
      await waitUntil(async () => acknowledged.size >= 300, '300 acknowledged appends');
      await kill(server);
      const failuresAtKill = failures.length;
      await waitUntil(async () => failures.length >= failuresAtKill + 8, 'appends failing');
      persistedAtKill = persisted(port);
      server = await start(port);
      restarted = true;
      await waitUntil(async () => ackedAfterRestart >= 100, 'appends succeeding after the restart');
    } finally {
      stop = true;
      await Promise.all(lanes);
    }

    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(StoreUnavailableError);
      expect((failure as StoreUnavailableError).code).toBe('STORE_UNAVAILABLE');
    }
    const entries = await store.read(record.id, 'history', { now });
    const lastSeq = entries.length;
    expect(entries.map((entry) => entry.seq)).toEqual(entries.map((_, i) => i + 1));
    for (const [seq, data] of acknowledged) expect(entries[seq - 1]?.data).toEqual(data);
    // An append that failed may have been applied before Redis died (its reply was lost), but never
    // twice and never later: it is not sent again once Redis is back, where the caller may retry it.
    const written = entries.map((entry) => JSON.stringify(entry.data));
    expect(new Set(written).size).toBe(written.length);
    for (const data of written) {
      if (failedData.has(data)) expect(persistedAtKill, `${data} failed`).toContain(data);
    }
    expect(await store.get(record.id, { now })).toMatchObject({
      messageCount: lastSeq,
      version: 1 + lastSeq,
    });
    expect(await store.stats(now)).toMatchObject({ total: 1, messages: lastSeq });
    await store.close();
  }, 90_000);

  it('fails after commandTimeoutMs while the server is down from the start, works once it is up, and closes while it is down', async () => {
    const port = await sparePort();
    const store = new RedisSessionStore({
      url: `redis://127.0.0.1:${port}?prefix=late&commandTimeoutMs=300`,
    });
    const now = Date.now();
    const record = makeRecord(now);
    const error = await store.create(record, { now }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    const server = await start(port);
    await waitUntil(async () => {
      // A create whose reply was lost to the outage may have been applied.
      await store.create(record, { now }).catch((caught: { code?: string }) => {
        if (caught.code !== 'SESSION_EXISTS') throw caught;
      });
      return true;
    }, 'the store to reach the server');
    expect(await store.get(record.id, { now })).toEqual(record);
    await kill(server);
    await store.close();
    await expect(store.get(record.id, { now })).rejects.toMatchObject({ code: 'STORE_CLOSED' });
  }, 60_000);

  it('during a network partition, an append that fails is never applied later, when the network heals', async () => {
    const server = await start(await sparePort());
    const proxy = await TcpProxy.start(server.port);
    const store = new RedisSessionStore({
      url: `redis://127.0.0.1:${proxy.port}?prefix=partition&commandTimeoutMs=300`,
    });
    const now = Date.now();
    const record = makeRecord(now, { expiresAt: null });
    await store.create(record, { now });
    const pending = new Map<number, string>();
    const failed = new Set<string>();
    const reasons = new Map<string, number>();
    let acknowledged = 0;
    let healed = false;
    let ackedAfterHealing = 0;
    let stop = false;
    const lanes = [0, 1, 2, 3].map(async (lane) => {
      for (let i = 0; !stop; i++) {
        const data = { lane, i };
        pending.set(lane, JSON.stringify(data));
        try {
          await store.append(record.id, 'history', [data], { now });
          acknowledged++;
          if (healed) ackedAfterHealing++;
        } catch (error) {
          failed.add(JSON.stringify(data));
          const reason = String((error as Error).message);
          reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
          await pause(20);
        }
      }
    });
    let inFlightAtCut = new Set<string>();
    try {
      await waitUntil(async () => acknowledged >= 100, '100 acknowledged appends');
      proxy.cut();
      // Only appends already sent when the network went away may have been applied.
      inFlightAtCut = new Set(pending.values());
      await waitUntil(async () => failed.size >= 40, 'appends failing during the partition');
      proxy.heal();
      healed = true;
      await waitUntil(
        async () => ackedAfterHealing >= 50,
        `appends succeeding after healing (client ${store.client.status}, failures ${JSON.stringify([...reasons])})`,
      );
    } finally {
      stop = true;
      await Promise.all(lanes);
    }

    const written = (await store.read(record.id, 'history', { now })).map((entry) =>
      JSON.stringify(entry.data),
    );
    expect(new Set(written).size).toBe(written.length);
    const appliedAfterFailing = written.filter(
      (data) => failed.has(data) && !inFlightAtCut.has(data),
    );
    expect(appliedAfterFailing).toEqual([]);
    await store.close();
    await proxy.close();
  }, 60_000);

  it('reports a failure only after the event loop had a turn, so callers retrying in a loop cannot starve reconnection', async () => {
    const store = new RedisSessionStore({
      url: `redis://127.0.0.1:${await sparePort()}?prefix=spin`,
    });
    store.client.disconnect();
    await waitUntil(async () => store.client.status === 'end', 'the client to end');
    let hadTurn = false;
    setImmediate(() => {
      hadTurn = true;
    });
    const now = Date.now();
    await expect(store.get(makeRecord(now).id, { now })).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    expect(hadTurn).toBe(true);
    await store.close();
  });
});
