import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createStore, SessionManager } from '@mcp-session/core';
import { makeRecord } from '@mcp-session/test-suite';
import { freshDirectory } from '@mcp-session/test-utils';
import { beforeEach, describe, expect, it } from 'vitest';
import { FileSessionStore, storeFromUrl } from '../src/index.js';
import { runWorker } from './helpers.js';

let sandbox: string;

beforeEach(() => {
  const fresh = freshDirectory('file-open');
  sandbox = fresh.path;
  return async () => {
    await chmod(sandbox, 0o700).catch(() => undefined);
    fresh.remove();
  };
});

describe('file: URLs', () => {
  it('createStore opens file: URLs, relative to the working directory, with options', async () => {
    const target = join(sandbox, 'data', 'sessions');
    const relativePath = relative(process.cwd(), target);
    expect(relativePath.startsWith('..') || !relativePath.startsWith('/')).toBe(true);
    const store = await createStore(`file:${relativePath}?fsync=false&lockTimeoutMs=5000`);
    expect(store).toBeInstanceOf(FileSessionStore);
    expect((store as FileSessionStore).directory).toBe(target);
    const manager = new SessionManager({ store });
    const { id } = await manager.createSession({ context: { via: 'url' } });
    await manager.addMessage(id, { role: 'user', content: 'hi' });
    await manager.close();

    const reopened = await createStore(`file://${target}`);
    const again = new SessionManager({ store: reopened });
    expect(await again.getContext(id)).toEqual({ via: 'url' });
    expect((await again.getHistory(id)).map((m) => m.data.content)).toEqual(['hi']);
    await again.close();
  });

  it.each([
    ['file:', /needs a path/],
    ['file://db.example.com/sessions', /looks like a host/],
    ['file:./x?fsync=maybe', /fsync must be true or false/],
    ['file:./x?lockTimeoutMs=-5', /lockTimeoutMs must be a whole number from 1 to 2147483647/],
    ['file:./x?staleLockMs=soon', /staleLockMs must be a whole number from 1000 to 2147483647/],
    ['file:./x?fsync=true&fsync=false', /file store option "fsync" is given twice/],
    [
      'file:./x?ttl=5',
      /Unknown file store option "ttl" in "file:\.\/x\?ttl=5" \(known: fsync, lockTimeoutMs, staleLockMs, messagePollIntervalMs, messageRetentionMs\)/,
    ],
    ['sqlite:./x.db', /opens "file:" URLs/],
  ])('refuses %s with INVALID_STORE_URL', async (url, message) => {
    await expect(storeFromUrl(url)).rejects.toMatchObject({
      code: 'INVALID_STORE_URL',
      message: expect.stringMatching(message),
    });
  });
});

describe('file: URL options', () => {
  it.each([
    ['?lockTimeoutMs=5000&lockTimeoutMs=6000', /"lockTimeoutMs" is given twice/],
    ['?staleLockMs=5000&fsync=false&staleLockMs=5000', /"staleLockMs" is given twice/],
    ['?fsync=TRUE', /fsync must be true or false, got "TRUE"/],
    ['?fsync=', /fsync must be true or false, got ""/],
    ['?lockTimeoutMs=0x10', /lockTimeoutMs must be a whole number from 1 to 2147483647/],
    ['?lockTimeoutMs=1e3', /lockTimeoutMs must be a whole number from 1 to 2147483647/],
    ['?lockTimeoutMs=-1', /lockTimeoutMs must be a whole number from 1 to 2147483647/],
    ['?lockTimeoutMs=0', /lockTimeoutMs must be a whole number from 1 to 2147483647/],
    ['?lockTimeoutMs=2147483648', /lockTimeoutMs must be a whole number from 1 to 2147483647/],
    ['?staleLockMs=999', /staleLockMs must be a whole number from 1000 to 2147483647/],
    ['?staleLockMs=2147483648', /staleLockMs must be a whole number from 1000 to 2147483647/],
  ])('refuses %s with INVALID_STORE_URL and creates nothing', async (query, message) => {
    await expect(storeFromUrl(`file:${join(sandbox, 'store')}${query}`)).rejects.toMatchObject({
      code: 'INVALID_STORE_URL',
      message: expect.stringMatching(message),
    });
    expect(await readdir(sandbox)).toEqual([]);
  });

  it('takes the bounds themselves', async () => {
    const store = await storeFromUrl(
      `file:${join(sandbox, 'store')}?lockTimeoutMs=1&staleLockMs=1000`,
    );
    await store.close();
    const patient = await storeFromUrl(
      `file:${join(sandbox, 'store')}?lockTimeoutMs=2147483647&staleLockMs=2147483647`,
    );
    await patient.close();
  });
});

