import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ManualClock, SessionManager } from '@mcp-session/core';
import { MemorySessionStore } from '@mcp-session/memory';
import { SqliteSessionStore } from '@mcp-session/sqlite';
import { freshSqliteFile } from '@mcp-session/test-utils';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { createMcpSessionHandler, SessionEventStore } from '../src/index.js';
import {
  cleanupAfterEach,
  demoServer,
  listen,
  OWNER_HEADER,
  openSse,
  ownerFromHeader,
  rawCallTool,
  rawInitialize,
  rawInitialized,
} from './helpers.js';
import { openSqliteDatabase } from './session-footprint.js';

const run = promisify(execFile);
const GET_STREAM = '_GET_stream';

const cleanups = cleanupAfterEach();

function note(data: string): JSONRPCMessage {
  return { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data } };
}

async function replay(store: SessionEventStore, after: string) {
  const seen: { id: string; message: JSONRPCMessage }[] = [];
  const streamId = await store.replayEventsAfter(after, {
    send: async (id, message) => {
      seen.push({ id, message });
    },
  });
  return {
    streamId,
    seen,
    data: seen.map(
      ({ message }) => (message as unknown as { params: { data: string } }).params.data,
    ),
  };
}

function memoryManager() {
  const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
  cleanups.push(() => manager.close());
  return manager;
}

