import {
  createStore,
  InvalidStoreUrlError,
  InvalidValueError,
  ManualClock,
  SessionManager,
  type SessionStore,
} from '@mcp-session/core';
import { MAX_TIMER_MS, StoreUnavailableError } from '@mcp-session/core/adapter';
import { makeRecord } from '@mcp-session/test-suite';
import { freshDirectory } from '@mcp-session/test-utils';
import {
  freshRedisPrefix,
  freshRedisStore,
  REDIS_URL,
  removeRedisPrefix,
} from '@mcp-session/test-utils/redis';
import { Cluster, Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, storeFromUrl } from '../src/index.js';
import { KeyLayout } from '../src/keys.js';
import { SCRIPTS } from '../src/scripts.js';
import { keysOf } from './helpers.js';
import { killRedis, sparePort, startRedis } from './servers.js';

const admin = new Redis(REDIS_URL);
const opened: SessionStore[] = [];
const removals: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const store of opened) await store.close();
  for (const remove of removals) await remove();
  await admin.quit();
});

/** A store on REDIS_URL with a fresh prefix, closed and cleaned up after the file. */
function freshStore(options: Record<string, string> = {}): RedisSessionStore {
  const { url, remove } = freshRedisStore(options);
  removals.push(remove);
  const store = new RedisSessionStore({ url });
  opened.push(store);
  return store;
}

/**
 * Creates `count` sessions of `prefix` that expired at `past` + 1 s and whose keys Redis has expired on
 * its own, with their index entries still in place, as a create would leave them. Index pruning goes by
 * Redis's clock, so each create would prune the ones before it: they are written by a store with a
 * grace that keeps their keys, which are then deleted behind its back.
 */
async function createExpiredByRedis(prefix: string, count: number, past: number): Promise<void> {
  const writer = new RedisSessionStore({ url: REDIS_URL, prefix, expiryGraceMs: 24 * 3_600_000 });
  const layout = new KeyLayout(prefix);
  try {
    for (let i = 0; i < count; i++) {
      const record = makeRecord(past, { expiresAt: past + 1_000 });
      await writer.create(record, { now: past });
      await admin.unlink(...layout.session(record.id));
    }
  } finally {
    await writer.close();
  }
}

/** Creates a store that is never used, so its client never needs a server, and closes it. */
function inspect(url: string): RedisSessionStore {
  const store = new RedisSessionStore({ url });
  opened.push(store);
  return store;
}

/** What opening `url` fails with (storeFromUrl, as createStore opens it, and the constructor alike). */
async function refusalOf(url: string): Promise<unknown> {
  expect(() => new RedisSessionStore({ url }), url).toThrow(InvalidStoreUrlError);
  return storeFromUrl(url).then(
    (store) => {
      opened.push(store);
      throw new Error(`${url} opened`);
    },
    (error: unknown) => error,
  );
}

