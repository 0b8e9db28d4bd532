import { describe, expect, it } from 'vitest';
import {
  applyChange,
  BaseSessionStore,
  type CountOptions,
  checkGuards,
  emptyStats,
  isCounted,
  isExpired,
  type SessionChange,
  SessionExistsError,
  type SessionRecord,
  StoreUnavailableError,
  type UpdateOptions,
} from '../src/adapter.js';
import {
  InvalidValueError,
  isSessionError,
  ManualClock,
  type QuotaExceededError,
  SessionManager,
} from '../src/index.js';

/**
 * Records in a Map, enough for the quota paths of the manager (create, get, update, count, stats), with a log
 * of the counts it was asked for and a switch that fails the next create. The conformance suite runs the
 * same quotas against every real store; this pins what only the manager's side decides: how often the
 * store is counted, and what concurrent creates of one manager may take.
 */
class QuotaStore extends BaseSessionStore {
  readonly capabilities = { durable: false, sharedAcrossProcesses: false, nativeExpiry: false };
  protected readonly backend = 'Quota';
  readonly records = new Map<string, SessionRecord>();
  readonly counts: CountOptions[] = [];
  failNextCreate = false;

  protected async createRecord(record: SessionRecord, { now }: { now: number }) {
    const existing = this.records.get(record.id);
    if (existing && !isExpired(existing, now)) throw new SessionExistsError(record.id);
    // A turn of the event loop, as any backend takes: concurrent creates overlap here.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failNextCreate) {
      this.failNextCreate = false;
      throw new Error('connection reset');
    }
    this.records.set(record.id, structuredClone(record));
  }
  protected async getRecord(id: string, options: { now: number; owner?: string | null }) {
    const record = this.records.get(id);
    if (!record || isExpired(record, options.now)) return null;
    return options.owner === undefined || record.owner === null || record.owner === options.owner
      ? structuredClone(record)
      : null;
  }
  protected async updateRecord(id: string, change: SessionChange, options: UpdateOptions) {
    const next = applyChange(checkGuards(this.records.get(id), options), change);
    this.records.set(id, next);
    return structuredClone(next);
  }
  protected async countRecords(options: CountOptions) {
    this.counts.push(structuredClone(options));
    await new Promise((resolve) => setImmediate(resolve));
    return [...this.records.values()].filter((record) => isCounted(record, options)).length;
  }
  protected async deleteRecord(id: string) {
    return this.records.delete(id);
  }
  protected readEntries(): never {
    throw new Error('not used by the quota paths');
  }
  protected appendEntries(): never {
    throw new Error('not used by the quota paths');
  }
  protected replaceLogEntries(): never {
    throw new Error('not used by the quota paths');
  }
  protected listRecords(): never {
    throw new Error('not used by the quota paths');
  }
  protected sweepExpired(): never {
    throw new Error('not used by the quota paths');
  }
  protected async computeStats() {
    return emptyStats();
  }
  protected async release() {}
}

function setup(options: Partial<ConstructorParameters<typeof SessionManager>[0]> = {}) {
  const store = new QuotaStore();
  const clock = new ManualClock(1_700_000_000_000);
  const manager = new SessionManager({ store, clock, ...options });
  return { store, clock, manager };
}

async function refusal(promise: Promise<unknown>): Promise<QuotaExceededError> {
  const error = await promise.then(
    () => new Error('the create was not refused'),
    (caught: unknown) => caught,
  );
  expect(isSessionError(error, 'QUOTA_EXCEEDED'), String(error)).toBe(true);
  return error as QuotaExceededError;
}

describe('quota options', () => {
  const store = new QuotaStore();

  it('default to 1,000 sessions per owner, 100,000 in all, recounted every 10 s', () => {
    expect(new SessionManager({ store })).toMatchObject({
      maxSessionsPerOwner: 1_000,
      maxSessions: 100_000,
      quotaRefreshMs: 10_000,
    });
    expect(
      new SessionManager({
        store,
        maxSessionsPerOwner: null,
        maxSessions: null,
        quotaRefreshMs: 0,
      }),
    ).toMatchObject({ maxSessionsPerOwner: null, maxSessions: null, quotaRefreshMs: 0 });
  });

  it('refuse anything but a positive integer (or null) for the limits', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, '5']) {
      for (const name of ['maxSessionsPerOwner', 'maxSessions'] as const) {
        expect(() => new SessionManager({ store, [name]: bad as never }), `${name} ${bad}`).toThrow(
          InvalidValueError,
        );
      }
    }
    for (const bad of [-1, 1.5, Number.POSITIVE_INFINITY, '10']) {
      expect(() => new SessionManager({ store, quotaRefreshMs: bad as never })).toThrow(
        /quotaRefreshMs/,
      );
    }
  });
});