describe('SessionEventStore', () => {
  it('never replays one session’s events into another that shares the store, _GET_stream included', async () => {
    const manager = memoryManager();
    const a = await manager.createSession({ owner: 'alice' });
    const b = await manager.createSession({ owner: 'bob' });
    const storeA = new SessionEventStore(manager, a.id, 'alice');
    const storeB = new SessionEventStore(manager, b.id, 'bob');
    const firstA = await storeA.storeEvent(GET_STREAM, note('a1'));
    const firstB = await storeB.storeEvent(GET_STREAM, note('b1'));
    await storeB.storeEvent(GET_STREAM, note('b2'));
    await storeA.storeEvent(GET_STREAM, note('a2'));
    await storeA.storeEvent(GET_STREAM, note('a3'));

    expect(await replay(storeA, firstA)).toMatchObject({
      streamId: GET_STREAM,
      data: ['a2', 'a3'],
    });
    expect(await replay(storeB, firstB)).toMatchObject({ streamId: GET_STREAM, data: ['b2'] });
    // An id issued to session A means nothing to session B (the SDK then answers 400).
    expect(await storeB.getStreamIdForEventId(firstA)).toBeUndefined();
    await expect(replay(storeB, firstA)).rejects.toThrow(/not issued for this session/);
    expect(await storeA.getStreamIdForEventId(firstA)).toBe(GET_STREAM);
  });

  it('keeps streams of one session apart and issues ids unique across them', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession();
    const store = new SessionEventStore(manager, id, null);
    const ids = new Set<string>();
    const firstOf: Record<string, string> = {};
    for (const stream of [GET_STREAM, 'f3b2c1d0-0000-4000-8000-000000000001', 'other']) {
      for (let i = 1; i <= 3; i++) {
        const eventId = await store.storeEvent(stream, note(`${stream}-${i}`));
        ids.add(eventId);
        firstOf[stream] ??= eventId;
      }
    }
    expect(ids.size).toBe(9);
    expect((await replay(store, firstOf.other ?? '')).data).toEqual(['other-2', 'other-3']);
    expect((await replay(store, firstOf[GET_STREAM] ?? '')).data).toEqual([
      `${GET_STREAM}-2`,
      `${GET_STREAM}-3`,
    ]);
  });

  it('maps any stream id to a valid log name and back (unicode, dots, very long)', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession();
    const store = new SessionEventStore(manager, id, null);
    for (const stream of ['a.b:c/d e', 'héllo✓', 'x'.repeat(500), '..', '_GET_stream_']) {
      const first = await store.storeEvent(stream, note('1'));
      await store.storeEvent(stream, note('2'));
      expect(await store.getStreamIdForEventId(first)).toBe(stream);
      expect(await replay(store, first)).toMatchObject({ streamId: stream, data: ['2'] });
    }
  });

  it('caps each stream and replays what is kept', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession();
    const store = new SessionEventStore(manager, id, null, { maxEventsPerStream: 3 });
    const first = await store.storeEvent(GET_STREAM, note('1'));
    for (let i = 2; i <= 6; i++) await store.storeEvent(GET_STREAM, note(String(i)));
    expect((await replay(store, first)).data).toEqual(['4', '5', '6']);
    expect(() => new SessionEventStore(manager, id, null, { maxEventsPerStream: 0 })).toThrow(
      /maxEventsPerStream/,
    );
  });

  it('caps the session, not the stream: maxEvents across all streams, maxEventsPerStream its alias', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession();
    for (const options of [{ maxEvents: 3 }, { maxEventsPerStream: 3 }]) {
      const store = new SessionEventStore(manager, id, null, options);
      const firstA = await store.storeEvent('a', note('a1'));
      const firstB = await store.storeEvent('b', note('b1'));
      await store.storeEvent('a', note('a2'));
      await store.storeEvent('b', note('b2'));
      await store.storeEvent('a', note('a3'));
      // The log keeps the 3 newest events of the session: b2, a2, a3 (b1 and a1 are trimmed).
      expect((await replay(store, firstA)).data).toEqual(['a2', 'a3']);
      expect((await replay(store, firstB)).data).toEqual(['b2']);
      expect(await manager.readLog(id, 'sse')).toHaveLength(3);
    }
    for (const bad of [
      { maxEvents: 0 },
      { maxEventBytes: 1.5 },
      { retentionMs: -1 },
      { maxEvents: 3, maxEventsPerStream: 4 },
    ]) {
      expect(() => new SessionEventStore(manager, id, null, bad), JSON.stringify(bad)).toThrow(
        new RegExp(Object.keys(bad).at(-1) ?? ''),
      );
    }
    // The same value under both names is not a contradiction.
    expect(
      () => new SessionEventStore(manager, id, null, { maxEvents: 3, maxEventsPerStream: 3 }),
    ).not.toThrow();
  });

  it('1,000 request streams on one session leave at most maxEvents entries in the store, all in one log', async () => {
    const { file: database, remove } = freshSqliteFile('mcp-event-cap');
    const manager = new SessionManager({ store: new SqliteSessionStore({ database }) });
    cleanups.push(async () => {
      await manager.close();
      remove();
    });
    const { id } = await manager.createSession({ owner: 'alice' });
    const store = new SessionEventStore(manager, id, 'alice', { maxEvents: 50 });
    const priming: string[] = [];
    for (let i = 1; i <= 1_000; i++) {
      // What the SDK writes for a POST answered with SSE: a priming event, then the response.
      const stream = `f3b2c1d0-0000-4000-8000-${String(i).padStart(12, '0')}`;
      priming.push(await store.storeEvent(stream, {} as JSONRPCMessage));
      await store.storeEvent(stream, note(`progress-${i}`));
      await store.storeEvent(stream, note(`reply-${i}`));
    }
    const db = openSqliteDatabase(database);
    cleanups.push(() => db.close());
    const logs = db
      .prepare('SELECT log, count(*) AS entries FROM log_entries WHERE session_id = ? GROUP BY log')
      .all(manager.storageId(id));
    expect(logs).toEqual([{ log: 'sse', entries: 50 }]);
    // What is kept is the newest 50 events: the last 25 streams' (two each), nothing of the first ones.
    expect((await replay(store, priming[999] ?? '')).data).toEqual(['progress-1000', 'reply-1000']);
    expect((await replay(store, priming[975] ?? '')).data).toEqual(['progress-976', 'reply-976']);
    expect((await replay(store, priming[974] ?? '')).data).toEqual([]);
    expect((await replay(store, priming[0] ?? '')).data).toEqual([]);
  });

  it('delivers an event over maxEventBytes live but does not store it; a resume skips it', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession();
    const errors: unknown[] = [];
    const store = new SessionEventStore(manager, id, null, {
      maxEventBytes: 1_000,
      onError: (error) => errors.push(error),
    });
    const small = await store.storeEvent(GET_STREAM, note('small'));
    const big = await store.storeEvent(GET_STREAM, note('x'.repeat(1_000)));
    await store.storeEvent(GET_STREAM, note('after'));
    // The SDK sends the big event with this id; it names the stream but is not in the store.
    expect(await store.getStreamIdForEventId(big)).toBe(GET_STREAM);
    expect(big.split('.')).toHaveLength(4);
    expect((await manager.readLog(id, 'sse')).map((entry) => entry.seq)).toEqual([1, 2]);
    expect((await replay(store, small)).data).toEqual(['after']);
    expect((await replay(store, big)).data).toEqual(['after']);
    // A configured limit at work is not an error.
    expect(errors).toEqual([]);
    // On another instance, once the client resumed there, an unpersisted event resumes after the replay.
    const other = new SessionEventStore(manager, id, null, { maxEventBytes: 1_000 });
    expect((await replay(other, small)).data).toEqual(['after']);
    const bigThere = await other.storeEvent(GET_STREAM, note('y'.repeat(1_000)));
    expect((await replay(other, bigThere)).data).toEqual([]);
  });

  it('replays an event only within retentionMs of it being stored', async () => {
    const clock = new ManualClock(1_000_000);
    const manager = new SessionManager({
      store: new MemorySessionStore({ sweepIntervalMs: 0 }),
      clock,
      idleTimeoutMs: null,
    });
    cleanups.push(() => manager.close());
    const { id } = await manager.createSession();
    const store = new SessionEventStore(manager, id, null, { retentionMs: 60_000 });
    const priming = await store.storeEvent(GET_STREAM, {} as JSONRPCMessage);
    await store.storeEvent(GET_STREAM, note('old'));
    clock.advance(30_000);
    await store.storeEvent(GET_STREAM, note('newer'));
    clock.advance(30_000);
    // "old" is exactly retentionMs old: still replayed.
    expect((await replay(store, priming)).data).toEqual(['old', 'newer']);
    clock.advance(1);
    expect((await replay(store, priming)).data).toEqual(['newer']);
    clock.advance(30_000);
    expect((await replay(store, priming)).data).toEqual([]);
    // Past retention but within the cap: still in the store until trimmed or the session goes.
    expect(await manager.readLog(id, 'sse')).toHaveLength(2);
  });

  it('refuses ids of the former per-stream design (another tag), which would misread the shared log', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession();
    const store = new SessionEventStore(manager, id, null);
    await store.storeEvent(GET_STREAM, note('1'));
    await store.storeEvent(GET_STREAM, note('2'));
    const formerTag = createHash('sha256')
      .update(`mcp-session/event-store\0${id}`)
      .digest('base64url')
      .slice(0, 10);
    const formerId = `${formerTag}.${Buffer.from(GET_STREAM).toString('base64url')}.1`;
    expect(await store.getStreamIdForEventId(formerId)).toBeUndefined();
    await expect(replay(store, formerId)).rejects.toThrow(/not issued for this session/);
  });

  it('never replays events of one stream on another, however they interleave in the session log', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession();
    const store = new SessionEventStore(manager, id, null);
    const primingA = await store.storeEvent('stream-a', {} as JSONRPCMessage);
    const primingB = await store.storeEvent('stream-b', {} as JSONRPCMessage);
    const primingGet = await store.storeEvent(GET_STREAM, {} as JSONRPCMessage);
    for (let i = 1; i <= 3; i++) {
      await store.storeEvent('stream-a', note(`a${i}`));
      await store.storeEvent(GET_STREAM, note(`get${i}`));
      await store.storeEvent('stream-b', note(`b${i}`));
    }
    const a = await replay(store, primingA);
    expect(a).toMatchObject({ streamId: 'stream-a', data: ['a1', 'a2', 'a3'] });
    expect((await replay(store, primingB)).data).toEqual(['b1', 'b2', 'b3']);
    expect((await replay(store, primingGet)).data).toEqual(['get1', 'get2', 'get3']);
    // Ids carry their stream and the log's seq: unique across streams, and resumable mid-stream.
    expect(a.seen.map((event) => event.id.split('.')[2])).toEqual(['1', '4', '7']);
    expect((await replay(store, a.seen[0]?.id ?? '')).data).toEqual(['a2', 'a3']);
  });

  it('does not store priming events; their id replays the whole stream', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession();
    const store = new SessionEventStore(manager, id, null);
    const stream = 'request-stream';
    const priming = await store.storeEvent(stream, {} as JSONRPCMessage);
    await store.storeEvent(stream, note('reply'));
    expect(await replay(store, priming)).toMatchObject({ streamId: stream, data: ['reply'] });
    expect(await manager.readLog(id, 'sse')).toHaveLength(1);
  });

  it('never throws from storeEvent: an event it cannot persist is reported and still gets an id', async () => {
    const manager = new SessionManager({
      store: new MemorySessionStore({ sweepIntervalMs: 0 }),
      // The manager's limit sees the sealed entry (≈ 4/3 of the event): 'small' fits, 500 x do not.
      limits: { maxMessageBytes: 300 },
    });
    cleanups.push(() => manager.close());
    const { id } = await manager.createSession();
    const errors: unknown[] = [];
    const store = new SessionEventStore(manager, id, null, { onError: (e) => errors.push(e) });
    const kept = await store.storeEvent(GET_STREAM, note('small'));
    const big = await store.storeEvent(GET_STREAM, note('x'.repeat(500)));
    await store.storeEvent(GET_STREAM, note('after'));
    expect(errors).toHaveLength(1);
    expect(big).not.toBe(kept);
    // Resuming from the unpersisted event replays what follows the last persisted one.
    expect((await replay(store, big)).data).toEqual(['after']);
    await manager.closeSession(id);
    expect(await store.storeEvent(GET_STREAM, note('closed'))).toMatch(/\.[A-Za-z0-9_-]+$/);
    expect(errors).toHaveLength(2);
  });

  it('refuses malformed and forged ids', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession();
    const store = new SessionEventStore(manager, id, null);
    const good = await store.storeEvent(GET_STREAM, note('1'));
    const [tag] = good.split('.');
    for (const bad of [
      '',
      'x',
      `${tag}.!!.1`,
      `${tag}.X0dFVF9zdHJlYW0.-1`,
      `${tag}.X0dFVF9zdHJlYW0`,
      `${good}.x.y`,
      `${tag}.X0dFVF9zdHJlYW0=.1`,
    ]) {
      expect(await store.getStreamIdForEventId(bad), bad).toBeUndefined();
    }
  });

  it('lets another process resume: events written by a child process replay here', async () => {
    const { file: database, remove } = freshSqliteFile('mcp-events');
    const manager = new SessionManager({ store: new SqliteSessionStore({ database }) });
    cleanups.push(async () => {
      await manager.close();
      remove();
    });
    const { id } = await manager.createSession({ owner: 'alice' });
    const other = await manager.createSession({ owner: 'bob' });
    const child = (sessionId: string, owner: string, count: number) =>
      run(
        process.execPath,
        [
          '--import',
          'tsx',
          'test/fixtures/write-events.ts',
          database,
          sessionId,
          owner,
          GET_STREAM,
          String(count),
        ],
        { cwd: join(import.meta.dirname, '..') },
      );
    const written = JSON.parse((await child(id, 'alice', 4)).stdout) as string[];
    await child(other.id, 'bob', 2);
    const store = new SessionEventStore(manager, id, 'alice');
    expect(await replay(store, written[1] ?? '')).toMatchObject({
      streamId: GET_STREAM,
      data: ['child-3', 'child-4'],
    });
    expect((await replay(store, written[1] ?? '')).seen.map((e) => e.id)).toEqual(written.slice(2));
  });
});

