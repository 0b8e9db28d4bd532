import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { SessionRecord } from '@mcp-session/core';
import { makeRecord } from '@mcp-session/test-suite';
import { freshDirectory } from '@mcp-session/test-utils';
import { beforeEach, describe, expect, it } from 'vitest';
import { FileSessionStore } from '../src/index.js';
import { openCollecting } from './helpers.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function walk(root: string, dir = root): Promise<string[]> {
  const paths: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    paths.push(relative(root, path));
    if (entry.isDirectory()) paths.push(...(await walk(root, path)));
  }
  return paths;
}

let sandbox: string;
let directory: string;
let store: FileSessionStore;
const now = Date.now();

beforeEach(async () => {
  const fresh = freshDirectory('file-layout');
  sandbox = fresh.path;
  directory = join(sandbox, 'store');
  store = await FileSessionStore.open(directory);
  return async () => {
    await store.close();
    fresh.remove();
  };
});

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return makeRecord(now, overrides);
}

describe('layout on disk', () => {
  it('keeps a session as <shard>/<sha256>.json plus JSON Lines logs, the raw id only inside', async () => {
    const session = record({ id: 'readable-id', owner: 'alice', context: { a: 1 } });
    await store.create(session, { now });
    await store.append(session.id, 'history', [{ role: 'user', content: 'hi' }], {
      now,
      countMessages: true,
    });
    await store.append(session.id, 'events:Stream-1', ['e1', 'e2'], { now });
    const hash = sha256('readable-id');
    const shard = join(directory, 'sessions', hash.slice(0, 2));

    const onDisk = JSON.parse(await readFile(join(shard, `${hash}.json`), 'utf8'));
    expect(onDisk).toMatchObject({
      format: 1,
      session: { ...session, version: 3, messageCount: 1 },
      logs: {
        history: { generation: 1, baseSeq: 1, firstSeq: 1, nextSeq: 2 },
        'events:Stream-1': { generation: 1, baseSeq: 1, firstSeq: 1, nextSeq: 3 },
      },
    });
    const incarnation = onDisk.incarnation as string;
    // Characters outside [a-z0-9_-] (":" and capitals included) are %-escaped in file names.
    expect((await readdir(join(shard, hash))).sort()).toEqual([
      `events%3A%53tream-1.${incarnation}-1.jsonl`,
      `history.${incarnation}-1.jsonl`,
    ]);
    expect(await readFile(join(shard, hash, `history.${incarnation}-1.jsonl`), 'utf8')).toBe(
      `${JSON.stringify({ seq: 1, at: now, data: { role: 'user', content: 'hi' } })}\n`,
    );
    expect(await readFile(join(directory, 'owners', sha256('alice'), hash), 'utf8')).toBe(
      'readable-id',
    );
    // Only while an operation runs is there a lock file; nothing else is left behind.
    expect((await readdir(shard)).sort()).toEqual([hash, `${hash}.json`]);
    expect(await readdir(join(directory, 'tmp'))).toEqual([]);
  });

  it('never lets an id or a log name reach a path: escapes, separators and prototype keys stay inside', async () => {
    const ids = [
      '../../etc/passwd',
      '..',
      '.',
      '/etc/passwd',
      'a/b\\c',
      '..\\..\\windows',
      '%2e%2e%2f',
      '~root',
      'x'.repeat(256),
    ];
    const logs = ['..', '.', '__proto__', 'constructor', 'a:b', 'X'.repeat(128), 'history'];
    for (const [i, id] of ids.entries()) {
      await store.create(record({ id, owner: `../../owner/${i}`, context: { i } }), { now });
      for (const log of logs) await store.append(id, log, [{ id, log }], { now });
    }
    for (const [i, id] of ids.entries()) {
      expect(await store.get(id, { now })).toMatchObject({ id, context: { i } });
      for (const log of logs) {
        expect((await store.read(id, log, { now })).map((entry) => entry.data)).toEqual([
          { id, log },
        ]);
      }
    }
    // Everything the store wrote is inside its directory, under names it derived itself.
    const paths = await walk(sandbox);
    for (const path of paths) {
      expect(path === 'store' || path.startsWith(`store${sep}`), path).toBe(true);
      for (const id of ids.filter((id) => id.length > 2)) expect(path).not.toContain(id);
    }
    const names = paths.map((path) => path.split(sep).at(-1) as string);
    for (const name of names) {
      expect(name).toMatch(
        /^(store|mcp-session-store\.json|sessions|owners|quarantine|tmp|[0-9a-f]{2}|[0-9a-f]{64}(\.json)?|([a-z0-9_-]|%[0-9A-F]{2})+\.[0-9a-f]{12}-\d+\.jsonl|~[0-9a-f]{64}\.[0-9a-f]{12}-\d+\.jsonl)$/,
      );
    }
    // 128 capitals escape to 384 characters, too long for a file name: that log goes by its digest.
    expect(names.filter((name) => name.startsWith('~'))).toHaveLength(ids.length);
    for (const id of ids) expect(await store.delete(id)).toBe(true);
    expect((await walk(join(directory, 'sessions'))).filter((p) => p.includes('.json'))).toEqual(
      [],
    );
  });

  it('refuses ids with NUL, control characters or other non-visible characters before touching disk', async () => {
    for (const id of ['a\u0000b', 'tab\there', 'new\nline', 'é', '']) {
      await expect(store.create(record({ id }), { now })).rejects.toMatchObject({
        code: 'INVALID_ID',
      });
      await expect(store.append(id, 'history', [1], { now })).rejects.toMatchObject({
        code: 'INVALID_ID',
      });
    }
    expect(await readdir(join(directory, 'sessions'))).toEqual([]);
  });
});

