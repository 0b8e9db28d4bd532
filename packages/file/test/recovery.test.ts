import { createHash, randomBytes } from 'node:crypto';
import { appendFile, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { SessionRecord } from '@mcp-session/core';
import { makeRecord } from '@mcp-session/test-suite';
import { freshDirectory } from '@mcp-session/test-utils';
import { beforeEach, describe, expect, it } from 'vitest';
import { FileSessionStore, type FileStoreWarning } from '../src/index.js';
import { deadPid, openCollecting } from './helpers.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const now = Date.now();

let directory: string;
let store: FileSessionStore;
let warnings: FileStoreWarning[];

beforeEach(async () => {
  const fresh = freshDirectory('file-recovery');
  directory = fresh.path;
  ({ store, warnings } = await openCollecting(directory));
  return async () => {
    await store.close();
    fresh.remove();
  };
});

function paths(id: string) {
  const hash = sha256(id);
  const shard = join(directory, 'sessions', hash.slice(0, 2));
  return { hash, shard, record: join(shard, `${hash}.json`), lock: join(shard, `${hash}.lock`) };
}

async function logFile(id: string, log: string): Promise<string> {
  const { record, shard, hash } = paths(id);
  const onDisk = JSON.parse(await readFile(record, 'utf8'));
  return join(shard, hash, `${log}.${onDisk.incarnation}-${onDisk.logs[log].generation}.jsonl`);
}

async function sessionWithHistory(count: number): Promise<SessionRecord> {
  const session = makeRecord(now);
  await store.create(session, { now });
  await store.append(
    session.id,
    'history',
    Array.from({ length: count }, (_, i) => ({ n: i + 1 })),
    { now, countMessages: true },
  );
  return session;
}

describe('torn and uncommitted log tails', () => {
  it('a torn last line is ignored on read, cut off by that read, and seqs continue', async () => {
    const session = await sessionWithHistory(3);
    const file = await logFile(session.id, 'history');
    const committed = await readFile(file, 'utf8');
    // What a writer killed in the middle of write(2) leaves: part of a line, no newline.
    const torn = '{"seq":4,"at":1,"data":{"n":';
    await appendFile(file, torn);
    expect((await store.read(session.id, 'history', { now })).map((e) => e.data)).toEqual([
      { n: 1 },
      { n: 2 },
      { n: 3 },
    ]);
    expect(await readFile(file, 'utf8')).toBe(committed);
    expect(warnings).toEqual([
      expect.objectContaining({
        code: 'LOG_REPAIRED',
        path: file,
        message: expect.stringContaining(`Cut ${torn.length} uncommitted bytes`),
      }),
    ]);
    expect(
      await store.append(session.id, 'history', [{ n: 4 }], { now, countMessages: true }),
    ).toMatchObject({
      firstSeq: 4,
      messageCount: 4,
    });
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line).seq)).toEqual([1, 2, 3, 4]);
  });

  it('whole lines written after the last commit (a writer died before its record was replaced) are not visible and are cut', async () => {
    const session = await sessionWithHistory(2);
    const file = await logFile(session.id, 'history');
    await appendFile(file, `${JSON.stringify({ seq: 3, at: now, data: 'never acknowledged' })}\n`);
    expect(await store.read(session.id, 'history', { now })).toHaveLength(2);
    expect(await store.get(session.id, { now })).toMatchObject({ messageCount: 2, version: 2 });
    expect((await readFile(file, 'utf8')).includes('never acknowledged')).toBe(false);
    expect(warnings.map((w) => w.code)).toEqual(['LOG_REPAIRED']);
  });

  it('the next append cuts a tail too, when no read came first', async () => {
    const session = await sessionWithHistory(1);
    const file = await logFile(session.id, 'history');
    await appendFile(file, '{"seq":2,"at"');
    expect((await store.append(session.id, 'history', ['two'], { now })).firstSeq).toBe(2);
    expect((await store.read(session.id, 'history', { now })).map((e) => e.data)).toEqual([
      { n: 1 },
      'two',
    ]);
    expect(warnings.map((w) => w.code)).toEqual(['LOG_REPAIRED']);
  });
});