describe('the total quota', () => {
  it('counts the store at most once per quotaRefreshMs, not once per create', async () => {
    const { store, clock, manager } = setup({ maxSessions: 1_000, quotaRefreshMs: 5_000 });
    for (let i = 0; i < 20; i++) await manager.createSession();
    expect(store.counts).toEqual([{ now: clock.now(), states: ['active', 'idle', 'suspended'] }]);
    clock.advance(4_999);
    await manager.createSession();
    expect(store.counts).toHaveLength(1);
    clock.advance(1);
    await manager.createSession();
    expect(store.counts).toHaveLength(2);
  });

  it('shares one count among the creates that need it at the same moment', async () => {
    const { store, manager } = setup({ maxSessions: 1_000 });
    await Promise.all(Array.from({ length: 25 }, () => manager.createSession()));
    expect(store.counts).toHaveLength(1);
    expect(store.records.size).toBe(25);
  });

  it('lets concurrent creates of one manager take exactly the places left', async () => {
    const { store, manager } = setup({ maxSessions: 7 });
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, () => manager.createSession()),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(7);
    for (const result of results) {
      if (result.status === 'rejected') {
        expect(result.reason).toMatchObject({ code: 'QUOTA_EXCEEDED', scope: 'total', limit: 7 });
      }
    }
    expect(store.records.size).toBe(7);
    expect((await manager.getMetrics()).counters).toMatchObject({
      sessionsCreated: 7,
      quotaRefusals: 23,
    });
  });

  it('gives the place of a create that failed back', async () => {
    const { store, manager } = setup({ maxSessions: 2 });
    await manager.createSession();
    store.failNextCreate = true;
    await expect(manager.createSession()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await manager.createSession();
    await refusal(manager.createSession());
    expect(store.records.size).toBe(2);
  });

  it('sees sessions closed since the last count only at the next one', async () => {
    const { store, clock, manager } = setup({ maxSessions: 2, quotaRefreshMs: 1_000 });
    const first = await manager.createSession();
    await manager.createSession();
    await manager.closeSession(first.id);
    const error = await refusal(manager.createSession());
    expect(error).toMatchObject({ scope: 'total', limit: 2, name: 'QuotaExceededError' });
    clock.advance(1_000);
    await manager.createSession();
    expect(store.records.size).toBe(3);
  });

  it('is never counted when disabled, nor the owner quota', async () => {
    const { store, manager } = setup({ maxSessions: null, maxSessionsPerOwner: null });
    for (let i = 0; i < 5; i++) await manager.createSession({ owner: 'alice' });
    expect(store.counts).toEqual([]);
  });
});

describe('the owner quota', () => {
  it('counts exactly that owner, in the states that hold a place, on every create', async () => {
    const { store, clock, manager } = setup({ maxSessionsPerOwner: 3, maxSessions: null });
    for (let i = 0; i < 3; i++) await manager.createSession({ owner: 'alice' });
    expect(store.counts).toHaveLength(3);
    expect(store.counts[0]).toEqual({
      now: clock.now(),
      owner: 'alice',
      states: ['active', 'idle', 'suspended'],
    });
    expect(await refusal(manager.createSession({ owner: 'alice' }))).toMatchObject({
      scope: 'owner',
      limit: 3,
    });
    // Unbound sessions count toward maxSessions only.
    for (let i = 0; i < 5; i++) await manager.createSession();
    expect(store.counts).toHaveLength(4);
    expect((await manager.getMetrics()).counters.quotaRefusals).toBe(1);
  });

  it('runs one owner’s creates one at a time, other owners’ beside them', async () => {
    const { store, manager } = setup({ maxSessionsPerOwner: 4, maxSessions: null });
    const results = await Promise.allSettled([
      ...Array.from({ length: 24 }, () => manager.createSession({ owner: 'alice' })),
      ...Array.from({ length: 4 }, () => manager.createSession({ owner: 'bob' })),
    ]);
    const owners = [...store.records.values()].map((record) => record.owner);
    expect(owners.filter((owner) => owner === 'alice')).toHaveLength(4);
    expect(owners.filter((owner) => owner === 'bob')).toHaveLength(4);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(20);
  });

  it('keeps serving an owner after a create of theirs failed', async () => {
    const { store, manager } = setup({ maxSessionsPerOwner: 2 });
    store.failNextCreate = true;
    const failed = manager.createSession({ owner: 'alice' });
    const next = manager.createSession({ owner: 'alice' });
    await expect(failed).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(next).resolves.toMatchObject({ owner: 'alice' });
  });
});
