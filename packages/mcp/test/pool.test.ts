import { ManualClock, SessionManager } from '@mcp-session/core';
import { MemorySessionStore } from '@mcp-session/memory';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it, vi } from 'vitest';
import {
  createMcpSessionHandler,
  isOwnerLimitError,
  isPoolSaturatedError,
  type McpSessionHandlerOptions,
  PoolSaturatedError,
} from '../src/index.js';
import {
  cleanupAfterEach,
  demoServer,
  INITIALIZE_PARAMS,
  listen,
  OWNER_HEADER,
  openSse,
  ownerFromHeader,
  postHeaders,
  rawCallTool,
  rawInitialize,
  rawInitialized,
} from './helpers.js';

const cleanups = cleanupAfterEach();

const ALICE = { [OWNER_HEADER]: 'alice' };
const BOB = { [OWNER_HEADER]: 'bob' };
const ping = { jsonrpc: '2.0', id: 7, method: 'ping' };

/** Creates counted on the store, so a test can tell "nothing written" from "written, then purged". */
class CountingStore extends MemorySessionStore {
  creates = 0;
  protected override async createRecord(
    ...args: Parameters<MemorySessionStore['createRecord']>
  ): Promise<void> {
    this.creates++;
    return super.createRecord(...args);
  }
}

async function setup(options: Partial<McpSessionHandlerOptions> = {}) {
  const clock = new ManualClock();
  const store = new CountingStore({ sweepIntervalMs: 0 });
  const manager = new SessionManager({ store, clock, idleTimeoutMs: 60 * 60_000 });
  const errors: Error[] = [];
  const handler = await createMcpSessionHandler({
    sessions: manager,
    server: demoServer,
    owner: ownerFromHeader,
    sweepIntervalMs: null,
    onerror: (error) => errors.push(error),
    ...options,
  });
  const http = await listen(handler);
  cleanups.push(async () => {
    await http.close();
    await handler.close();
    await manager.close();
  });
  return { clock, store, manager, handler, url: http.url, errors };
}

type Env = Awaited<ReturnType<typeof setup>>;

/** An initialized session of `owner` (raw client). */
async function openSession(env: Env, owner: Record<string, string>): Promise<string> {
  const { response, sessionId } = await rawInitialize(env.url, owner);
  expect(response.status).toBe(200);
  await rawInitialized(env.url, sessionId ?? '', owner);
  return sessionId ?? '';
}

/** `openSession`, then a GET stream held on it; returns the stream. */
async function openSessionWithStream(env: Env, owner: Record<string, string>) {
  const id = await openSession(env, owner);
  const stream = await openSse(env.url, { 'mcp-session-id': id, ...owner });
  expect(stream.status).toBe(200);
  cleanups.push(() => stream.close());
  return { id, stream };
}

function post(url: string, sessionId: string, body: unknown, owner: Record<string, string>) {
  return fetch(url, {
    method: 'POST',
    headers: postHeaders({
      'mcp-session-id': sessionId,
      'mcp-protocol-version': '2025-11-25',
      ...owner,
    }),
    body: JSON.stringify(body),
  });
}

/** An initialize whose answer is left unread (a refusal is read as JSON). */
function initializeRequest(url: string, owner: Record<string, string>) {
  return fetch(url, {
    method: 'POST',
    headers: postHeaders(owner),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: INITIALIZE_PARAMS,
    }),
  });
}

/** A GET for the session's stream, its body left to the caller (a refusal is read as JSON). */
function getStream(url: string, sessionId: string, owner: Record<string, string>) {
  return fetch(url, {
    headers: { accept: 'text/event-stream', 'mcp-session-id': sessionId, ...owner },
  });
}

async function expectRefused(response: Response, status: 503 | 429, message: RegExp) {
  expect(response.status).toBe(status);
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(await response.json()).toEqual({
    jsonrpc: '2.0',
    error: { code: -32000, message: expect.stringMatching(message) },
    id: null,
  });
}

/** The stored record's version: unchanged means nothing was written to it. */
async function storedVersion(env: Env, id: string): Promise<number | undefined> {
  const record = await env.store.get(env.manager.storageId(id), { now: env.clock.now() });
  return record?.version;
}

