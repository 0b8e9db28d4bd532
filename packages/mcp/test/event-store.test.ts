import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SessionManager } from '@mcp-session/core';
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

  it('does not store priming events; their id replays the whole stream', async () => {
    const manager = memoryManager();
    const { id } = await manager.createSession();
    const store = new SessionEventStore(manager, id, null);
    const stream = 'request-stream';
    const priming = await store.storeEvent(stream, {} as JSONRPCMessage);
    await store.storeEvent(stream, note('reply'));
    expect(await replay(store, priming)).toMatchObject({ streamId: stream, data: ['reply'] });
    expect(
      await manager.readLog(id, `sse.${Buffer.from(stream).toString('base64url')}`),
    ).toHaveLength(1);
  });

  it('never throws from storeEvent: an event it cannot persist is reported and still gets an id', async () => {
    const manager = new SessionManager({
      store: new MemorySessionStore({ sweepIntervalMs: 0 }),
      limits: { maxMessageBytes: 200 },
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
