import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';
import { range, seqRange } from './helpers.js';

const PER_WORKER = 150;
const CAP = 100;

export const processCases: ConformanceCase[] = [
  {
    group: 'processes',
    name: 'two store instances on one location see each other’s writes at once',
    requires: 'sharedAcrossProcesses',
    async run(t) {
      const now = t.clock.now();
      const other = await t.openAnother();
      const record = t.record();
      await t.store.create(record, { now });
      await other.update(record.id, { contextSet: { fromOther: true } }, { now });
      await t.store.append(record.id, 'history', ['from first'], { now });
      expect(await other.read(record.id, 'history', { now })).toHaveLength(1);
      expect((await t.store.get(record.id, { now }))?.context).toEqual({ fromOther: true });
      await t.store.delete(record.id);
      expect(await other.get(record.id, { now })).toBeNull();
    },
  },
  {
    group: 'processes',
    name: `two processes appending to one session lose nothing: ${2 * PER_WORKER} seqs, cap exact, every key kept`,
    requires: 'sharedAcrossProcesses',
    timeout: 300_000,
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      const startAt = Date.now() + 1_500;
      const args = { id: record.id, now, count: PER_WORKER, inFlight: 8, cap: CAP, startAt };
      const results = (await Promise.all(
        [0, 1].map((worker) => t.child('hammer', { ...args, worker })),
      )) as {
        seqs: number[];
      }[];
      const seqs = results.flatMap((r) => r.seqs).sort((a, b) => a - b);
      expect(seqs).toEqual(seqRange(1, 2 * PER_WORKER));
      const stored = await t.store.get(record.id, { now });
      expect(stored?.messageCount).toBe(2 * PER_WORKER);
      expect(stored?.version).toBe(1 + 4 * PER_WORKER);
      expect(Object.keys(stored?.context ?? {})).toHaveLength(2 * PER_WORKER);
      for (const worker of [0, 1]) {
        for (const i of range(PER_WORKER)) expect(stored?.context[`w${worker}-${i}`]).toBe(i);
      }
      const entries = await t.store.read(record.id, 'history', { now });
      expect(entries.map((e) => e.seq)).toEqual(seqRange(2 * PER_WORKER - CAP + 1, 2 * PER_WORKER));
    },
  },
  {
    group: 'processes',
    name: 'two processes racing compare-and-set increments lose no update',
    requires: 'sharedAcrossProcesses',
    timeout: 300_000,
    async run(t) {
      const now = t.clock.now();
      const record = t.record({ context: { counter: 0 } });
      await t.store.create(record, { now });
      const startAt = Date.now() + 1_500;
      await Promise.all(
        [0, 1].map(() => t.child('cas', { id: record.id, now, count: 60, startAt })),
      );
      expect((await t.store.get(record.id, { now }))?.context.counter).toBe(120);
    },
  },
];