describe('a full pool never answers 404 (regression: the lockout of issue 14)', () => {
  it('answers another owner’s held session and new initialize 503 while one owner’s streams fill the pool, and serves them once the streams close', async () => {
    const env = await setup({ maxLiveSessions: 5 });
    // Bob's session exists before the flood; Alice's sessions push it out of memory.
    const bob = await openSession(env, BOB);
    const alice = [];
    for (let i = 0; i < 5; i++) alice.push(await openSessionWithStream(env, ALICE));
    expect(env.handler.stats()).toMatchObject({
      liveSessions: 5,
      busySessions: 5,
      counters: { evicted: 1 },
    });

    const version = await storedVersion(env, bob);
    const createsBefore = env.store.creates;
    // Concurrent requests of Bob's existing session, and a new initialize: all 503, none 404.
    const refused = await Promise.all([
      ...Array.from({ length: 3 }, () => post(env.url, bob, ping, BOB)),
      initializeRequest(env.url, BOB),
    ]);
    for (const response of refused) await expectRefused(response, 503, /^Server busy/);
    // Nothing held, nothing written: the stored session is as it was, no session was created.
    expect(await storedVersion(env, bob)).toBe(version);
    expect(env.store.creates).toBe(createsBefore);
    expect(env.handler.stats()).toMatchObject({
      liveSessions: 5,
      openStreams: 5,
      counters: { saturated: 4, notFound: 0 },
    });
    // Reported once (not once per refusal), as a PoolSaturatedError.
    const reports = env.errors.filter(isPoolSaturatedError);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ code: 'POOL_SATURATED', maxLiveSessions: 5, refused: 1 });

    for (const { stream } of alice) stream.close();
    await vi.waitFor(() => expect(env.handler.stats().busySessions).toBe(0));
    const recalled = await rawCallTool(env.url, bob, 'whoami', {}, BOB);
    expect(recalled.status).toBe(200);
    expect(recalled.result).toMatchObject({ sessionId: bob, owner: 'bob' });
    expect((await rawInitialize(env.url, BOB)).response.status).toBe(200);
    expect(env.handler.stats().counters).toMatchObject({ notFound: 0, rebuilt: 1 });
  });

  it('serves the other owner at once when the first owner’s sessions are idle, by evicting them', async () => {
    const env = await setup({ maxLiveSessions: 5 });
    const bob = await openSession(env, BOB);
    for (let i = 0; i < 5; i++) await openSession(env, ALICE);
    expect(env.handler.stats()).toMatchObject({ liveSessions: 5, busySessions: 0 });

    const call = await rawCallTool(env.url, bob, 'whoami', {}, BOB);
    expect(call.status).toBe(200);
    expect(call.result).toMatchObject({ sessionId: bob });
    expect((await rawInitialize(env.url, BOB)).response.status).toBe(200);
    expect(env.handler.stats()).toMatchObject({
      liveSessions: 5,
      counters: { saturated: 0, notFound: 0, evicted: 3, rebuilt: 1 },
    });
  });

  it('lets an SDK client connect once the pool has room; while it has none the client gets 503, not 404', async () => {
    const env = await setup({ maxLiveSessions: 2 });
    const alice = [
      await openSessionWithStream(env, ALICE),
      await openSessionWithStream(env, ALICE),
    ];
    const connectClient = async () => {
      const client = new Client({ name: 'pool-test', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(env.url), {
        requestInit: { headers: BOB },
      });
      await client.connect(transport);
      cleanups.push(() => client.close());
      return client;
    };
    await expect(connectClient()).rejects.toThrow(/Server busy/);
    for (const { stream } of alice) stream.close();
    await vi.waitFor(() => expect(env.handler.stats().busySessions).toBe(0));
    const client = await connectClient();
    await client.callTool({ name: 'remember', arguments: { key: 'k', value: 'v' } });
  });

  it('reports saturation to onerror at most once a minute, with the count since the last report', async () => {
    const env = await setup({ maxLiveSessions: 1 });
    await openSessionWithStream(env, ALICE);
    const refuse = async (times: number) => {
      for (let i = 0; i < times; i++) {
        expect((await rawInitialize(env.url, BOB)).response.status).toBe(503);
      }
    };
    await refuse(3);
    env.clock.advance(59_999);
    await refuse(2);
    expect(env.errors.filter(isPoolSaturatedError).map((e) => e.refused)).toEqual([1]);
    env.clock.advance(1);
    await refuse(1);
    const reports = env.errors.filter(isPoolSaturatedError);
    expect(reports.map((e) => e.refused)).toEqual([1, 5]);
    expect(reports[1]?.message).toMatch(/5 request\(s\) answered 503.*maxLiveSessions/);
    expect(env.handler.stats().counters.saturated).toBe(6);
  });
});

