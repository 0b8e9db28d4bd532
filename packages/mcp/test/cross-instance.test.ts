import { SessionManager } from '@mcp-session/core';
import { MemorySessionStore } from '@mcp-session/memory';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { createMcpSessionHandler, type ServerFactory } from '../src/index.js';
import { routeChannel } from '../src/routing/session-route.js';
import {
  cleanupAfterEach,
  demoServer,
  listen,
  OWNER_HEADER,
  openSse,
  ownerFromHeader,
  parseSse,
  postHeaders,
  rawCallTool,
  rawInitialize,
  rawInitialized,
  type SseEvent,
} from './helpers.js';

const cleanups = cleanupAfterEach();

/** Two handlers on one manager: two instances sharing a store (and its in-process bus). */
async function twoInstances(
  options: { routeAcrossInstances?: boolean; server?: ServerFactory } = {},
) {
  const store = new MemorySessionStore({ sweepIntervalMs: 0 });
  const manager = new SessionManager({ store });
  const errors: Error[] = [];
  const start = async () => {
    const handler = await createMcpSessionHandler({
      sessions: manager,
      owner: ownerFromHeader,
      sweepIntervalMs: null,
      ...options,
      server: options.server ?? demoServer,
      onerror: (error) => errors.push(error),
    });
    const http = await listen(handler);
    cleanups.push(async () => {
      await http.close();
      await handler.close();
    });
    return { handler, url: http.url };
  };
  const a = await start();
  const b = await start();
  cleanups.push(() => manager.close());
  return { manager, store, a, b, errors };
}

const alice = { [OWNER_HEADER]: 'alice' };
const bob = { [OWNER_HEADER]: 'bob' };

async function initialize(url: string, headers: Record<string, string>) {
  const { sessionId } = await rawInitialize(url, headers);
  if (!sessionId) throw new Error('no session id');
  await rawInitialized(url, sessionId, headers);
  return sessionId;
}

/** A POST whose SSE answer is read event by event. */
async function postStream(url: string, headers: Record<string, string>, body: unknown) {
  const response = await fetch(url, {
    method: 'POST',
    headers: postHeaders({ 'mcp-protocol-version': LATEST_PROTOCOL_VERSION, ...headers }),
    body: JSON.stringify(body),
  });
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    response,
    /** The next event with data. */
    async next(): Promise<SseEvent> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end !== -1) {
          const [event] = parseSse(buffer.slice(0, end + 2));
          buffer = buffer.slice(end + 2);
          if (event && event.data !== '') return event;
          continue;
        }
        if (!reader) throw new Error('no body');
        const { done, value } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    },
  };
}

function post(url: string, headers: Record<string, string>, body: unknown) {
  return fetch(url, {
    method: 'POST',
    headers: postHeaders({ 'mcp-protocol-version': LATEST_PROTOCOL_VERSION, ...headers }),
    body: JSON.stringify(body),
  });
}

const samplingAnswer = (id: unknown) => ({
  jsonrpc: '2.0',
  id,
  result: { role: 'assistant', model: 'secret-model', content: { type: 'text', text: 'answer' } },
});