describe('SSE resumption through the handler', () => {
  it('checks the eventStore option before opening anything', async () => {
    for (const [eventStore, named] of [
      [{ maxEvents: 0 }, /eventStore\.maxEvents/],
      [{ maxEventsPerStream: -1 }, /eventStore\.maxEventsPerStream/],
      [{ maxEventBytes: 0.5 }, /eventStore\.maxEventBytes/],
      [{ retentionMs: Number.NaN }, /eventStore\.retentionMs/],
      [{ maxEvents: 10, maxEventsPerStream: 20 }, /deprecated alias/],
      [null, /eventStore must be an object/],
    ] as const) {
      await expect(
        createMcpSessionHandler({
          sessions: 'memory:',
          server: demoServer,
          eventStore: eventStore as never,
        }),
      ).rejects.toThrow(named);
    }
  });

  it('resumes a GET stream on another instance with Last-Event-ID: exactly the missed events of that session', async () => {
    const manager = memoryManager();
    const options = {
      sessions: manager,
      server: demoServer,
      owner: ownerFromHeader,
      sweepIntervalMs: null,
    };
    const handlerA = await createMcpSessionHandler(options);
    const handlerB = await createMcpSessionHandler(options);
    const a = await listen(handlerA);
    const b = await listen(handlerB);
    cleanups.push(async () => {
      await a.close();
      await b.close();
      await handlerA.close();
      await handlerB.close();
    });
    const alice = { [OWNER_HEADER]: 'alice' };
    const s1 = (await rawInitialize(a.url, alice)).sessionId ?? '';
    await rawInitialized(a.url, s1, alice);
    const s2 = (await rawInitialize(a.url, alice)).sessionId ?? '';
    await rawInitialized(a.url, s2, alice);

    const live = await openSse(a.url, { 'mcp-session-id': s1, ...alice });
    expect(live.status).toBe(200);
    await rawCallTool(a.url, s1, 'notify', { tag: 'seen', count: 2 }, alice);
    const seen = await live.next(2);
    expect(seen.map((e) => JSON.parse(e.data).params.data)).toEqual(['seen-1', 'seen-2']);
    live.close();

    await rawCallTool(a.url, s1, 'notify', { tag: 'missed', count: 3 }, alice);
    await rawCallTool(a.url, s2, 'notify', { tag: 'other-session', count: 2 }, alice);

    const resumed = await openSse(b.url, {
      'mcp-session-id': s1,
      'last-event-id': seen[1]?.id ?? '',
      ...alice,
    });
    expect(resumed.status).toBe(200);
    const replayed = await resumed.next(3);
    expect(replayed.map((e) => JSON.parse(e.data).params.data)).toEqual([
      'missed-1',
      'missed-2',
      'missed-3',
    ]);
    // The resumed stream is live: new events of the session arrive on it.
    await rawCallTool(b.url, s1, 'notify', { tag: 'after', count: 1 }, alice);
    expect((await resumed.next(1)).map((e) => JSON.parse(e.data).params.data)).toEqual(['after-1']);
    resumed.close();

    // Session 2 cannot resume from session 1's ids.
    const foreign = await fetch(b.url, {
      headers: {
        accept: 'text/event-stream',
        'mcp-session-id': s2,
        'last-event-id': seen[1]?.id ?? '',
        ...alice,
      },
    });
    expect(foreign.status).toBe(400);
  });
});