describe('logs', () => {
  it('keeps a capped log bounded on disk: compaction rewrites it only well past the cap', async () => {
    const session = record();
    await store.create(session, { now });
    const hash = sha256(session.id);
    const logDir = join(directory, 'sessions', hash.slice(0, 2), hash);
    const cap = 10;
    let largestLines = 0;
    const generations = new Set<string>();
    for (let i = 0; i < 400; i++) {
      await store.append(session.id, 'history', [{ i }], { now, cap, countMessages: true });
      const files = await readdir(logDir);
      expect(files).toHaveLength(1);
      generations.add(files[0] as string);
      const lines =
        (await readFile(join(logDir, files[0] as string), 'utf8')).split('\n').length - 1;
      largestLines = Math.max(largestLines, lines);
    }
    // Dead lines are rewritten away once they reach max(live, 64): at most cap + 63 lines on disk.
    expect(largestLines).toBe(cap + 63);
    expect(generations.size).toBe(Math.floor((400 - cap) / 64) + 1);
    const entries = await store.read(session.id, 'history', { now });
    expect(entries.map((e) => e.data)).toEqual(
      Array.from({ length: cap }, (_, i) => ({ i: 390 + i })),
    );
    expect((await store.append(session.id, 'history', ['next'], { now, cap })).firstSeq).toBe(401);
  });

  it('reads windows of a long uncapped log (binary search over byte offsets) exactly', async () => {
    const session = record();
    await store.create(session, { now });
    // Irregular line lengths, some far longer than the search's read chunk.
    const data = (seq: number) => ({
      seq,
      pad: 'x'.repeat(seq % 97 === 0 ? 70_000 : (seq * 37) % 300),
    });
    const total = 6_000;
    for (let first = 1; first <= total; first += 500) {
      await store.append(
        session.id,
        'events',
        Array.from({ length: 500 }, (_, i) => data(first + i)),
        { now },
      );
    }
    const hash = sha256(session.id);
    const [file] = await readdir(join(directory, 'sessions', hash.slice(0, 2), hash));
    const size = (await stat(join(directory, 'sessions', hash.slice(0, 2), hash, file as string)))
      .size;
    expect(size).toBeGreaterThan(4 * 1024 * 1024);
    const seqs = async (options: Parameters<typeof store.read>[2]) => {
      const entries = await store.read(session.id, 'events', options);
      for (const entry of entries) expect(entry.data).toEqual(data(entry.seq));
      return entries.map((e) => e.seq);
    };
    const range = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => from + i);
    expect(await seqs({ now, limit: 3 })).toEqual([1, 2, 3]);
    expect(await seqs({ now, order: 'desc', limit: 3 })).toEqual([6_000, 5_999, 5_998]);
    for (const after of [2, 96, 97, 1_234, 2_999, 3_000, 4_850, 5_996]) {
      expect(await seqs({ now, afterSeq: after, limit: 4 })).toEqual(range(after + 1, after + 4));
      expect(await seqs({ now, beforeSeq: after + 1, order: 'desc', limit: 2 })).toEqual([
        after,
        after - 1,
      ]);
    }
    expect(await seqs({ now, afterSeq: 2_000, beforeSeq: 2_301 })).toEqual(range(2_001, 2_300));
    expect((await seqs({ now, afterSeq: 100 })).length).toBe(5_900);
  });

  it('finds a line that starts just before a search bound (regression: its head was read cut short and the session quarantined)', async () => {
    const session = record();
    await store.create(session, { now });
    // Lengths under which the binary search once probed a line starting a few bytes before its upper
    // bound, read only those few bytes of the line's head, and took the log for corrupt.
    const lengths = [
      37805, 113871, 53010, 7395, 102003, 102024, 107023, 119202, 73449, 8579, 98076, 74240, 31731,
      80825, 61603, 36777, 28702, 85137, 40450, 93347, 47677, 58252, 115196, 42203,
    ];
    for (const length of lengths)
      await store.append(session.id, 'events', ['x'.repeat(length)], { now });
    for (let seq = 1; seq <= lengths.length; seq++) {
      const [entry] = await store.read(session.id, 'events', { now, afterSeq: seq - 1, limit: 1 });
      expect({ seq: entry?.seq, length: (entry?.data as string | undefined)?.length }).toEqual({
        seq,
        length: lengths[seq - 1],
      });
    }
    expect(await readdir(join(directory, 'quarantine')).catch(() => [])).toEqual([]);
  });

  it('keeps seqs, cap and history when the cap changes between appends', async () => {
    const session = record();
    await store.create(session, { now });
    await store.append(
      session.id,
      'log',
      Array.from({ length: 200 }, (_, i) => i),
      { now },
    );
    await store.append(session.id, 'log', [200], { now, cap: 3 });
    expect((await store.read(session.id, 'log', { now })).map((e) => e.seq)).toEqual([
      199, 200, 201,
    ]);
    await store.append(session.id, 'log', [201, 202], { now });
    expect((await store.read(session.id, 'log', { now })).map((e) => e.data)).toEqual([
      198, 199, 200, 201, 202,
    ]);
  });
});