describe('opening a directory', () => {
  it('creates a missing directory (and parents) and marks it as a store', async () => {
    const target = join(sandbox, 'a', 'b', 'c');
    const store = await FileSessionStore.open(target);
    await store.close();
    expect(JSON.parse(await readFile(join(target, 'mcp-session-store.json'), 'utf8'))).toEqual({
      format: '@mcp-session/file',
      version: 1,
    });
    expect((await readdir(target)).sort()).toEqual([
      'mcp-session-store.json',
      'owners',
      'quarantine',
      'sessions',
      'tmp',
    ]);
  });

  it('refuses a path that is a file, or lies below a file', async () => {
    const file = join(sandbox, 'plain-file');
    await writeFile(file, 'x');
    await expect(FileSessionStore.open(file)).rejects.toMatchObject({
      code: 'INVALID_VALUE',
      message: expect.stringMatching(/exists and is not a directory/),
    });
    await expect(FileSessionStore.open(join(file, 'below'))).rejects.toMatchObject({
      code: 'INVALID_VALUE',
      message: expect.stringMatching(/part of that path is a file/),
    });
  });

  it('refuses a non-empty directory that is not a store, so a typo cannot litter a project', async () => {
    await writeFile(join(sandbox, 'package.json'), '{}');
    await writeFile(join(sandbox, '.gitkeep'), '');
    await expect(FileSessionStore.open(sandbox)).rejects.toMatchObject({
      code: 'INVALID_VALUE',
      message: expect.stringMatching(
        /not empty and is not a session store \(it holds package\.json\)/,
      ),
    });
    expect((await readdir(sandbox)).sort()).toEqual(['.gitkeep', 'package.json']);
  });

  it('refuses a directory whose marker is of another format', async () => {
    await writeFile(
      join(sandbox, 'mcp-session-store.json'),
      JSON.stringify({ format: '@mcp-session/file', version: 99 }),
    );
    await expect(FileSessionStore.open(sandbox)).rejects.toMatchObject({
      code: 'INVALID_VALUE',
      message: expect.stringMatching(/incompatible version/),
    });
  });

  it('refuses a directory it cannot write to with STORE_UNAVAILABLE', async () => {
    // Root ignores permission bits, so as root use a file system that refuses everyone: sysfs.
    const asRoot = process.getuid?.() === 0;
    let target = '/sys/mcp-session-file-test';
    if (!asRoot) {
      const locked = join(sandbox, 'locked');
      await mkdir(locked);
      await chmod(locked, 0o500);
      target = join(locked, 'store');
    }
    await expect(FileSessionStore.open(target)).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringMatching(/Cannot create the store directory/),
    });
  });

  it('refuses bad options, naming the option and what it accepts', async () => {
    const bad: [unknown, RegExp][] = [
      [{ fsync: 'yes' }, /fsync must be true or false, got "yes"/],
      [{ lockTimeoutMs: 0 }, /lockTimeoutMs must be a positive integer/],
      [{ lockTimeoutMs: 1.5 }, /lockTimeoutMs must be a positive integer/],
      [{ staleLockMs: 10 }, /staleLockMs must be an integer of at least 1000/],
      [
        { lockTimeoutMs: 2 ** 31 },
        /lockTimeoutMs must be a positive integer of at most 2147483647/,
      ],
      [{ staleLockMs: 2 ** 31 }, /staleLockMs must be an integer of at least 1000 and at most/],
      [{ onWarning: 'console' }, /onWarning must be a function/],
      [{ fsynk: false }, /Unknown FileSessionStore option "fsynk"/],
      [null, /options must be an object/],
    ];
    for (const [options, message] of bad) {
      await expect(
        FileSessionStore.open(sandbox, options as Parameters<typeof FileSessionStore.open>[1]),
      ).rejects.toMatchObject({ code: 'INVALID_VALUE', message: expect.stringMatching(message) });
    }
    for (const directory of ['', '   ', 'a\u0000b', 42]) {
      await expect(FileSessionStore.open(directory as string)).rejects.toMatchObject({
        code: 'INVALID_VALUE',
      });
    }
    expect(await readdir(sandbox)).toEqual([]);
  });

  it('removes temp files of processes that are gone, and keeps those of live ones', async () => {
    const store = await FileSessionStore.open(sandbox);
    await store.close();
    const dead = join(sandbox, 'tmp', '999999999-abcdef.tmp');
    const mine = join(sandbox, 'tmp', `${process.pid}-abcdef.tmp`);
    await writeFile(dead, 'half a record');
    await writeFile(mine, 'in progress');
    await (await FileSessionStore.open(sandbox)).close();
    expect(await readdir(join(sandbox, 'tmp'))).toEqual([`${process.pid}-abcdef.tmp`]);
  });

  it('works with fsync off', async () => {
    const store = await FileSessionStore.open(sandbox, { fsync: false });
    const now = Date.now();
    const record = makeRecord(now);
    await store.create(record, { now });
    await store.append(record.id, 'history', [1, 2, 3], { now, cap: 2 });
    await store.close();
    const reopened = await FileSessionStore.open(sandbox);
    expect((await reopened.read(record.id, 'history', { now })).map((e) => e.data)).toEqual([2, 3]);
    await reopened.close();
  });
});