describe('routing across instances over the store’s bus', () => {
  it('hands a sampling answer POSTed to B to the tool waiting on A, answering the POST 202', async () => {
    const { a, b, errors } = await twoInstances();
    const id = await initialize(a.url, alice);
    const session = { ...alice, 'mcp-session-id': id };
    const call = await postStream(a.url, session, {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'sample', arguments: {} },
    });
    const request = JSON.parse((await call.next()).data) as { id: unknown; method: string };
    expect(request.method).toBe('sampling/createMessage');

    const answered = await post(b.url, session, samplingAnswer(request.id));
    expect(answered.status).toBe(202);
    const reply = JSON.parse((await call.next()).data) as { id: number; result: unknown };
    expect(reply).toMatchObject({
      id: 7,
      result: {
        content: [{ type: 'text', text: JSON.stringify({ type: 'text', text: 'answer' }) }],
      },
    });
    expect(errors).toEqual([]);
  });

  it('regression: an answer to A’s request 0 never completes B’s request 0 (every server numbers from 0)', async () => {
    const { a, b } = await twoInstances();
    const id = await initialize(a.url, alice);
    const session = { ...alice, 'mcp-session-id': id };
    const callTool = (url: string, callId: number) =>
      postStream(url, session, {
        jsonrpc: '2.0',
        id: callId,
        method: 'tools/call',
        params: { name: 'sample', arguments: {} },
      });
    const onA = await callTool(a.url, 1);
    const onB = await callTool(b.url, 2);
    const askedByA = JSON.parse((await onA.next()).data) as { id: unknown };
    const askedByB = JSON.parse((await onB.next()).data) as { id: unknown };
    expect(askedByA.id).not.toEqual(askedByB.id);
    const answer = (requestId: unknown, text: string) => ({
      jsonrpc: '2.0',
      id: requestId,
      result: { role: 'assistant', model: 'm', content: { type: 'text', text } },
    });
    // Each answer is posted to the instance that did not ask.
    expect((await post(b.url, session, answer(askedByA.id, 'for A'))).status).toBe(202);
    expect((await post(a.url, session, answer(askedByB.id, 'for B'))).status).toBe(202);
    const resultText = async (stream: { next(): Promise<SseEvent> }) =>
      (JSON.parse((await stream.next()).data) as { result: { content: { text: string }[] } }).result
        .content[0]?.text;
    expect(await resultText(onA)).toBe(JSON.stringify({ type: 'text', text: 'for A' }));
    expect(await resultText(onB)).toBe(JSON.stringify({ type: 'text', text: 'for B' }));
  });

  it('aborts the signal of a tool running on A when notifications/cancelled arrives at B', async () => {
    const waiting: ServerFactory = ({ session }) => {
      const server = new McpServer({ name: 'waiting', version: '1.0.0' });
      server.registerTool('wait', {}, async (extra) => {
        await new Promise<void>((resolve) =>
          extra.signal.addEventListener('abort', () => resolve()),
        );
        await session.set('aborted', true);
        return { content: [] };
      });
      return server;
    };
    const { a, b, manager } = await twoInstances({ server: waiting });
    const id = await initialize(a.url, alice);
    const session = { ...alice, 'mcp-session-id': id };
    const call = await fetch(a.url, {
      method: 'POST',
      headers: postHeaders({ 'mcp-protocol-version': LATEST_PROTOCOL_VERSION, ...session }),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'long-call',
        method: 'tools/call',
        params: { name: 'wait', arguments: {} },
      }),
    });
    expect(call.status).toBe(200);
    const cancel = await post(b.url, session, {
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: 'long-call', reason: 'the user gave up' },
    });
    expect(cancel.status).toBe(202);
    for (
      let tries = 0;
      (await manager.getContext(id, 'aborted', { owner: 'alice' })) !== true;
      tries++
    ) {
      if (tries > 500) throw new Error('the tool on A was not aborted');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await call.body?.cancel();
  });

  it('puts only sealed payloads on a channel that names no session id', async () => {
    const { a, b, manager, store } = await twoInstances();
    const id = await initialize(a.url, alice);
    const channel = routeChannel(manager.storageId(id));
    expect(channel).not.toContain(id);
    expect(channel).not.toContain(manager.storageId(id));
    const seen: string[] = [];
    const bus = store.messages;
    if (!bus) throw new Error('the memory store has a bus');
    const unsubscribe = await bus.subscribe(channel, (payload) => seen.push(payload));
    try {
      const session = { ...alice, 'mcp-session-id': id };
      const call = await postStream(a.url, session, {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'sample', arguments: {} },
      });
      const request = JSON.parse((await call.next()).data) as { id: unknown };
      expect((await post(b.url, session, samplingAnswer(request.id))).status).toBe(202);
      await call.next();
      expect(seen).toHaveLength(1);
      for (const payload of seen) {
        expect(payload).toMatch(/^[A-Za-z0-9_-]+$/);
        for (const secret of [id, 'secret-model', 'answer', 'alice', 'sampling']) {
          expect(payload).not.toContain(secret);
        }
      }
    } finally {
      await unsubscribe();
    }
  });

  it('refuses an answer posted with another owner’s credentials, like any request of that session', async () => {
    const { a, b } = await twoInstances();
    const id = await initialize(a.url, alice);
    const call = await postStream(
      a.url,
      { ...alice, 'mcp-session-id': id },
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'sample', arguments: {} } },
    );
    const request = JSON.parse((await call.next()).data) as { id: unknown };
    const forged = await post(b.url, { ...bob, 'mcp-session-id': id }, samplingAnswer(request.id));
    expect(forged.status).toBe(404);
    // The tool is still waiting for alice's own answer, which then completes it.
    expect(
      (await post(b.url, { ...alice, 'mcp-session-id': id }, samplingAnswer(request.id))).status,
    ).toBe(202);
    expect(JSON.parse((await call.next()).data)).toMatchObject({ id: 1 });
  });

  it('writes a standalone message sent on B to the GET stream A holds, under an id resume does not replay', async () => {
    const { a, b } = await twoInstances();
    const id = await initialize(a.url, alice);
    const session = { ...alice, 'mcp-session-id': id };
    const stream = await openSse(a.url, session);
    expect(stream.status).toBe(200);
    const sent = await rawCallTool(b.url, id, 'log', { levels: ['info', 'error'] }, alice);
    expect(sent.status).toBe(200);
    const live = await stream.next(2);
    expect(
      live.map((event) => (JSON.parse(event.data) as { params: { data: string } }).params.data),
    ).toEqual(['at info', 'at error']);
    stream.close();
    // Stored once, under the ids delivered live: a resume after the last one has nothing to replay.
    await rawCallTool(b.url, id, 'log', { levels: ['warning'] }, alice);
    const resumed = await openSse(b.url, { ...session, 'last-event-id': live[1]?.id ?? '' });
    const [next] = await resumed.next(1);
    expect((JSON.parse(next?.data ?? '{}') as { params: { data: string } }).params.data).toBe(
      'at warning',
    );
    resumed.close();
  });

  it('keeps today’s behaviour with routeAcrossInstances: false: nothing goes on the bus', async () => {
    const { a, b, manager, store } = await twoInstances({ routeAcrossInstances: false });
    const id = await initialize(a.url, alice);
    const seen: string[] = [];
    const unsubscribe = await store.messages?.subscribe(routeChannel(manager.storageId(id)), (p) =>
      seen.push(p),
    );
    await rawCallTool(b.url, id, 'log', { levels: ['info'] }, alice);
    const answered = await post(b.url, { ...alice, 'mcp-session-id': id }, samplingAnswer(99));
    expect(answered.status).toBe(202);
    expect(seen).toEqual([]);
    await unsubscribe?.();
  });

  it('checks the option', async () => {
    const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
    cleanups.push(() => manager.close());
    await expect(
      createMcpSessionHandler({
        sessions: manager,
        server: demoServer,
        routeAcrossInstances: 'yes' as never,
      }),
    ).rejects.toMatchObject({ code: 'INVALID_VALUE' });
  });
});