describe('quarantine of corrupt files', () => {
  async function quarantined(): Promise<string[]> {
    const entries = await readdir(join(directory, 'quarantine'));
    return entries.map((entry) => join(directory, 'quarantine', entry));
  }

  it('a hand-edited garbage record is moved aside with a warning; the session reads as absent', async () => {
    const session = await sessionWithHistory(2);
    const { record } = paths(session.id);
    await writeFile(record, '{"format":1,"session":{"id": oops this is not json');
    expect(await store.get(session.id, { now })).toBeNull();
    const [moved] = await quarantined();
    expect(await readFile(join(moved as string, 'record.json'), 'utf8')).toContain('oops');
    expect(await readdir(join(moved as string, 'logs'))).toHaveLength(1);
    expect(await readFile(join(moved as string, 'reason.txt'), 'utf8')).toMatch(/not JSON/);
    expect(warnings).toEqual([expect.objectContaining({ code: 'QUARANTINED', path: moved })]);
    await expect(stat(record)).rejects.toMatchObject({ code: 'ENOENT' });
    // The id is free again, with empty logs.
    await store.create(session, { now });
    expect(await store.read(session.id, 'history', { now })).toEqual([]);
  });

  it('a garbage line inside the committed part of a log quarantines the session', async () => {
    const session = await sessionWithHistory(3);
    const file = await logFile(session.id, 'history');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('{"n":2}', '{"n":2!!'));
    await expect(store.read(session.id, 'history', { now })).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    expect(warnings.map((w) => w.code)).toEqual(['QUARANTINED']);
    expect(await store.get(session.id, { now })).toBeNull();
    const [moved] = await quarantined();
    expect(await readdir(moved as string)).toEqual(['logs', 'reason.txt', 'record.json']);
  });

  it('a log shorter than committed (lost data) quarantines the session on append too', async () => {
    const session = await sessionWithHistory(3);
    await writeFile(await logFile(session.id, 'history'), '');
    await expect(store.append(session.id, 'history', ['x'], { now })).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    expect(warnings.map((w) => w.code)).toEqual(['QUARANTINED']);
  });

  it('a log the record names but that is gone (deleted by hand) quarantines the session', async () => {
    const reader = await sessionWithHistory(2);
    await rm(await logFile(reader.id, 'history'));
    await expect(store.read(reader.id, 'history', { now })).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    const writer = await sessionWithHistory(2);
    await rm(join(paths(writer.id).shard, paths(writer.id).hash), { recursive: true });
    await expect(store.append(writer.id, 'history', ['x'], { now })).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    expect(warnings.map((w) => w.code)).toEqual(['QUARANTINED', 'QUARANTINED']);
    expect(await store.get(reader.id, { now })).toBeNull();
    expect(await store.get(writer.id, { now })).toBeNull();
  });

  it('a record copied under another session’s name is not served for that session', async () => {
    const a = await sessionWithHistory(1);
    const b = await sessionWithHistory(1);
    await writeFile(paths(b.id).record, await readFile(paths(a.id).record));
    expect(await store.get(b.id, { now })).toBeNull();
    expect(await store.get(a.id, { now })).not.toBeNull();
    expect(warnings.map((w) => w.code)).toEqual(['QUARANTINED']);
  });

  it('list, stats and sweep step over corrupt records instead of failing', async () => {
    const good = await sessionWithHistory(1);
    const bad = [await sessionWithHistory(1), await sessionWithHistory(1)];
    for (const session of bad) await writeFile(paths(session.id).record, 'garbage');
    expect((await store.list({ now, limit: 10 })).records.map((r) => r.id)).toEqual([good.id]);
    expect((await store.stats(now)).total).toBe(1);
    expect(await store.sweep(now)).toBe(0);
    expect(warnings.map((w) => w.code)).toEqual(['QUARANTINED', 'QUARANTINED']);
    expect(await quarantined()).toHaveLength(2);
  });
});