describe('per-owner limits in the pool', () => {
  it('answers an owner over maxLiveSessionsPerOwner with all its sessions busy 429, while another owner works normally', async () => {
    const env = await setup({ maxLiveSessionsPerOwner: 2 });
    const first = await openSessionWithStream(env, ALICE);
    await openSessionWithStream(env, ALICE);
    const createsBefore = env.store.creates;
    await expectRefused(await initializeRequest(env.url, ALICE), 429, /maxLiveSessionsPerOwner/);
    expect(env.store.creates).toBe(createsBefore);

    // Bob is not limited by Alice.
    const bob = [await openSession(env, BOB), await openSession(env, BOB)];
    for (const id of bob) {
      expect((await rawCallTool(env.url, id, 'whoami', {}, BOB)).status).toBe(200);
    }

    // One of Alice's sessions goes idle: her next session takes its place, Bob's stay held.
    first.stream.close();
    await vi.waitFor(() => expect(env.handler.stats().busySessions).toBe(1));
    await openSessionWithStream(env, ALICE);
    expect(env.handler.stats()).toMatchObject({
      liveSessions: 4,
      counters: { evicted: 1, ownerSessionLimited: 1 },
    });
    // The evicted session was Alice's first; rebuilding it is refused while all hers are busy again.
    await expectRefused(await post(env.url, first.id, ping, ALICE), 429, /maxLiveSessionsPerOwner/);
    for (const id of bob) expect((await post(env.url, id, ping, BOB)).status).toBe(200);
    expect(env.handler.stats().counters).toMatchObject({
      rebuilt: 0,
      notFound: 0,
      ownerSessionLimited: 2,
    });
  });

  it('evicts the owner’s own idle session rather than refusing it', async () => {
    const env = await setup({ maxLiveSessionsPerOwner: 2 });
    const bob = await openSession(env, BOB);
    const oldest = await openSession(env, ALICE);
    await openSession(env, ALICE);
    expect((await rawInitialize(env.url, ALICE)).response.status).toBe(200);
    expect(env.handler.stats()).toMatchObject({ liveSessions: 3, counters: { evicted: 1 } });
    // Bob's session, older than all of Alice's, was not the one evicted.
    expect((await post(env.url, bob, ping, BOB)).status).toBe(200);
    expect(env.handler.stats().counters.rebuilt).toBe(0);
    expect((await post(env.url, oldest, ping, ALICE)).status).toBe(200);
    expect(env.handler.stats().counters.rebuilt).toBe(1);
  });

  it('answers a stream over maxOpenStreamsPerOwner 429 before the SDK sees it, and counts streams until they end', async () => {
    const env = await setup({ maxOpenStreamsPerOwner: 2 });
    // Opened first: its initialize is answered with SSE, which counts as a stream while it lasts.
    const third = await openSession(env, ALICE);
    const first = await openSessionWithStream(env, ALICE);
    const second = await openSessionWithStream(env, ALICE);

    await expectRefused(await getStream(env.url, third, ALICE), 429, /maxOpenStreamsPerOwner/);
    // A POST answered with SSE is a stream too; one answered 202 is not.
    await expectRefused(
      await post(env.url, third, { ...ping, id: 'over' }, ALICE),
      429,
      /maxOpenStreamsPerOwner/,
    );
    const notification = { jsonrpc: '2.0', method: 'notifications/roots/list_changed' };
    expect((await post(env.url, third, notification, ALICE)).status).toBe(202);
    expect(env.handler.stats().openStreams).toBe(2);

    // Bob streams normally meanwhile.
    const bob = await openSessionWithStream(env, BOB);
    expect((await rawCallTool(env.url, bob.id, 'whoami', {}, BOB)).status).toBe(200);
    expect(env.handler.stats().openStreams).toBe(3);

    first.stream.close();
    await vi.waitFor(() => expect(env.handler.stats().openStreams).toBe(2));
    // A second GET stream on a session is the SDK's 409, which holds no stream once answered.
    const conflict = await getStream(env.url, second.id, ALICE);
    expect(conflict.status).toBe(409);
    await conflict.text();
    expect(env.handler.stats().openStreams).toBe(2);
    expect((await rawCallTool(env.url, third, 'whoami', {}, ALICE)).status).toBe(200);
    expect(env.handler.stats().counters).toMatchObject({ ownerStreamLimited: 2, notFound: 0 });
    // Only client faults and operator problems reach onerror, not an owner over its limit.
    expect(env.errors.filter(isOwnerLimitError)).toEqual([]);
  });

  it('refuses bad limits before opening anything', async () => {
    const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
    cleanups.push(() => manager.close());
    for (const name of ['maxLiveSessionsPerOwner', 'maxOpenStreamsPerOwner'] as const) {
      await expect(
        createMcpSessionHandler({ sessions: manager, server: demoServer, [name]: 0 }),
      ).rejects.toThrow(new RegExp(name));
    }
  });
});

describe('PoolSaturatedError', () => {
  it('has a stable code and says what to do', () => {
    const error = new PoolSaturatedError(10, 3);
    expect(error).toMatchObject({ code: 'POOL_SATURATED', maxLiveSessions: 10, refused: 3 });
    expect(error.message).toMatch(/Raise maxLiveSessions/);
    expect(isPoolSaturatedError(error)).toBe(true);
  });
});
