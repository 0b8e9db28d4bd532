import { readdirSync, readFileSync } from 'node:fs';
import { readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSessionError } from '@mcp-session/core';
import { everyPrimitive, makeRecord } from '@mcp-session/test-suite';
import { freshDirectory } from '@mcp-session/test-utils';
import { beforeEach, describe, expect, it } from 'vitest';
import { FileSessionStore } from '../src/index.js';

const now = 1_767_225_600_000;

let directory: string;

beforeEach(() => {
  const fresh = freshDirectory('file-failures');
  directory = fresh.path;
  return fresh.remove;
});

describe('close', () => {
  it('after close every primitive fails with STORE_CLOSED and touches nothing', async () => {
    const store = await FileSessionStore.open(directory);
    const record = makeRecord(now);
    await store.create(record, { now });
    await store.close();
    const before = await readdir(join(directory, 'sessions'), { recursive: true });
    for (const [primitive, call] of everyPrimitive(store, record.id, now)) {
      await expect(call(), primitive).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    }
    expect(await readdir(join(directory, 'sessions'), { recursive: true })).toEqual(before);
  });

  it('lets a write already under the lock finish before it resolves, and leaves no lock file', async () => {
    const store = await FileSessionStore.open(directory);
    const record = makeRecord(now);
    await store.create(record, { now });
    const appending = store.append(record.id, 'history', ['last'], { now });
    await store.close();
    // Read synchronously, so the append gets no turn of the event loop after close resolved.
    const files = readdirSync(join(directory, 'sessions'), { recursive: true }) as string[];
    expect(files.filter((name) => name.includes('.lock'))).toEqual([]);
    const recordFile = files.find((name) => name.endsWith('.json')) as string;
    const committed = JSON.parse(readFileSync(join(directory, 'sessions', recordFile), 'utf8'));
    expect(committed.logs.history).toMatchObject({ firstSeq: 1, nextSeq: 2 });
    await expect(appending).resolves.toMatchObject({ firstSeq: 1, lastSeq: 1 });
  });
});

describe('file system failures', () => {
  it('surface as STORE_UNAVAILABLE naming the file store and the primitive', async () => {
    const store = await FileSessionStore.open(directory, { lockTimeoutMs: 1_000 });
    const record = makeRecord(now);
    await store.create(record, { now });
    // A regular file where the sessions directory was: every path below it fails with ENOTDIR, as
    // root too, which permission bits would not stop.
    await rename(join(directory, 'sessions'), join(directory, 'sessions-moved'));
    await writeFile(join(directory, 'sessions'), 'not a directory');
    for (const [primitive, call] of everyPrimitive(store, record.id, now)) {
      const error = await call().then(
        () => expect.fail(`${primitive} succeeded without its directory`),
        (failure: unknown) => failure,
      );
      expect(isSessionError(error, 'STORE_UNAVAILABLE'), primitive).toBe(true);
      expect(error, primitive).toMatchObject({
        code: 'STORE_UNAVAILABLE',
        message: expect.stringMatching(new RegExp(`^File store ${primitive} failed: ENOTDIR`)),
      });
    }
    await store.close();
  });
});