describe('opening a Redis store', () => {
  it('reads host, port, database, credentials, TLS and options from the URL', () => {
    const store = inspect(
      'redis://alice:p%40ss@127.0.0.1:1/3?prefix=app&expiryGraceMs=0&commandTimeoutMs=100&connectTimeoutMs=200',
    );
    expect(store.prefix).toBe('app');
    expect(store.client).toBeInstanceOf(Redis);
    expect((store.client as Redis).options).toMatchObject({
      host: '127.0.0.1',
      port: 1,
      db: 3,
      username: 'alice',
      password: 'p@ss',
      commandTimeout: 100,
      connectTimeout: 200,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    const secure = inspect('rediss://[::1]:1');
    expect((secure.client as Redis).options).toMatchObject({
      host: '::1',
      db: 0,
      tls: { servername: '::1' },
    });
    expect(secure.prefix).toBe('mcp-session');
    expect(inspect('redis://127.0.0.1:1?cluster=true').client).toBeInstanceOf(Cluster);
  });

  it('refuses malformed URLs and bad options with InvalidStoreUrlError, never showing the password', async () => {
    const bad: [string, RegExp][] = [
      ['redis://', /valid Redis URL|no host/],
      ['http://localhost:6379', /scheme must be redis: or rediss:/],
      ['redis://localhost/zero', /database number/],
      ['redis://localhost/0/1', /database number/],
      ['redis://localhost/-1', /database number as its path \(decimal digits/],
      ['redis://localhost/0x10', /database number as its path \(decimal digits/],
      ['redis://localhost/1e3', /database number as its path \(decimal digits/],
      ['redis://localhost/%33', /database number as its path \(decimal digits/],
      ['redis://localhost/9999999999', /database number as its path \(decimal digits/],
      ['redis://localhost?db=3', /names its database with \?db=; give it as the path/],
      ['redis://localhost?ttl=5', /Unknown Redis store option "ttl".*known: prefix/],
      ['redis://localhost?prefix=a&prefix=b', /"prefix" is given twice/],
      ['redis://localhost?cluster=yes', /cluster must be true or false/],
      ['redis://localhost?commandTimeoutMs=soon', /commandTimeoutMs must be a whole number/],
      ['redis://localhost?commandTimeoutMs=0', /commandTimeoutMs must be a whole number from 1 to/],
      ['redis://localhost?expiryGraceMs=-1', /expiryGraceMs must be a whole number/],
      ['redis://localhost?prefix=', /prefix must be 1 to 128 visible ASCII characters/],
      ['redis://localhost?prefix=%7Bapp%7D', /without "\{" or "\}"/],
      ['redis://localhost?prefix=has%20space', /prefix must be/],
      ['redis://localhost/2?cluster=true', /only database 0/],
      ['redis://:sec%zzret@localhost', /malformed %-escape in its password/],
    ];
    for (const [url, message] of bad) {
      const error = await refusalOf(url);
      expect(error, url).toBeInstanceOf(InvalidStoreUrlError);
      expect((error as Error).message, url).toMatch(message);
    }
    const withPassword = 'redis://alice:hunter2@localhost?nope=1';
    const error = (await refusalOf(withPassword)) as Error;
    expect(error.message).toMatch(/alice:\*\*\*@localhost/);
    expect(error.message).not.toContain('hunter2');
  });

  it('refuses URL options given twice, and numbers that are not decimal or out of bounds', async () => {
    const bad: [string, RegExp][] = [
      [
        'redis://localhost?commandTimeoutMs=5&commandTimeoutMs=6',
        /"commandTimeoutMs" is given twice/,
      ],
      ['redis://localhost?cluster=true&cluster=true', /"cluster" is given twice/],
      ['redis://localhost?commandTimeoutMs=0x10', /commandTimeoutMs must be a whole number from 1/],
      ['redis://localhost?connectTimeoutMs=1e3', /connectTimeoutMs must be a whole number from 1/],
      ['redis://localhost?expiryGraceMs=-1', /expiryGraceMs must be a whole number from 0/],
      ['redis://localhost?expiryGraceMs=2.5', /expiryGraceMs must be a whole number from 0/],
      [
        `redis://localhost?commandTimeoutMs=${MAX_TIMER_MS + 1}`,
        /commandTimeoutMs must be a whole number from 1 to 2147483647 \(milliseconds\)/,
      ],
      [
        `redis://localhost?connectTimeoutMs=${MAX_TIMER_MS + 1}`,
        /connectTimeoutMs must be a whole number from 1 to 2147483647/,
      ],
    ];
    for (const [url, message] of bad) {
      const error = await refusalOf(url);
      expect(error, url).toBeInstanceOf(InvalidStoreUrlError);
      expect((error as Error).message, url).toMatch(message);
    }
    const widest = inspect(
      `redis://127.0.0.1:1?commandTimeoutMs=${MAX_TIMER_MS}&connectTimeoutMs=1&expiryGraceMs=0`,
    );
    expect((widest.client as Redis).options).toMatchObject({
      commandTimeout: MAX_TIMER_MS,
      connectTimeout: 1,
    });
  });

  it('refuses bad constructor options with InvalidValueError naming the option', () => {
    const client = new Redis({ lazyConnect: true });
    const prefixed = new Redis({ lazyConnect: true, keyPrefix: 'app:' });
    const bad: [unknown, RegExp][] = [
      [undefined, /needs an options object/],
      [{}, /exactly one of url .* or client/],
      [{ url: REDIS_URL, client }, /exactly one of url/],
      [{ url: REDIS_URL, ttl: 5 }, /Unknown RedisSessionStore option "ttl"/],
      [{ url: 42 }, /url must be a string/],
      [{ client: {} }, /client must be an ioredis Redis or Cluster/],
      [{ client: prefixed }, /keyPrefix/],
      [
        { client, commandTimeoutMs: 5 },
        /commandTimeoutMs applies only to a store opened from a url/,
      ],
      [{ client, cluster: true }, /cluster applies only/],
      [{ client, expiryGraceMs: -5 }, /expiryGraceMs must be a non-negative whole number/],
      [{ client, expiryGraceMs: 1.5 }, /expiryGraceMs/],
      [{ client, prefix: 'a{b' }, /prefix must be/],
      [
        { url: `${REDIS_URL}?prefix=a`, prefix: 'b' },
        /prefix is given both in the URL and as an option/,
      ],
      [{ url: REDIS_URL, connectTimeoutMs: 0 }, /connectTimeoutMs must be a positive/],
      [
        { url: REDIS_URL, commandTimeoutMs: MAX_TIMER_MS + 1 },
        /commandTimeoutMs must be a positive whole number of milliseconds up to 2147483647/,
      ],
    ];
    for (const [options, message] of bad) {
      const open = () => new RedisSessionStore(options as never);
      expect(open, String(message)).toThrow(InvalidValueError);
      expect(open, String(message)).toThrow(message);
    }
    client.disconnect();
    prefixed.disconnect();
  });

  it('refuses at open a database the server does not have, never writing to database 0 (regression: /99 on a 16-database server wrote into database 0)', async () => {
    const url = new URL(REDIS_URL);
    url.pathname = '/99';
    url.searchParams.set('prefix', freshRedisPrefix());
    const prefix = url.searchParams.get('prefix') as string;
    const error = await storeFromUrl(url.toString()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidStoreUrlError);
    expect((error as Error).message).toMatch(
      /^Redis at [^ ]+ refused database 99 of "redis:\/\/[^"]+\/99\?prefix=[^"]+" \(ERR DB index is out of range\)\. Name a database the server has/,
    );
    await expect(createStore(url.toString())).rejects.toThrow(/refused database 99/);
    // Made with the constructor, the store refuses every command the same way, and sends none.
    const store = new RedisSessionStore({ url: url.toString() });
    opened.push(store);
    const now = Date.now();
    await expect(store.create(makeRecord(now), { now })).rejects.toMatchObject({
      code: 'INVALID_STORE_URL',
      message: expect.stringContaining('refused database 99'),
    });
    await expect(store.stats(now)).rejects.toMatchObject({ code: 'INVALID_STORE_URL' });
    expect(await keysOf(admin, prefix)).toEqual([]);
  });

  it('writes into the database the URL names, as a second client sees', async () => {
    const prefix = freshRedisPrefix();
    const url = new URL(REDIS_URL);
    url.pathname = '/3';
    url.searchParams.set('prefix', prefix);
    const database3 = new Redis({ ...admin.options, db: 3 });
    try {
      const store = await storeFromUrl(url.toString());
      opened.push(store);
      const now = Date.now();
      const record = makeRecord(now);
      await store.create(record, { now });
      expect((await keysOf(database3, prefix)).length).toBeGreaterThan(0);
      expect(await store.get(record.id, { now })).toEqual(record);
      expect(await keysOf(admin, prefix)).toEqual([]);
      await store.delete(record.id);
    } finally {
      await removeRedisPrefix(prefix, url.toString());
      await database3.quit();
    }
  });

  it('opens a database other than 0 while the server is down: an outage is no configuration error', async () => {
    const port = await sparePort();
    const store = await storeFromUrl(`redis://127.0.0.1:${port}/2?commandTimeoutMs=300`);
    opened.push(store);
    const now = Date.now();
    await expect(store.stats(now)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('opens redis:// URLs through createStore', async () => {
    const { url, remove } = freshRedisStore();
    removals.push(remove);
    const store = await createStore(url);
    expect(store).toBeInstanceOf(RedisSessionStore);
    const now = Date.now();
    const record = makeRecord(now);
    await store.create(record, { now });
    expect(await store.get(record.id, { now })).toEqual(record);
    await store.close();
    await expect(createStore('redis://localhost?bogus=1')).rejects.toThrow(InvalidStoreUrlError);
  });

  it('leaves a client it was given open on close, and closes one it created', async () => {
    const client = new Redis(REDIS_URL);
    const prefix = freshRedisPrefix();
    removals.push(() => removeRedisPrefix(prefix));
    const store = new RedisSessionStore({ client, prefix });
    const now = Date.now();
    await store.create(makeRecord(now), { now });
    await store.close();
    await expect(store.stats(now)).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    expect(await client.ping()).toBe('PONG');
    await client.quit();

    // Without an offline queue the client refuses commands until it is ready; the store waits for it.
    const unqueued = new Redis(REDIS_URL, { enableOfflineQueue: false, commandTimeout: 2_000 });
    const waiting = new RedisSessionStore({ client: unqueued, prefix });
    expect(unqueued.status).not.toBe('ready');
    expect(await waiting.stats(now)).toMatchObject({ total: 1 });
    await waiting.close();
    await unqueued.quit();

    const owned = freshStore();
    await owned.stats(now);
    await owned.close();
    expect(owned.client.status).toBe('end');
  });
});

describe('scripts', () => {
  it('keep working after SCRIPT FLUSH: EVALSHA falls back to EVAL once, and nothing runs twice', async () => {
    // A private server: flushing the shared one's script cache would disturb other test runs.
    const dir = freshDirectory('redis-scripts');
    const server = await startRedis(await sparePort(), dir.path, ['--appendonly', 'no']);
    const flusher = new Redis({ port: server.port, host: '127.0.0.1' });
    const store = new RedisSessionStore({ url: `redis://127.0.0.1:${server.port}?prefix=flush` });
    try {
      const now = Date.now();
      const record = makeRecord(now);
      await store.create(record, { now });
      await store.append(record.id, 'history', ['before'], { now, countMessages: true });
      expect(await flusher.script('EXISTS', SCRIPTS.append.sha)).toEqual([1]);
      await flusher.script('FLUSH');
      expect(await flusher.script('EXISTS', SCRIPTS.append.sha)).toEqual([0]);
      const appended = await store.append(record.id, 'history', ['after'], {
        now,
        countMessages: true,
      });
      expect(appended).toEqual({ firstSeq: 2, lastSeq: 2, version: 3, messageCount: 2 });
      expect(await flusher.script('EXISTS', SCRIPTS.append.sha)).toEqual([1]);

      // Flushed again while 200 appends are in flight: each lands exactly once.
      const racing = Array.from({ length: 200 }, (_, i) =>
        store.append(record.id, 'history', [{ i }], { now, countMessages: true }),
      );
      await flusher.script('FLUSH');
      const results = await Promise.all(racing);
      expect(results.map((r) => r.firstSeq).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 200 }, (_, i) => i + 3),
      );
      expect(await store.get(record.id, { now })).toMatchObject({
        version: 203,
        messageCount: 202,
      });
      expect(await store.read(record.id, 'history', { now })).toHaveLength(202);
    } finally {
      await store.close();
      flusher.disconnect();
      await killRedis(server);
      dir.remove();
    }
  });
});

describe('key layout and native expiry', () => {
  it('keeps a session in two keys tagged with its encoded id, expiring natively expiryGraceMs after expiresAt', async () => {
    const store = freshStore({ expiryGraceMs: '1000' });
    const layout = new KeyLayout(store.prefix);
    const now = Date.now();
    const id = '{odd}id*?';
    const record = makeRecord(now, { id, expiresAt: now + 60_000 });
    await store.create(record, { now });
    const [recordKey, logsKey] = layout.session(id);
    expect(recordKey).toBe(`${store.prefix}:s:{${Buffer.from(id).toString('base64url')}}`);
    expect(logsKey).toBe(`${recordKey}:logs`);
    const expiryOf = (key: string) => admin.call('PEXPIRETIME', key);
    expect(await expiryOf(recordKey)).toBe(now + 61_000);
    expect(await admin.exists(logsKey)).toBe(0);

    await store.append(id, 'history', ['first'], { now });
    expect(await expiryOf(logsKey)).toBe(now + 61_000);
    await store.update(id, { expiresAt: now + 90_000 }, { now });
    expect([await expiryOf(recordKey), await expiryOf(logsKey)]).toEqual([
      now + 91_000,
      now + 91_000,
    ]);
    await store.append(id, 'history', ['touch'], {
      now,
      touch: { at: now + 5, idleTimeoutMs: 30_000, maxLifetimeMs: null },
    });
    expect([await expiryOf(recordKey), await expiryOf(logsKey)]).toEqual([
      now + 31_005,
      now + 31_005,
    ]);
    await store.update(id, { expiresAt: null }, { now });
    expect([await expiryOf(recordKey), await expiryOf(logsKey)]).toEqual([-1, -1]);
    expect((await keysOf(admin, store.prefix)).sort()).toEqual(
      [recordKey, logsKey, ...layout.index.filter((key) => !/:(own|exp)$/.test(key))].sort(),
    );
    await store.delete(id);
    expect((await keysOf(admin, store.prefix)).filter((key) => key.includes(':s:'))).toEqual([]);
  });

  it('a session Redis expired on its own (logs and seqs included) never breaks a later create of its id', async () => {
    // No grace and a clock an hour behind Redis's: Redis deletes these keys as soon as they are written.
    const store = freshStore({ expiryGraceMs: '0' });
    const past = Date.now() - 3_600_000;
    const record = makeRecord(past, { expiresAt: past + 1_000, owner: 'alice' });
    await store.create(record, {
      now: past,
      logs: { history: [{ seq: 41, at: past, data: 'imported' }] },
    });
    expect((await keysOf(admin, store.prefix)).filter((key) => key.includes(':s:'))).toEqual([]);
    expect(await store.get(record.id, { now: past })).toBeNull();

    const now = Date.now();
    const fresh = makeRecord(now, { id: record.id, owner: 'bob' });
    await store.create(fresh, { now });
    expect(await store.get(fresh.id, { now })).toEqual(fresh);
    expect(await store.read(fresh.id, 'history', { now })).toEqual([]);
    expect((await store.append(fresh.id, 'history', ['new'], { now })).firstSeq).toBe(1);
    expect((await store.list({ now, owner: 'alice', limit: 10 })).records).toEqual([]);
    expect((await store.list({ now, owner: 'bob', limit: 10 })).records).toHaveLength(1);
    expect(await store.stats(now)).toMatchObject({ total: 1, expired: 0 });
  });

  it('keeps the index bounded without sweep: creates prune entries of natively expired sessions', async () => {
    const store = freshStore({ expiryGraceMs: '0' });
    const [all, , exp, born, meta] = new KeyLayout(store.prefix).index as string[];
    const past = Date.now() - 3_600_000;
    await createExpiredByRedis(store.prefix, 40, past);
    expect(await admin.zcard(exp as string)).toBe(40);
    const now = Date.now();
    for (let i = 0; i < 5; i++) await store.create(makeRecord(now), { now });
    expect(await admin.zcard(exp as string)).toBe(45 - 5 * 8);
    for (let i = 0; i < 5; i++) await store.create(makeRecord(now), { now });
    expect(await admin.zcard(exp as string)).toBe(10);
    expect(await admin.zcard(all as string)).toBe(10);
    expect(await admin.zcard(born as string)).toBe(10);
    expect(await admin.hlen(meta as string)).toBe(10);
    expect(await store.stats(now)).toMatchObject({ total: 10, expired: 0 });
  });

  it('sweep deletes sessions that expired by the caller’s clock and cleans entries Redis already expired', async () => {
    const store = freshStore({ expiryGraceMs: '0' });
    const [, , exp] = new KeyLayout(store.prefix).index as string[];
    const now = Date.now();
    const past = now - 3_600_000;
    await store.create(makeRecord(now, { expiresAt: now + 60_000 }), { now });
    await store.create(makeRecord(now, { expiresAt: null }), { now });
    await createExpiredByRedis(store.prefix, 3, past);
    const later = now + 60_000;
    expect(await store.stats(later)).toMatchObject({ total: 1, expired: 4 });
    expect(await store.sweep(later)).toBe(1);
    expect(await admin.zcard(exp as string)).toBe(0);
    expect(await store.stats(later)).toMatchObject({ total: 1, expired: 0 });
  });
});

describe('a caller clock far ahead of Redis', () => {
  it('sweep deletes and stats counts sessions expired by the caller\u2019s clock while Redis still holds their keys (regression: creates pruned their index entries by the caller\u2019s clock)', async () => {
    const store = freshStore();
    const layout = new KeyLayout(store.prefix);
    const [, , exp] = layout.index as string[];
    const clock = new ManualClock(Date.now() + 3 * 3_600_000);
    const manager = new SessionManager({ store, clock, idleTimeoutMs: 60_000 });
    const expiring = await manager.createSession({ context: { a: 1 } });
    await manager.addMessage(expiring.id, { role: 'user', content: 'hello' });
    const keys = layout.session(manager.storageId(expiring.id));
    // Past expiry plus the 5 s grace by the caller's clock; hours before it by Redis's, so the keys stay.
    clock.advance(60_000 + 5_000 + 1);
    for (let i = 0; i < 3; i++) await manager.createSession();
    expect(await admin.exists(...keys)).toBe(2);
    expect(await admin.zscore(exp as string, manager.storageId(expiring.id))).not.toBeNull();
    expect(await store.stats(clock.now())).toMatchObject({ total: 3, expired: 1, messages: 0 });
    expect(await manager.sweepExpired()).toBe(1);
    expect(await admin.exists(...keys)).toBe(0);
    expect(await store.stats(clock.now())).toMatchObject({ total: 3, expired: 0 });
  });

  it('creates still prune entries of sessions Redis has expired by its own clock', async () => {
    const store = freshStore({ expiryGraceMs: '0' });
    const [, , exp] = new KeyLayout(store.prefix).index as string[];
    const past = Date.now() - 3_600_000;
    for (let i = 0; i < 4; i++) {
      await store.create(makeRecord(past, { expiresAt: past + 1_000 }), { now: past });
    }
    // A caller far behind Redis: by its clock nothing has expired, but Redis has deleted the keys.
    const behind = past - 3_600_000;
    await store.create(makeRecord(behind, { expiresAt: null }), { now: behind });
    expect(await admin.zcard(exp as string)).toBe(0);
  });
});

describe('bad input at the store level', () => {
  it('is refused with typed errors before anything is written', async () => {
    const store = freshStore();
    const now = Date.now();
    const record = makeRecord(now);
    await store.create(record, { now });
    const attempts: [string, () => Promise<unknown>][] = [
      ['now missing', () => store.get(record.id, {} as never)],
      ['now NaN', () => store.update(record.id, {}, { now: Number.NaN })],
      ['bad state', () => store.update(record.id, { state: 'gone' as never }, { now })],
      [
        'bad expected state',
        () => store.update(record.id, {}, { now, expectedState: 'x' as never }),
      ],
      ['bad expected version', () => store.update(record.id, {}, { now, expectedVersion: -1 })],
      ['metadata array', () => store.update(record.id, { metadata: [] as never }, { now })],
      [
        'context delete of a number',
        () => store.update(record.id, { contextDelete: [7 as never] }, { now }),
      ],
      [
        'undefined context value',
        () => store.update(record.id, { contextSet: { a: undefined as never } }, { now }),
      ],
      ['negative afterSeq', () => store.read(record.id, 'history', { now, afterSeq: -1 })],
      ['fractional beforeSeq', () => store.read(record.id, 'history', { now, beforeSeq: 1.5 })],
      ['bad order', () => store.read(record.id, 'history', { now, order: 'up' as never })],
      [
        'touch with a bad window',
        () =>
          store.append(record.id, 'history', [1], {
            now,
            touch: { at: now, idleTimeoutMs: -1, maxLifetimeMs: null },
          }),
      ],
      [
        'record with a bad state',
        () => store.create({ ...makeRecord(now), state: 'new' as never }, { now }),
      ],
      [
        'record with a fractional version',
        () => store.create({ ...makeRecord(now), version: 1.5 }, { now }),
      ],
      [
        'record with an empty owner',
        () => store.create({ ...makeRecord(now), owner: '' }, { now }),
      ],
      [
        'record without metadata',
        () => store.create({ ...makeRecord(now), metadata: null as never }, { now }),
      ],
      ['list without a limit', () => store.list({ now } as never)],
      ['list by an unknown state', () => store.list({ now, limit: 1, state: 'x' as never })],
      ['sweep at NaN', () => store.sweep(Number.NaN)],
    ];
    for (const [what, attempt] of attempts) {
      await expect(attempt(), what).rejects.toMatchObject({ code: 'INVALID_VALUE' });
    }
    expect(await store.get(record.id, { now })).toEqual(record);
    expect(await store.stats(now)).toMatchObject({ total: 1 });
  });
});

describe('driver failures', () => {
  it('surface as StoreUnavailableError naming Redis and the primitive, and leave the data alone', async () => {
    const store = freshStore();
    const now = Date.now();
    const record = makeRecord(now);
    await store.create(record, { now });
    const [recordKey] = new KeyLayout(store.prefix).session(record.id);
    // A key of the wrong type: Redis fails every command and script that reads it as a hash.
    await admin.del(recordKey);
    await admin.set(recordKey, 'not a hash');
    const attempts: [string, () => Promise<unknown>][] = [
      ['get', () => store.get(record.id, { now })],
      ['update', () => store.update(record.id, { state: 'idle' }, { now })],
      ['append', () => store.append(record.id, 'history', ['lost'], { now })],
      ['read', () => store.read(record.id, 'history', { now })],
    ];
    for (const [primitive, attempt] of attempts) {
      const error = await attempt().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, primitive).toBeInstanceOf(StoreUnavailableError);
      expect(error, primitive).toMatchObject({
        code: 'STORE_UNAVAILABLE',
        message: expect.stringMatching(new RegExp(`^Redis ${primitive} failed: .*WRONGTYPE`)),
      });
    }
    expect(await admin.get(recordKey)).toBe('not a hash');
    await admin.del(recordKey);
    expect(await store.get(record.id, { now })).toBeNull();
  });

  it('without a connection, fail after commandTimeoutMs naming the primitive, having sent nothing', async () => {
    const prefix = freshRedisPrefix();
    const port = await sparePort();
    const store = new RedisSessionStore({
      url: `redis://127.0.0.1:${port}?prefix=${prefix}&commandTimeoutMs=50`,
    });
    opened.push(store);
    const now = Date.now();
    // The address tells source from target in `mcp-session migrate` (issue 19).
    await expect(store.create(makeRecord(now), { now })).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: `Redis create failed: no connection to Redis at 127.0.0.1:${port} within 50 ms; nothing was sent`,
    });
    await expect(store.list({ now, limit: 10 })).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringMatching(/^Redis list failed: no connection to Redis at 127\.0\.0\.1:/),
    });
  });

  it('names host and port but never the password when it cannot connect (issue 19)', async () => {
    const port = await sparePort();
    const store = new RedisSessionStore({
      url: `redis://me:hunter2@[::1]:${port}?prefix=${freshRedisPrefix()}&commandTimeoutMs=50`,
    });
    opened.push(store);
    const error = (await store.get('x', { now: Date.now() }).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(
      `Redis get failed: no connection to Redis at [::1]:${port} within 50 ms; nothing was sent`,
    );
    expect(String(error.cause ?? '')).not.toContain('hunter2');
  });
});

describe('with a SessionManager', () => {
  it('keeps a conversation of 100 messages in two keys whose size stays flat as history rolls over', async () => {
    const store = freshStore();
    const clock = new ManualClock();
    const manager = new SessionManager({ store, clock });
    const { id } = await manager.createSession({ owner: 'alice', context: { plan: 'pro' } });
    const [recordKey, logsKey] = new KeyLayout(store.prefix).session(manager.storageId(id));
    const message = (i: number) => ({ role: 'user', content: `message ${i} `.padEnd(200, '.') });
    for (let i = 0; i < 100; i++) await manager.addMessage(id, message(i), { owner: 'alice' });
    const full = Number(await admin.memory('USAGE', logsKey));
    for (let i = 100; i < 300; i++) await manager.addMessage(id, message(i), { owner: 'alice' });
    expect(await admin.hlen(logsKey)).toBe(101);
    expect(Number(await admin.memory('USAGE', logsKey))).toBeLessThan(full * 1.5);
    const history = await manager.getHistory(id, { owner: 'alice', limit: 100 });
    expect(history.map((entry) => entry.seq)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 201),
    );
    expect(await admin.exists(recordKey)).toBe(1);
  });
});
