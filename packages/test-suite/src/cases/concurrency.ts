import {
  type LogEntry,
  SessionManager,
  type SessionRecord,
  type SessionState,
} from '@mcp-session/core';
import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';
import { codesOf, range, seqRange, settle } from './helpers.js';
import { instanceOfRacer, RACERS, warmedStores } from './races.js';

const PARALLEL = 300;

export const concurrencyCases: ConformanceCase[] = [
  {
    group: 'concurrency',
    name: `${PARALLEL} parallel appends to one session: unique contiguous seqs, nothing lost, cap exact`,
    timeout: 120_000,
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      const cap = 100;
      const results = await Promise.all(
        range(PARALLEL).map((i) =>
          t.store.append(record.id, 'history', [{ i }], { now, cap, countMessages: true }),
        ),
      );
      const seqs = results.map((r) => r.firstSeq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqRange(1, PARALLEL));
      expect(results.every((r) => r.lastSeq === r.firstSeq)).toBe(true);
      expect(new Set(results.map((r) => r.version)).size).toBe(PARALLEL);
      expect(await t.store.get(record.id, { now })).toMatchObject({
        version: 1 + PARALLEL,
        messageCount: PARALLEL,
      });
      const entries = await t.store.read(record.id, 'history', { now });
      expect(entries.map((e) => e.seq)).toEqual(seqRange(PARALLEL - cap + 1, PARALLEL));
      // Each retained entry holds exactly what the append that got its seq wrote.
      const writerOfSeq = new Map(results.map((r, i) => [r.firstSeq, i]));
      for (const entry of entries) expect(entry.data).toEqual({ i: writerOfSeq.get(entry.seq) });
    },
  },
  {
    group: 'concurrency',
    name: 'parallel batch appends each get a contiguous block of seqs',
    timeout: 120_000,
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      const results = await Promise.all(
        range(60).map((batch) =>
          t.store.append(
            record.id,
            'log',
            range(5).map((i) => ({ batch, i })),
            { now, countMessages: true },
          ),
        ),
      );
      const covered = results.flatMap((r) => seqRange(r.firstSeq, r.lastSeq));
      expect(covered.sort((a, b) => a - b)).toEqual(seqRange(1, 300));
      const entries = await t.store.read(record.id, 'log', { now });
      results.forEach((r, batch) => {
        const block = entries
          .filter((e) => e.seq >= r.firstSeq && e.seq <= r.lastSeq)
          .map((e) => e.data);
        expect(block).toEqual(range(5).map((i) => ({ batch, i })));
      });
    },
  },
  {
    group: 'concurrency',
    name: `${PARALLEL} parallel writes of disjoint context keys: none is lost`,
    timeout: 120_000,
    async run(t) {
      const now = t.clock.now();
      const record = t.record({ context: { existing: true } });
      await t.store.create(record, { now });
      await Promise.all(
        range(PARALLEL).map((i) =>
          t.store.update(record.id, { contextSet: { [`key-${i}`]: i } }, { now }),
        ),
      );
      const stored = await t.store.get(record.id, { now });
      expect(stored?.version).toBe(1 + PARALLEL);
      expect(stored?.context).toEqual({
        existing: true,
        ...Object.fromEntries(range(PARALLEL).map((i) => [`key-${i}`, i])),
      });
    },
  },
  {
    group: 'concurrency',
    name: 'racing guarded transitions: exactly one wins, the others get VERSION_CONFLICT',
    timeout: 60_000,
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      const stores = await warmedStores(t);
      const targets: SessionState[] = ['idle', 'suspended', 'closed'];
      const { fulfilled, rejected } = await settle(
        range(RACERS).map((i) =>
          instanceOfRacer(stores, i).update(
            record.id,
            { state: targets[i % 3] as SessionState },
            { now, expectedState: 'active' },
          ),
        ),
      );
      expect(fulfilled).toHaveLength(1);
      expect(codesOf(rejected)).toEqual(Array(RACERS - 1).fill('VERSION_CONFLICT'));
      expect(await t.store.get(record.id, { now })).toMatchObject({
        state: fulfilled[0]?.state,
        version: 2,
      });
    },
  },
  {
    group: 'concurrency',
    name: 'racing compare-and-set updates: exactly one wins',
    timeout: 60_000,
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      const stores = await warmedStores(t);
      const { fulfilled, rejected } = await settle(
        range(RACERS).map((i) =>
          instanceOfRacer(stores, i).update(
            record.id,
            { context: { writer: i } },
            { now, expectedVersion: 1 },
          ),
        ),
      );
      expect(fulfilled).toHaveLength(1);
      expect(codesOf(rejected)).toEqual(Array(RACERS - 1).fill('VERSION_CONFLICT'));
      expect((await t.store.get(record.id, { now }))?.context).toEqual(fulfilled[0]?.context);
    },
  },
  {
    group: 'concurrency',
    name: 'racing creates of one id: exactly one wins, the others get SESSION_EXISTS',
    timeout: 60_000,
    async run(t) {
      const now = t.clock.now();
      const id = t.record().id;
      const stores = await warmedStores(t);
      const outcomes = await Promise.allSettled(
        range(RACERS).map((i) =>
          instanceOfRacer(stores, i).create(t.record({ id, context: { creator: i } }), { now }),
        ),
      );
      const winners = range(RACERS).filter((i) => outcomes[i]?.status === 'fulfilled');
      const rejected = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
      expect(winners).toHaveLength(1);
      expect(codesOf(rejected)).toEqual(Array(RACERS - 1).fill('SESSION_EXISTS'));
      // The record left is the winner's: no losing create overwrote it.
      expect((await t.store.get(id, { now }))?.context).toEqual({ creator: winners[0] });
    },
  },
  {
    group: 'concurrency',
    name: 'reads racing writes see whole writes: a get never mixes two updates, a read never part of an append',
    timeout: 60_000,
    async run(t) {
      const now = t.clock.now();
      const record = t.record({ context: { a: 0, b: 0 }, metadata: { n: 0 } });
      await t.store.create(record, { now });
      const stores = await warmedStores(t);
      const cap = 20;
      const batch = 5;
      const gets: Promise<SessionRecord | null>[] = [];
      const reads: Promise<LogEntry[]>[] = [];
      const writes: Promise<unknown>[] = [];
      for (const n of range(RACERS)) {
        const store = instanceOfRacer(stores, n);
        const written = n + 1;
        writes.push(
          store.update(
            record.id,
            { contextSet: { a: written, b: written }, metadata: { n: written } },
            { now },
          ),
          store.append(
            record.id,
            'log',
            range(batch).map((i) => ({ n, i })),
            { now, cap },
          ),
        );
        gets.push(store.get(record.id, { now }));
        reads.push(store.read(record.id, 'log', { now }));
      }
      const [gotten, pages] = await Promise.all([
        Promise.all(gets),
        Promise.all(reads),
        Promise.all(writes),
      ]);
      for (const got of gotten) {
        const { a, b } = got?.context ?? {};
        expect({ a, b, n: got?.metadata.n }, 'one update, whole').toEqual({ a, b: a, n: a });
      }
      for (const entries of pages) {
        const seqs = entries.map((e) => e.seq);
        const last = seqs.at(-1) ?? 0;
        expect(last % batch, `a read ending inside an append: seqs ${seqs.join(',')}`).toBe(0);
        expect(seqs, 'a read from one state of the log').toEqual(
          seqRange(Math.max(1, last - cap + 1), last),
        );
        for (const entry of entries) {
          expect(entry.data).toEqual({ n: expect.any(Number), i: (entry.seq - 1) % batch });
        }
      }
    },
  },
  {
    group: 'concurrency',
    name: 'appends racing a delete never leave orphan log entries behind',
    timeout: 60_000,
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      const appends = range(100).map((i) => t.store.append(record.id, 'history', [{ i }], { now }));
      const deleted = t.store.delete(record.id);
      const { rejected } = await settle<unknown>([...appends, deleted]);
      expect(new Set(codesOf(rejected))).toEqual(
        rejected.length > 0 ? new Set(['SESSION_NOT_FOUND']) : new Set(),
      );
      await t.store.create({ ...record }, { now });
      expect(await t.store.read(record.id, 'history', { now })).toEqual([]);
      expect((await t.store.append(record.id, 'history', ['fresh'], { now })).firstSeq).toBe(1);
    },
  },
  {
    group: 'concurrency',
    name: 'manager: racing transitions never both win from the same state',
    timeout: 60_000,
    async run(t) {
      const stores = await warmedStores(t);
      // One manager per instance, as on several servers; the first is the one over `t.store`.
      const managers = stores.map((store) =>
        store === t.store ? t.manager() : new SessionManager({ store, clock: t.clock }),
      );
      const manager = managers[0] as SessionManager;
      const session = await manager.createSession({ owner: 'alice' });
      const moves: { from: SessionState; to: SessionState }[] = [];
      for (const each of managers)
        each.on('transitioned', ({ from, to }) => moves.push({ from, to }));
      const targets: SessionState[] = ['idle', 'suspended', 'closed'];
      const { fulfilled, rejected } = await settle(
        range(RACERS).map((i) =>
          instanceOfRacer(managers, i).transitionState(session.id, targets[i % 3] as SessionState, {
            owner: 'alice',
          }),
        ),
      );
      for (const code of codesOf(rejected)) {
        expect(['VERSION_CONFLICT', 'INVALID_TRANSITION', 'SESSION_CLOSED']).toContain(code);
      }
      // A call that read the state after another call's write may legally win from that new state, so
      // the winners form a chain: exactly one starts from "active", each next one where the last ended.
      expect(fulfilled.length).toBeGreaterThanOrEqual(1);
      expect(moves).toHaveLength(fulfilled.length);
      moves.forEach((move, i) => {
        expect(move.from).toBe(i === 0 ? 'active' : moves[i - 1]?.to);
        expect(manager.canTransition(move.from, move.to)).toBe(true);
      });
      const final = await t.store.get(manager.storageId(session.id), { now: t.clock.now() });
      expect(final?.state).toBe(moves.at(-1)?.to);
    },
  },
];
