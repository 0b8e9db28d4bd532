import { describe, expect, it } from 'vitest';
import {
  type AppendResult,
  BaseSessionStore,
  emptyStats,
  isSessionError,
  type ListPage,
  type LogEntry,
  type ReplaceEntriesResult,
  SessionNotFoundError,
  type SessionRecord,
  type StoreCapabilities,
  type StoreStats,
} from '../src/adapter.js';

const NOW = 1_700_000_000_000;

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: 'a'.repeat(64),
    state: 'active',
    context: {},
    metadata: {},
    owner: null,
    createdAt: NOW,
    lastActivityAt: NOW,
    expiresAt: NOW + 60_000,
    version: 1,
    messageCount: 0,
    ...overrides,
  };
}

/** An adapter whose backend records which primitives reached it, and fails when told to. */
class RecordingStore extends BaseSessionStore {
  readonly capabilities: StoreCapabilities = {
    durable: false,
    sharedAcrossProcesses: false,
    nativeExpiry: false,
  };
  protected readonly backend = 'Recording';
  readonly reached: string[] = [];
  releases = 0;
  failWith: unknown;
  /** Called inside a primitive, after the backend was reached (to close the store mid-operation). */
  during: (() => void) | undefined;

  async #reach<T>(primitive: string, result: T): Promise<T> {
    this.reached.push(primitive);
    this.during?.();
    await Promise.resolve();
    if (this.failWith !== undefined) throw this.failWith;
    return result;
  }
  protected createRecord(): Promise<void> {
    return this.#reach('create', undefined);
  }
  protected getRecord(): Promise<SessionRecord | null> {
    return this.#reach('get', null);
  }
  protected updateRecord(): Promise<SessionRecord> {
    return this.#reach('update', record({ version: 2 }));
  }
  protected appendEntries(): Promise<AppendResult> {
    return this.#reach('append', { firstSeq: 1, lastSeq: 1, version: 2, messageCount: 0 });
  }
  protected replaceLogEntries(): Promise<ReplaceEntriesResult> {
    return this.#reach('replaceEntries', { replaced: 0, version: 1 });
  }
  protected readEntries(): Promise<LogEntry[]> {
    return this.#reach('read', []);
  }
  protected deleteRecord(): Promise<boolean> {
    return this.#reach('delete', false);
  }
  protected listRecords(): Promise<ListPage> {
    return this.#reach('list', { records: [], nextCursor: null });
  }
  protected countRecords(): Promise<number> {
    return this.#reach('count', 0);
  }
  sweptWith: number | undefined;
  protected sweepExpired(_now: number, limit: number): Promise<number> {
    this.sweptWith = limit;
    return this.#reach('sweep', 0);
  }
  protected computeStats(): Promise<StoreStats> {
    return this.#reach('stats', emptyStats());
  }
  protected async release(): Promise<void> {
    this.releases++;
  }
}

const id = 'b'.repeat(64);
/** One good call of every primitive. */
const GOOD: [string, (store: RecordingStore) => Promise<unknown>][] = [
  ['create', (s) => s.create(record(), { now: NOW })],
  ['get', (s) => s.get(id, { now: NOW })],
  ['update', (s) => s.update(id, { contextSet: { k: 1 } }, { now: NOW })],
  ['append', (s) => s.append(id, 'history', [{ m: 1 }], { now: NOW, cap: 10 })],
  [
    'replaceEntries',
    (s) => s.replaceEntries(id, 'history', [{ seq: 1, value: { m: 2 } }], { now: NOW }),
  ],
  ['read', (s) => s.read(id, 'history', { now: NOW, limit: 5, order: 'desc' })],
  ['delete', (s) => s.delete(id)],
  ['list', (s) => s.list({ now: NOW, limit: 10 })],
  ['count', (s) => s.count({ now: NOW, owner: 'alice', states: ['active', 'idle'] })],
  ['sweep', (s) => s.sweep(NOW)],
  ['stats', (s) => s.stats(NOW)],
];