describe('several processes', () => {
  it('two processes creating the same ids: each id is won by exactly one', {
    timeout: 120_000,
  }, async () => {
    await (await FileSessionStore.open(sandbox)).close();
    const ids = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    const args = { ids, now: Date.now(), startAt: Date.now() + 1_500 };
    const results = (await Promise.all([
      runWorker(sandbox, 'create-race', args),
      runWorker(sandbox, 'create-race', args),
    ])) as { won: string[]; pid: number }[];
    const winners = results.flatMap((result) => result.won);
    expect(winners.sort()).toEqual([...ids].sort());
    const store = await FileSessionStore.open(sandbox);
    for (const result of results) {
      for (const id of result.won) {
        expect((await store.get(id, { now: Date.now() }))?.context).toEqual({
          creator: result.pid,
        });
      }
    }
    expect(
      (await store.list({ now: Date.now(), owner: 'racer', limit: 100 })).records,
    ).toHaveLength(40);
    await store.close();
  });
});

describe('opening only an existing store: mustExist (issue 19: `stats` on a misspelt path created it)', () => {
  it('refuses a missing directory and creates nothing', async () => {
    const target = join(sandbox, 'typo', 'sessions');
    for (const attempt of [
      () => FileSessionStore.open(target, { mustExist: true }),
      () => storeFromUrl(`file:${target}`, { mustExist: true }),
      () => createStore(`file:${target}`, { mustExist: true }),
    ]) {
      await expect(attempt()).rejects.toMatchObject({
        code: 'STORE_NOT_FOUND',
        message: expect.stringMatching(/directory .*typo.sessions does not exist; check the path/),
      });
    }
    expect(await readdir(sandbox)).toEqual([]);
  });

  it('refuses an existing directory that holds no store, and leaves it as it was', async () => {
    const empty = join(sandbox, 'empty');
    await mkdir(empty);
    await expect(storeFromUrl(`file:${empty}`, { mustExist: true })).rejects.toMatchObject({
      code: 'STORE_NOT_FOUND',
      message: expect.stringMatching(/holds no file session store \(no mcp-session-store\.json\)/),
    });
    expect(await readdir(empty)).toEqual([]);
  });

  it('opens an existing store', async () => {
    const target = join(sandbox, 'store');
    const first = await FileSessionStore.open(target);
    const manager = new SessionManager({ store: first });
    const { id } = await manager.createSession({ context: { kept: true } });
    await first.close();
    const store = await createStore(`file:${target}`, { mustExist: true });
    expect(await new SessionManager({ store }).getContext(id, 'kept')).toBe(true);
    await store.close();
  });

  it('refuses a mustExist that is not a boolean', async () => {
    await expect(
      FileSessionStore.open(sandbox, { mustExist: 'yes' as never }),
    ).rejects.toMatchObject({ code: 'INVALID_VALUE', message: /mustExist must be true or false/ });
  });
});
