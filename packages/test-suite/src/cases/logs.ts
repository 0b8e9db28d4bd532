import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';
import { expectCode, range, seqRange, TRICKY_JSON } from './helpers.js';

export const logCases: ConformanceCase[] = [
  {
    group: 'logs',
    name: 'append assigns contiguous seqs from 1 and reports version and messageCount',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      expect(
        await t.store.append(record.id, 'history', [{ a: 1 }, { a: 2 }, { a: 3 }], {
          now,
          countMessages: true,
        }),
      ).toEqual({
        firstSeq: 1,
        lastSeq: 3,
        version: 2,
        messageCount: 3,
      });
      expect(await t.store.append(record.id, 'history', ['four'], { now })).toEqual({
        firstSeq: 4,
        lastSeq: 4,
        version: 3,
        messageCount: 3,
      });
      expect(await t.store.get(record.id, { now })).toMatchObject({ version: 3, messageCount: 3 });
    },
  },
  {
    group: 'logs',
    name: 'entries keep their data exactly and carry the time of the append',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      const values = [
        TRICKY_JSON,
        'text',
        42,
        null,
        [1, [2, [3]]],
        { role: 'user', content: 'hi' },
      ];
      await t.store.append(record.id, 'history', values, { now });
      const later = t.clock.advance(1_234);
      await t.store.append(record.id, 'history', [true], { now: later });
      expect(await t.store.read(record.id, 'history', { now: later })).toEqual([
        ...values.map((data, i) => ({ seq: i + 1, at: now, data })),
        { seq: 7, at: later, data: true },
      ]);
    },
  },
  {
    group: 'logs',
    name: 'read pages with afterSeq, beforeSeq, limit and order',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      await t.store.append(
        record.id,
        'log',
        range(10).map((i) => ({ i: i + 1 })),
        { now },
      );
      const seqs = async (options: Parameters<typeof t.store.read>[2]) =>
        (await t.store.read(record.id, 'log', options)).map((entry) => entry.seq);
      expect(await seqs({ now })).toEqual(seqRange(1, 10));
      expect(await seqs({ now, afterSeq: 3, limit: 4 })).toEqual([4, 5, 6, 7]);
      expect(await seqs({ now, order: 'desc', limit: 3 })).toEqual([10, 9, 8]);
      expect(await seqs({ now, order: 'desc', beforeSeq: 5, limit: 2 })).toEqual([4, 3]);
      expect(await seqs({ now, afterSeq: 2, beforeSeq: 6 })).toEqual([3, 4, 5]);
      expect(await seqs({ now, afterSeq: 2, beforeSeq: 6, order: 'desc' })).toEqual([5, 4, 3]);
      expect(await seqs({ now, afterSeq: 10 })).toEqual([]);
      expect(await seqs({ now, beforeSeq: 1 })).toEqual([]);
      expect(await seqs({ now, afterSeq: 0, limit: 1 })).toEqual([1]);
      const pages: number[] = [];
      let after = 0;
      for (;;) {
        const page = await seqs({ now, afterSeq: after, limit: 3 });
        if (page.length === 0) break;
        pages.push(...page);
        after = page.at(-1) as number;
      }
      expect(pages).toEqual(seqRange(1, 10));
    },
  },
  {
    group: 'logs',
    name: 'cap keeps exactly the newest entries, and seqs keep increasing after trimming',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      for (const i of range(12))
        await t.store.append(record.id, 'history', [{ i }], { now, cap: 5, countMessages: true });
      let entries = await t.store.read(record.id, 'history', { now });
      expect(entries.map((e) => e.seq)).toEqual(seqRange(8, 12));
      expect(entries.map((e) => e.data)).toEqual([7, 8, 9, 10, 11].map((i) => ({ i })));
      const batch = await t.store.append(
        record.id,
        'history',
        range(7).map((i) => ({ batch: i })),
        { now, cap: 5, countMessages: true },
      );
      expect(batch).toMatchObject({ firstSeq: 13, lastSeq: 19, messageCount: 19 });
      entries = await t.store.read(record.id, 'history', { now });
      expect(entries.map((e) => e.seq)).toEqual(seqRange(15, 19));
      expect(await t.store.read(record.id, 'history', { now, afterSeq: 3, limit: 2 })).toEqual(
        entries.slice(0, 2),
      );
      await t.store.append(record.id, 'history', ['uncapped'], { now });
      expect((await t.store.read(record.id, 'history', { now })).map((e) => e.seq)).toEqual(
        seqRange(15, 20),
      );
      await t.store.append(record.id, 'history', ['cap one'], { now, cap: 1 });
      expect(await t.store.read(record.id, 'history', { now })).toEqual([
        { seq: 21, at: now, data: 'cap one' },
      ]);
    },
  },
  {
    group: 'logs',
    name: 'logs are separate per name and per session',
    async run(t) {
      const now = t.clock.now();
      const a = t.record();
      const b = t.record();
      await t.store.create(a, { now });
      await t.store.create(b, { now });
      await t.store.append(a.id, 'history', ['a-history'], { now });
      await t.store.append(a.id, 'events:s1', ['a-s1-1', 'a-s1-2'], { now });
      await t.store.append(b.id, 'history', ['b-history'], { now });
      expect((await t.store.append(a.id, 'events:s2', ['a-s2'], { now })).firstSeq).toBe(1);
      const data = async (id: string, log: string) =>
        (await t.store.read(id, log, { now })).map((e) => e.data);
      expect(await data(a.id, 'history')).toEqual(['a-history']);
      expect(await data(a.id, 'events:s1')).toEqual(['a-s1-1', 'a-s1-2']);
      expect(await data(a.id, 'events:s2')).toEqual(['a-s2']);
      expect(await data(b.id, 'history')).toEqual(['b-history']);
      expect(await data(b.id, 'events:s1')).toEqual([]);
    },
  },
  {
    group: 'logs',
    name: 'a log that was never written reads as empty',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      expect(
        await t.store.read(record.id, 'never-written', { now, order: 'desc', limit: 5 }),
      ).toEqual([]);
    },
  },
  {
    group: 'logs',
    name: 'append and read of an absent or expired session fail with SESSION_NOT_FOUND and write nothing',
    async run(t) {
      const now = t.clock.now();
      const absent = t.record();
      await expectCode(t.store.append(absent.id, 'history', [1], { now }), 'SESSION_NOT_FOUND');
      await expectCode(t.store.read(absent.id, 'history', { now }), 'SESSION_NOT_FOUND');
      await t.store.create(absent, { now });
      expect(await t.store.read(absent.id, 'history', { now })).toEqual([]);

      const expiring = t.record({ expiresAt: now + 50 });
      await t.store.create(expiring, { now });
      await t.store.append(expiring.id, 'history', ['kept'], { now });
      expect((await t.store.read(expiring.id, 'history', { now })).map((e) => e.data)).toEqual([
        'kept',
      ]);
      const later = t.clock.advance(50);
      await expectCode(
        t.store.append(expiring.id, 'history', ['late'], { now: later }),
        'SESSION_NOT_FOUND',
      );
      await expectCode(t.store.read(expiring.id, 'history', { now: later }), 'SESSION_NOT_FOUND');
    },
  },
  {
    group: 'logs',
    name: 'append and read honour the state and version guards',
    async run(t) {
      const now = t.clock.now();
      const record = t.record({ state: 'closed' });
      await t.store.create(record, { now });
      const error = await expectCode(
        t.store.append(record.id, 'history', ['x'], { now, expectedState: ['active', 'idle'] }),
        'VERSION_CONFLICT',
      );
      expect(error).toMatchObject({ guard: 'state', actualState: 'closed' });
      await expectCode(
        t.store.read(record.id, 'history', { now, expectedState: 'active' }),
        'VERSION_CONFLICT',
      );
      await expectCode(
        t.store.append(record.id, 'history', ['x'], { now, expectedVersion: 9 }),
        'VERSION_CONFLICT',
      );
      expect(await t.store.read(record.id, 'history', { now })).toEqual([]);
      expect(await t.store.get(record.id, { now })).toEqual(record);
    },
  },
  {
    group: 'logs',
    name: 'bad arguments fail with a typed error before anything is written',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      await expectCode(
        t.store.append(record.id, 'history', ['x'], { now, cap: 0 }),
        'INVALID_VALUE',
      );
      await expectCode(
        t.store.append(record.id, 'history', ['x'], { now, cap: 1.5 }),
        'INVALID_VALUE',
      );
      await expectCode(t.store.append(record.id, 'bad log name', ['x'], { now }), 'INVALID_VALUE');
      await expectCode(t.store.append(record.id, 'history', [], { now }), 'INVALID_VALUE');
      await expectCode(t.store.read(record.id, 'history', { now, limit: 0 }), 'INVALID_VALUE');
      await expectCode(t.store.get('has space', { now }), 'INVALID_ID');
      await expectCode(t.store.append('', 'history', ['x'], { now }), 'INVALID_ID');
      expect(await t.store.get(record.id, { now })).toEqual(record);
      expect(await t.store.read(record.id, 'history', { now })).toEqual([]);
    },
  },
];
