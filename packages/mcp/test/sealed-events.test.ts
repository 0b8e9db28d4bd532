/**
 * Issue 15, "raw session ids at rest": the event store saved reply bodies verbatim, so a tool reply that
 * echoed the session id put a live id into every backend's dump (and any secret a tool returned with it).
 * Now every entry is sealed with a key derived from the session id, which the store never sees. What
 * landed is read out of band — the SQLite file's bytes, the memory store's records through the store
 * API beneath the manager — and tampered with there.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type JsonValue, SessionManager } from '@mcp-session/core';
import { MemorySessionStore } from '@mcp-session/memory';
import { SqliteSessionStore } from '@mcp-session/sqlite';
import { freshSqliteFile } from '@mcp-session/test-utils';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { SessionEventStore } from '../src/index.js';
import { cleanupAfterEach } from './helpers.js';
import { openSqliteDatabase } from './session-footprint.js';

const cleanups = cleanupAfterEach();
const GET_STREAM = '_GET_stream';
const OWNER = 'alice';

function note(data: string): JSONRPCMessage {
  return { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data } };
}

/** What a tool reply that echoes them looks like on the wire. */
function reply(id: number, value: Record<string, string>): JSONRPCMessage {
  return {
    jsonrpc: '2.0',
    id,
    result: { content: [{ type: 'text', text: JSON.stringify(value) }] },
  };
}

/** The strings a dump must not hold: the session id (as is and in base64url), a handle, a secret. */
function secretsOf(sessionId: string) {
  const handle = `h_${randomBytes(32).toString('base64url')}`;
  const secret = `sk-test-${randomBytes(24).toString('hex')}`;
  return {
    handle,
    secret,
    needles: {
      sessionId,
      'sessionId (base64url)': Buffer.from(sessionId).toString('base64url'),
      handle,
      secret,
    },
  };
}

/** The needles found in `dump`. */
function foundIn(dump: Buffer, needles: Record<string, string>): string[] {
  return Object.entries(needles)
    .filter(([, needle]) => dump.includes(needle))
    .map(([name]) => name);
}

interface Replayed {
  data: unknown[];
  errors: unknown[];
}

/** Replays after `after` with a fresh store on the session, collecting what is sent and reported. */
async function replay(
  manager: SessionManager,
  sessionId: string,
  after: string,
): Promise<Replayed> {
  const errors: unknown[] = [];
  const store = new SessionEventStore(manager, sessionId, OWNER, {
    onError: (error) => errors.push(error),
  });
  const data: unknown[] = [];
  await store.replayEventsAfter(after, {
    send: async (_id, message) => {
      const { params, result } = message as { params?: { data: unknown }; result?: unknown };
      data.push(params?.data ?? result);
    },
  });
  return { data, errors };
}

function memoryManager() {
  const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
  cleanups.push(() => manager.close());
  return manager;
}

function sqliteManager() {
  const { file, remove } = freshSqliteFile('mcp-sealed');
  const manager = new SessionManager({ store: new SqliteSessionStore({ database: file }) });
  cleanups.push(async () => {
    await manager.close();
    remove();
  });
  return { manager, file };
}

/** A base64url string with one bit of the byte at `index` flipped (negative: from the end). */
function flipByte(encoded: string, index: number): string {
  const bytes = Buffer.from(encoded, 'base64url');
  const at = index < 0 ? bytes.length + index : index;
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  return bytes.toString('base64url');
}

function sealedText(data: JsonValue): string {
  expect(data).toEqual({ v: 1, c: expect.stringMatching(/^[A-Za-z0-9_-]+$/) });
  return (data as { c: string }).c;
}