/** Bad calls: each must be refused with the code before reaching the backend. */
const BAD: [string, (store: RecordingStore) => Promise<unknown>, string][] = [
  ['create: record not an object', (s) => s.create(null as never, { now: NOW }), 'INVALID_VALUE'],
  ['create: id with a space', (s) => s.create(record({ id: 'a b' }), { now: NOW }), 'INVALID_ID'],
  [
    'create: unknown state',
    (s) => s.create(record({ state: 'gone' as never }), { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'create: NaN in context',
    (s) => s.create(record({ context: { n: Number.NaN } }), { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'create: metadata array',
    (s) => s.create(record({ metadata: [] as never }), { now: NOW }),
    'INVALID_VALUE',
  ],
  ['create: empty owner', (s) => s.create(record({ owner: '' }), { now: NOW }), 'INVALID_VALUE'],
  [
    'create: fractional createdAt',
    (s) => s.create(record({ createdAt: 1.5 }), { now: NOW }),
    'INVALID_VALUE',
  ],
  ['create: version 0', (s) => s.create(record({ version: 0 }), { now: NOW }), 'INVALID_VALUE'],
  [
    'create: negative messageCount',
    (s) => s.create(record({ messageCount: -1 }), { now: NOW }),
    'INVALID_VALUE',
  ],
  ['create: now missing', (s) => s.create(record(), {} as never), 'INVALID_VALUE'],
  [
    'create: malformed logs',
    (s) => s.create(record(), { now: NOW, logs: { history: [{ seq: 0, at: NOW, data: 1 }] } }),
    'INVALID_VALUE',
  ],
  ['get: id too long', (s) => s.get('x'.repeat(257), { now: NOW }), 'INVALID_ID'],
  ['get: no options', (s) => s.get(id, undefined as never), 'INVALID_VALUE'],
  ['get: owner with NUL', (s) => s.get(id, { now: NOW, owner: 'a\u0000' }), 'INVALID_VALUE'],
  ['get: now as string', (s) => s.get(id, { now: '1' as never }), 'INVALID_VALUE'],
  ['update: change null', (s) => s.update(id, null as never, { now: NOW }), 'INVALID_VALUE'],
  [
    'update: expectedVersion 0',
    (s) => s.update(id, {}, { now: NOW, expectedVersion: 0 }),
    'INVALID_VALUE',
  ],
  [
    'update: expectedState unknown',
    (s) => s.update(id, {}, { now: NOW, expectedState: ['active', 'x' as never] }),
    'INVALID_VALUE',
  ],
  [
    'update: __proto__ key in contextSet',
    (s) => s.update(id, { contextSet: JSON.parse('{"__proto__":1}') }, { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'update: undefined contextSet value',
    (s) => s.update(id, { contextSet: { k: undefined as never } }, { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'update: contextDelete of numbers',
    (s) => s.update(id, { contextDelete: [1 as never] }, { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'update: Infinity expiresAt',
    (s) => s.update(id, { expiresAt: Number.POSITIVE_INFINITY }, { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'update: negative touch window',
    (s) =>
      s.update(id, { touch: { at: NOW, idleTimeoutMs: -1, maxLifetimeMs: null } }, { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'update: maxContextBytes 0',
    (s) => s.update(id, {}, { now: NOW, maxContextBytes: 0 }),
    'INVALID_VALUE',
  ],
  ['append: bad log name', (s) => s.append(id, 'no spaces', [1], { now: NOW }), 'INVALID_VALUE'],
  ['append: no entries', (s) => s.append(id, 'history', [], { now: NOW }), 'INVALID_VALUE'],
  [
    'append: BigInt entry',
    (s) => s.append(id, 'history', [10n as never], { now: NOW }),
    'INVALID_VALUE',
  ],
  ['append: cap 0', (s) => s.append(id, 'history', [1], { now: NOW, cap: 0 }), 'INVALID_VALUE'],
  [
    'append: countMessages "yes"',
    (s) => s.append(id, 'history', [1], { now: NOW, countMessages: 'yes' as never }),
    'INVALID_VALUE',
  ],
  [
    'replaceEntries: entries not an array',
    (s) => s.replaceEntries(id, 'history', { seq: 1 } as never, { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'replaceEntries: entry not an object',
    (s) => s.replaceEntries(id, 'history', [1 as never], { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'replaceEntries: seq 0',
    (s) => s.replaceEntries(id, 'history', [{ seq: 0, value: 1 }], { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'replaceEntries: seq 1.5',
    (s) => s.replaceEntries(id, 'history', [{ seq: 1.5, value: 1 }], { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'replaceEntries: seq as string',
    (s) => s.replaceEntries(id, 'history', [{ seq: '1' as never, value: 1 }], { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'replaceEntries: seq beyond 2^53',
    (s) => s.replaceEntries(id, 'history', [{ seq: 2 ** 53, value: 1 }], { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'replaceEntries: the same seq twice',
    (s) =>
      s.replaceEntries(
        id,
        'history',
        [
          { seq: 3, value: 1 },
          { seq: 3, value: 2 },
        ],
        { now: NOW },
      ),
    'INVALID_VALUE',
  ],
  [
    'replaceEntries: value missing',
    (s) => s.replaceEntries(id, 'history', [{ seq: 1 } as never], { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'replaceEntries: NaN value',
    (s) => s.replaceEntries(id, 'history', [{ seq: 1, value: Number.NaN }], { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'replaceEntries: bad log name',
    (s) => s.replaceEntries(id, 'no spaces', [], { now: NOW }),
    'INVALID_VALUE',
  ],
  [
    'replaceEntries: expectedVersion 0',
    (s) => s.replaceEntries(id, 'history', [], { now: NOW, expectedVersion: 0 }),
    'INVALID_VALUE',
  ],
  ['read: limit 0', (s) => s.read(id, 'history', { now: NOW, limit: 0 }), 'INVALID_VALUE'],
  ['read: afterSeq -1', (s) => s.read(id, 'history', { now: NOW, afterSeq: -1 }), 'INVALID_VALUE'],
  [
    'read: beforeSeq 1.5',
    (s) => s.read(id, 'history', { now: NOW, beforeSeq: 1.5 }),
    'INVALID_VALUE',
  ],
  [
    'read: order sideways',
    (s) => s.read(id, 'history', { now: NOW, order: 'sideways' as never }),
    'INVALID_VALUE',
  ],
  ['delete: empty id', (s) => s.delete(''), 'INVALID_ID'],
  ['list: no limit', (s) => s.list({ now: NOW } as never), 'INVALID_VALUE'],
  [
    'list: owner null',
    (s) => s.list({ now: NOW, limit: 1, owner: null as never }),
    'INVALID_VALUE',
  ],
  [
    'list: cursor number',
    (s) => s.list({ now: NOW, limit: 1, cursor: 5 as never }),
    'INVALID_VALUE',
  ],
  ['count: no options', (s) => s.count(undefined as never), 'INVALID_VALUE'],
  ['count: now missing', (s) => s.count({} as never), 'INVALID_VALUE'],
  ['count: owner null', (s) => s.count({ now: NOW, owner: null as never }), 'INVALID_VALUE'],
  ['count: owner ""', (s) => s.count({ now: NOW, owner: '' }), 'INVALID_VALUE'],
  ['count: states []', (s) => s.count({ now: NOW, states: [] }), 'INVALID_VALUE'],
  [
    'count: states "active"',
    (s) => s.count({ now: NOW, states: 'active' as never }),
    'INVALID_VALUE',
  ],
  [
    'count: states with an unknown one',
    (s) => s.count({ now: NOW, states: ['active', 'gone' as never] }),
    'INVALID_VALUE',
  ],
  ['sweep: limit -5', (s) => s.sweep(NOW, { limit: -5 }), 'INVALID_VALUE'],
  ['stats: now NaN', (s) => s.stats(Number.NaN), 'INVALID_VALUE'],
];

describe('BaseSessionStore', () => {
  it('lets good calls of every primitive reach the backend', async () => {
    const store = new RecordingStore();
    for (const [, call] of GOOD) await call(store);
    expect(store.reached).toEqual(GOOD.map(([primitive]) => primitive));
    expect(store.sweptWith).toBe(1000);
    await store.sweep(NOW, { limit: 7 });
    expect(store.sweptWith).toBe(7);
  });

  it('refuses every bad argument with a typed error before the backend is reached', async () => {
    const store = new RecordingStore();
    for (const [what, call, code] of BAD) {
      const error = await call(store).then(
        () => new Error(`${what}: accepted`),
        (caught: unknown) => caught,
      );
      expect(isSessionError(error, code as never), `${what}: ${String(error)}`).toBe(true);
    }
    expect(store.reached).toEqual([]);
  });

  it('checks a value the manager did not hand over, however it was built', async () => {
    const store = new RecordingStore();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(store.update(id, { context: cyclic as never }, { now: NOW })).rejects.toThrow(
      /cycle/,
    );
    expect(store.reached).toEqual([]);
  });

  it('fails every primitive with STORE_CLOSED after close, and releases once', async () => {
    const store = new RecordingStore();
    await Promise.all([store.close(), store.close()]);
    await store.close();
    expect(store.releases).toBe(1);
    for (const [primitive, call] of GOOD) {
      const error = await call(store).catch((caught: unknown) => caught);
      expect(isSessionError(error, 'STORE_CLOSED'), primitive).toBe(true);
    }
    expect(store.reached).toEqual([]);
  });

  it('wraps driver failures as STORE_UNAVAILABLE naming the backend and primitive, a turn later', async () => {
    const store = new RecordingStore();
    const cause = new Error('connection reset');
    store.failWith = cause;
    const error = (await store.append(id, 'history', [1], { now: NOW }).catch((e) => e)) as Error;
    expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect(error.message).toBe('Recording append failed: connection reset');
    expect(error.cause).toBe(cause);

    // The rejection arrives only after the event loop had a turn (so a driver can see its socket close).
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    await store.get(id, { now: NOW }).catch(() => undefined);
    expect(turned).toBe(true);
  });

  it("passes this project's errors through unchanged", async () => {
    const store = new RecordingStore();
    const notFound = new SessionNotFoundError();
    store.failWith = notFound;
    await expect(store.update(id, {}, { now: NOW })).rejects.toBe(notFound);
  });

  it('reports STORE_CLOSED for an operation the store was closed under', async () => {
    const store = new RecordingStore();
    store.failWith = new Error('Client was closed');
    store.during = () => void store.close();
    const error = await store.read(id, 'history', { now: NOW }).catch((e: unknown) => e);
    expect(isSessionError(error, 'STORE_CLOSED')).toBe(true);
  });
});