describe('housekeeping', () => {
  it('sweep removes log directories an interrupted delete left without a record', async () => {
    const orphan = record();
    const live = record();
    for (const session of [orphan, live]) {
      await store.create(session, { now });
      await store.append(session.id, 'history', ['x'], { now });
    }
    // What a crash between removing the record and removing the logs leaves behind.
    const hash = sha256(orphan.id);
    await unlink(join(directory, 'sessions', hash.slice(0, 2), `${hash}.json`));
    expect(await store.sweep(now)).toBe(0);
    await expect(stat(join(directory, 'sessions', hash.slice(0, 2), hash))).rejects.toMatchObject({
      code: 'ENOENT',
    });
    expect(await store.read(live.id, 'history', { now })).toHaveLength(1);
  });

  it('owner listing reads the owner index and drops entries a crash left without a record', async () => {
    const mine = [record({ owner: 'alice' }), record({ owner: 'alice' })];
    const other = record({ owner: 'bob' });
    for (const session of [...mine, other]) await store.create(session, { now });
    const gone = mine[0] as SessionRecord;
    const hash = sha256(gone.id);
    await unlink(join(directory, 'sessions', hash.slice(0, 2), `${hash}.json`));
    const ownerDir = join(directory, 'owners', sha256('alice'));
    expect(await readdir(ownerDir)).toHaveLength(2);
    const page = await store.list({ now, owner: 'alice', limit: 10 });
    expect(page.records.map((r) => r.id)).toEqual([mine[1]?.id]);
    expect(await readdir(ownerDir)).toEqual([sha256(mine[1]?.id as string)]);
  });

  it('count by owner reads that owner index and its records only, and skips entries a crash left', async () => {
    const mine = [record({ owner: 'alice' }), record({ owner: 'alice', state: 'closed' })];
    for (const session of mine) await store.create(session, { now });
    const shards = new Set(mine.map((session) => sha256(session.id).slice(0, 2)));
    let other = record({ owner: 'bob' });
    while (shards.has(sha256(other.id).slice(0, 2))) other = record({ owner: 'bob' });
    await store.create(other, { now });
    // A crash between the owner entry and the record leaves an entry naming nothing.
    const orphan = record({ owner: 'alice' });
    await writeFile(join(directory, 'owners', sha256('alice'), sha256(orphan.id)), orphan.id);
    // A shard no walk could read: a count that walked the store would fail here.
    const otherShard = join(directory, 'sessions', sha256(other.id).slice(0, 2));
    await rm(otherShard, { recursive: true });
    await writeFile(otherShard, 'not a directory');
    expect(await store.count({ now, owner: 'alice' })).toBe(2);
    expect(await store.count({ now, owner: 'alice', states: ['active'] })).toBe(1);
    await expect(store.count({ now })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });

  it('a re-created id with another owner moves in the owner index', async () => {
    const first = record({ owner: 'alice', expiresAt: now + 10 });
    await store.create(first, { now });
    await store.create({ ...first, owner: 'bob', expiresAt: null }, { now: now + 10 });
    expect((await store.list({ now, owner: 'alice', limit: 5 })).records).toEqual([]);
    expect((await store.list({ now, owner: 'bob', limit: 5 })).records.map((r) => r.id)).toEqual([
      first.id,
    ]);
    expect(await readdir(join(directory, 'owners', sha256('alice')))).toEqual([]);
  });

  it('ignores files it did not write in its directories', async () => {
    const session = record();
    await store.create(session, { now });
    const shard = join(directory, 'sessions', sha256(session.id).slice(0, 2));
    await mkdir(join(shard, 'notes'));
    expect(await store.sweep(now + 7_200_000)).toBe(1);
    expect(await readdir(shard)).toEqual(['notes']);
  });
});

describe('the head of a record file decides expiry and owner (issue 15, finding 2)', () => {
  const pathOf = (id: string) => {
    const hash = sha256(id);
    return join(directory, 'sessions', hash.slice(0, 2), `${hash}.json`);
  };

  it('writes the guarded fields first, metadata and context last, still format 1', async () => {
    const session = record({ owner: 'alice', context: { a: 1 }, metadata: { m: 1 } });
    await store.create(session, { now });
    const onDisk = JSON.parse(await readFile(pathOf(session.id), 'utf8'));
    expect(onDisk.format).toBe(1);
    expect(Object.keys(onDisk)).toEqual(['format', 'session', 'incarnation', 'logs']);
    expect(Object.keys(onDisk.session)).toEqual([
      'id',
      'state',
      'owner',
      'createdAt',
      'lastActivityAt',
      'expiresAt',
      'version',
      'messageCount',
      'metadata',
      'context',
    ]);
  });

  it('regression: a stranger’s read parsed the whole record (context included) before the owner check', async () => {
    const { store: collecting, warnings } = await openCollecting(directory);
    const session = record({ owner: 'alice', context: { secret: 's'.repeat(100_000) } });
    await collecting.create(session, { now });
    const path = pathOf(session.id);
    const text = await readFile(path, 'utf8');
    const cut = text.indexOf(',"metadata":') + ',"metadata":'.length;
    // Everything after the head is garbage: only a read that stops at the head answers cleanly.
    await writeFile(path, `${text.slice(0, cut)}${'#'.repeat(text.length - cut)}`);
    for (const owner of ['mallory', null]) {
      expect(await collecting.get(session.id, { now, owner })).toBeNull();
      await expect(
        collecting.update(session.id, { contextSet: { x: 1 } }, { now, owner }),
      ).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
      await expect(
        collecting.append(session.id, 'history', ['x'], { now, owner }),
      ).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
      await expect(collecting.read(session.id, 'history', { now, owner })).rejects.toMatchObject({
        code: 'SESSION_NOT_FOUND',
      });
    }
    expect(await collecting.get(session.id, { now: session.expiresAt as number })).toBeNull();
    expect(warnings).toEqual([]);
    // The owner's read parses the rest, finds it corrupt and quarantines the session, as before.
    expect(await collecting.get(session.id, { now, owner: 'alice' })).toBeNull();
    expect(warnings.map((warning) => warning.code)).toEqual(['QUARANTINED']);
    await collecting.close();
  });

  it('reads records written by earlier versions (context first) whole, and writes them guard-first on the next write', async () => {
    const session = record({ owner: 'alice', context: { big: 'x'.repeat(20_000) } });
    await store.create(session, { now });
    await store.append(session.id, 'history', ['hi'], { now, owner: 'alice' });
    const path = pathOf(session.id);
    const current = JSON.parse(await readFile(path, 'utf8'));
    const { id, state, context, metadata, owner, createdAt, lastActivityAt, expiresAt } =
      current.session;
    const { version, messageCount } = current.session;
    // The order every earlier version wrote: the record as it was handed in, context before owner.
    const old = {
      format: 1,
      session: {
        id,
        state,
        context,
        metadata,
        owner,
        createdAt,
        lastActivityAt,
        expiresAt,
        version,
        messageCount,
      },
      incarnation: current.incarnation,
      logs: current.logs,
    };
    await writeFile(path, `${JSON.stringify(old)}\n`);
    expect(await store.get(id, { now, owner: 'alice' })).toEqual({ ...session, version: 2 });
    expect(await store.get(id, { now, owner: 'mallory' })).toBeNull();
    expect(await store.get(id, { now: expiresAt, owner: 'alice' })).toBeNull();
    expect((await store.read(id, 'history', { now, owner: 'alice' })).map((e) => e.data)).toEqual([
      'hi',
    ]);
    await expect(store.read(id, 'history', { now, owner: 'mallory' })).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    await store.update(id, { contextSet: { more: 1 } }, { now, owner: 'alice' });
    const rewritten = await readFile(path, 'utf8');
    expect(rewritten.indexOf('"owner"')).toBeLessThan(rewritten.indexOf('"context"'));
    expect(await store.get(id, { now, owner: 'alice' })).toMatchObject({
      version: 3,
      context: { big: context.big, more: 1 },
    });
  });
});