describe('sealed event entries', () => {
  it('a dump of the SQLite file (checkpointed, plus WAL) holds no session id, handle or secret that events carried', async () => {
    const { manager, file } = sqliteManager();
    const { id } = await manager.createSession({ owner: OWNER });
    const { handle, secret, needles } = secretsOf(id);
    const store = new SessionEventStore(manager, id, OWNER);
    const priming = await store.storeEvent(GET_STREAM, {} as JSONRPCMessage);
    await store.storeEvent(GET_STREAM, note(`session ${id}`));
    await store.storeEvent('request-stream', reply(2, { sessionId: id, handle, secret }));
    await store.storeEvent(GET_STREAM, note(`${handle} ${secret}`));
    // A canary in clear in another log of the session: proof that this dump shows what is in clear.
    const canary = `canary-${randomBytes(12).toString('hex')}`;
    await manager.appendToLog(id, 'canary', [{ text: canary }], { owner: OWNER });

    // What a client resuming gets: every event, whole.
    expect((await replay(manager, id, priming)).data).toEqual([
      `session ${id}`,
      `${handle} ${secret}`,
    ]);
    const db = openSqliteDatabase(file);
    cleanups.push(() => db.close());
    db.pragma('wal_checkpoint(TRUNCATE)');
    const entries = db
      .prepare('SELECT data FROM log_entries WHERE session_id = ? AND log = ? ORDER BY seq')
      .all(manager.storageId(id), 'sse') as { data: string }[];
    expect(entries).toHaveLength(3);
    for (const { data } of entries) sealedText(JSON.parse(data) as JsonValue);
    const dump = Buffer.concat(
      [file, `${file}-wal`].map((path) => {
        try {
          return readFileSync(path);
        } catch {
          return Buffer.alloc(0);
        }
      }),
    );
    expect(dump.includes(canary)).toBe(true);
    expect(foundIn(dump, needles)).toEqual([]);
  });

  it('the memory store’s records, read through the store API, hold none of them either', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession({ owner: OWNER });
    const { handle, secret, needles } = secretsOf(id);
    const store = new SessionEventStore(manager, id, OWNER);
    await store.storeEvent(GET_STREAM, note(`${id} ${handle} ${secret}`));
    await store.storeEvent('request-stream', reply(3, { sessionId: id, handle, secret }));
    const guards = { now: manager.clock.now(), owner: OWNER };
    const record = await manager.store.get(manager.storageId(id), guards);
    const entries = await manager.store.read(manager.storageId(id), 'sse', guards);
    expect(entries).toHaveLength(2);
    // Nothing of the event beside the ciphertext: not the stream id, not the message's method.
    for (const entry of entries) sealedText(entry.data);
    expect(foundIn(Buffer.from(JSON.stringify({ record, entries })), needles)).toEqual([]);
  });

  it('seals each entry with a fresh IV: the same event twice is stored as two unrelated entries', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession({ owner: OWNER });
    const store = new SessionEventStore(manager, id, OWNER);
    await store.storeEvent(GET_STREAM, note('same'));
    await store.storeEvent(GET_STREAM, note('same'));
    const [first, second] = (await manager.readLog(id, 'sse', { owner: OWNER })).map((entry) =>
      Buffer.from(sealedText(entry.data), 'base64url'),
    );
    expect(first?.length).toBe(second?.length);
    expect(first?.subarray(0, 12).equals(second?.subarray(0, 12) ?? Buffer.alloc(0))).toBe(false);
    expect(first?.subarray(12).equals(second?.subarray(12) ?? Buffer.alloc(0))).toBe(false);
  });

  it('an entry altered in the store (any byte, truncated, another format) is not replayed, and onError is told which', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession({ owner: OWNER });
    const store = new SessionEventStore(manager, id, OWNER);
    const priming = await store.storeEvent(GET_STREAM, {} as JSONRPCMessage);
    await store.storeEvent(GET_STREAM, note('genuine'));
    const [genuine] = await manager.readLog(id, 'sse', { owner: OWNER });
    const c = sealedText(genuine?.data ?? null);
    const altered: Record<string, JsonValue> = {
      'IV byte': { v: 1, c: flipByte(c, 0) },
      'ciphertext byte': { v: 1, c: flipByte(c, 20) },
      'tag byte': { v: 1, c: flipByte(c, -1) },
      truncated: { v: 1, c: Buffer.from(c, 'base64url').subarray(0, -1).toString('base64url') },
      'tag cut off': { v: 1, c: Buffer.from(c, 'base64url').subarray(0, 27).toString('base64url') },
      'another version': { v: 2, c },
      'not base64url': { v: 1, c: `${c}=` },
      'not an object': c,
    };
    // Written through the store's own API, as anyone holding the store could.
    const { firstSeq } = await manager.appendToLog(id, 'sse', Object.values(altered), {
      owner: OWNER,
    });
    await store.storeEvent(GET_STREAM, note('after'));

    const { data, errors } = await replay(manager, id, priming);
    expect(data).toEqual(['genuine', 'after']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      code: 'EVENTS_UNREADABLE',
      name: 'UnreadableEventsError',
      failedSeqs: Object.keys(altered).map((_, i) => firstSeq + i),
      unsealedSeqs: [],
      message: expect.stringMatching(/8 sealed event\(s\) that failed to open/),
    });
  });

  it('an entry altered in the SQLite file is not replayed; the others are', async () => {
    const { manager, file } = sqliteManager();
    const { id } = await manager.createSession({ owner: OWNER });
    const store = new SessionEventStore(manager, id, OWNER);
    const priming = await store.storeEvent(GET_STREAM, {} as JSONRPCMessage);
    for (const word of ['one', 'two', 'three']) await store.storeEvent(GET_STREAM, note(word));
    const db = openSqliteDatabase(file);
    cleanups.push(() => db.close());
    const where = 'WHERE session_id = ? AND log = ? AND seq = 2';
    const key = [manager.storageId(id), 'sse'];
    const { data } = db.prepare(`SELECT data FROM log_entries ${where}`).get(...key) as {
      data: string;
    };
    const tampered = JSON.stringify({ v: 1, c: flipByte(sealedText(JSON.parse(data)), 30) });
    expect(
      db.prepare(`UPDATE log_entries SET data = ? ${where} RETURNING data`).get(tampered, ...key),
    ).toEqual({ data: tampered });

    const replayed = await replay(manager, id, priming);
    expect(replayed.data).toEqual(['one', 'three']);
    expect(replayed.errors).toMatchObject([{ code: 'EVENTS_UNREADABLE', failedSeqs: [2] }]);
  });

  it('an entry copied into another session’s log is not replayed there, whoever owns both', async () => {
    const manager = memoryManager();
    const a = await manager.createSession({ owner: OWNER });
    const b = await manager.createSession({ owner: OWNER });
    const storeA = new SessionEventStore(manager, a.id, OWNER);
    const storeB = new SessionEventStore(manager, b.id, OWNER);
    const primingA = await storeA.storeEvent(GET_STREAM, {} as JSONRPCMessage);
    await storeA.storeEvent(GET_STREAM, note('of a'));
    const primingB = await storeB.storeEvent(GET_STREAM, {} as JSONRPCMessage);
    await storeB.storeEvent(GET_STREAM, note('of b'));
    const [entryOfA] = await manager.readLog(a.id, 'sse', { owner: OWNER });
    const { firstSeq } = await manager.appendToLog(b.id, 'sse', [entryOfA?.data ?? null], {
      owner: OWNER,
    });

    const { data, errors } = await replay(manager, b.id, primingB);
    expect(data).toEqual(['of b']);
    expect(errors).toMatchObject([{ code: 'EVENTS_UNREADABLE', failedSeqs: [firstSeq] }]);
    // In its own session it still opens.
    expect(await replay(manager, a.id, primingA)).toEqual({ data: ['of a'], errors: [] });
  });

  it('refuses entries in clear as versions before sealing wrote them, and says so', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession({ owner: OWNER });
    const store = new SessionEventStore(manager, id, OWNER);
    const priming = await store.storeEvent(GET_STREAM, {} as JSONRPCMessage);
    // What the previous version stored, and what anyone able to write to the store could put there.
    const unsealed = { s: GET_STREAM, m: note('in clear') } as unknown as JsonValue;
    const { firstSeq } = await manager.appendToLog(id, 'sse', [unsealed], { owner: OWNER });
    await store.storeEvent(GET_STREAM, note('sealed'));

    const { data, errors } = await replay(manager, id, priming);
    expect(data).toEqual(['sealed']);
    expect(errors).toMatchObject([
      {
        code: 'EVENTS_UNREADABLE',
        failedSeqs: [],
        unsealedSeqs: [firstSeq],
        message: expect.stringMatching(/1 unsealed event\(s\) written before events were sealed/),
      },
    ]);
    // A replay with nothing to skip reports nothing.
    const after = await store.storeEvent(GET_STREAM, {} as JSONRPCMessage);
    expect(await replay(manager, id, after)).toEqual({ data: [], errors: [] });
  });

  it('maxEventBytes measures the sealed entry: entries fill it to the byte, never past it', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession({ owner: OWNER });
    const maxEventBytes = 1_000;
    const store = new SessionEventStore(manager, id, OWNER, { maxEventBytes });
    const priming = await store.storeEvent(GET_STREAM, {} as JSONRPCMessage);
    const sizes: number[] = [];
    for (let chars = 560; chars <= 700; chars++) {
      await store.storeEvent(GET_STREAM, note('x'.repeat(chars)));
    }
    for (const entry of await manager.readLog(id, 'sse', { owner: OWNER, limit: 1_000 })) {
      sizes.push(Buffer.byteLength(JSON.stringify(entry.data)));
    }
    // base64url takes 4 characters per 3 bytes, so sizes step by 1 or 2: the largest is within 1 of it.
    expect(Math.max(...sizes)).toBeGreaterThanOrEqual(maxEventBytes - 1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(maxEventBytes);
    // Events whose JSON alone is under maxEventBytes but whose sealed entry is not: delivered, not stored.
    expect(sizes.length).toBeLessThan(141);
    const { data } = await replay(manager, id, priming);
    expect(data).toHaveLength(sizes.length);
  });
});