describe('session locks', () => {
  async function plantLock(id: string, holder: Record<string, unknown> | string): Promise<string> {
    const { lock } = paths(id);
    await writeFile(lock, typeof holder === 'string' ? holder : JSON.stringify(holder));
    return lock;
  }

  const holder = (pid: number, acquiredAt: number) => ({
    pid,
    hostname: hostname(),
    token: randomBytes(16).toString('hex'),
    acquiredAt,
  });

  it('a lock left by a dead process is broken at once, with a warning', async () => {
    const session = await sessionWithHistory(1);
    const lock = await plantLock(session.id, holder(await deadPid(), Date.now()));
    expect((await store.append(session.id, 'history', ['after'], { now })).firstSeq).toBe(2);
    expect(warnings).toEqual([expect.objectContaining({ code: 'STALE_LOCK_BROKEN', path: lock })]);
    await expect(stat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a lock older than staleLockMs is broken even if its pid is alive (a reused pid)', async () => {
    const session = await sessionWithHistory(1);
    await plantLock(session.id, holder(process.pid, Date.now() - 60_000));
    await store.update(session.id, { contextSet: { ok: true } }, { now });
    expect(warnings.map((w) => w.code)).toEqual(['STALE_LOCK_BROKEN']);
  });

  it('an unreadable lock file cannot belong to a live holder and is broken', async () => {
    const session = await sessionWithHistory(1);
    await plantLock(session.id, 'garbage');
    expect(await store.delete(session.id)).toBe(true);
    expect(warnings.map((w) => w.code)).toEqual(['STALE_LOCK_BROKEN']);
  });

  it('a live holder is waited for, then the operation fails with STORE_UNAVAILABLE and the lock stays', async () => {
    const session = await sessionWithHistory(1);
    const impatient = await FileSessionStore.open(directory, { lockTimeoutMs: 200 });
    try {
      const lock = await plantLock(session.id, holder(process.pid, Date.now()));
      await expect(impatient.append(session.id, 'history', ['x'], { now })).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
        message: expect.stringMatching(/Could not lock the session within 200 ms/),
      });
      expect(JSON.parse(await readFile(lock, 'utf8')).pid).toBe(process.pid);
      // Reads of committed data never wait for a lock.
      expect(await impatient.read(session.id, 'history', { now })).toHaveLength(1);
      expect(await impatient.get(session.id, { now })).toMatchObject({ version: 2 });
    } finally {
      await impatient.close();
    }
  });

  it('a breaker marker left by a breaker that died is cleared, so the lock does not stay stuck', async () => {
    const session = await sessionWithHistory(1);
    const stale = holder(await deadPid(), Date.now());
    const lock = await plantLock(session.id, stale);
    await writeFile(
      `${lock}.break-${stale.token}`,
      JSON.stringify(holder(await deadPid(), Date.now())),
    );
    expect((await store.append(session.id, 'history', ['x'], { now })).firstSeq).toBe(2);
    expect(await readdir(paths(session.id).shard)).toEqual([
      paths(session.id).hash,
      `${paths(session.id).hash}.json`,
    ]);
  });

  it('a waiter’s turn marker that is not refreshed stops counting, and sweep clears dead markers', async () => {
    const session = await sessionWithHistory(1);
    const { lock, shard, hash } = paths(session.id);
    // A waiter that died right after claiming its turn: others yield to it only briefly.
    await writeFile(`${lock}.want`, 'someone-else');
    expect((await store.append(session.id, 'history', ['x'], { now })).firstSeq).toBe(2);
    const old = new Date(Date.now() - 60_000);
    await writeFile(`${lock}.break-00ff`, '{}');
    for (const marker of [`${lock}.want`, `${lock}.break-00ff`]) await utimes(marker, old, old);
    await writeFile(join(shard, `${'f'.repeat(64)}.lock.want`), 'fresh waiter');
    expect(await store.sweep(now)).toBe(0);
    expect((await readdir(shard)).sort()).toEqual(
      [hash, `${hash}.json`, `${'f'.repeat(64)}.lock.want`].sort(),
    );
  });
});
