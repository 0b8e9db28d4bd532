import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';
import { range, seqRange, TRICKY_JSON } from './helpers.js';

export const durableCases: ConformanceCase[] = [
  {
    group: 'durable',
    name: 'everything survives close and reopen: records, context, logs, expiry, owners, seqs',
    requires: 'durable',
    async run(t) {
      const now = t.clock.now();
      const owned = t.record({
        owner: 'alice',
        state: 'idle',
        context: TRICKY_JSON,
        metadata: { m: 1 },
      });
      const expiring = t.record({ expiresAt: now + 100 });
      const forever = t.record({ expiresAt: null });
      for (const record of [owned, expiring, forever]) await t.store.create(record, { now });
      await t.store.append(
        owned.id,
        'history',
        range(5).map((i) => ({ i })),
        { now, cap: 3, countMessages: true },
      );
      await t.store.append(owned.id, 'events:s', ['e1'], { now });
      await t.store.update(owned.id, { contextSet: { later: true } }, { now });
      const before = await t.store.get(owned.id, { now });

      const store = await t.reopen();
      expect(await store.get(owned.id, { now })).toEqual(before);
      expect(await store.get(forever.id, { now })).toEqual(forever);
      expect((await store.read(owned.id, 'history', { now })).map((e) => e.seq)).toEqual(
        seqRange(3, 5),
      );
      expect((await store.read(owned.id, 'events:s', { now })).map((e) => e.data)).toEqual(['e1']);
      expect(
        (await store.list({ now, owner: 'alice', limit: 10 })).records.map((r) => r.id),
      ).toEqual([owned.id]);
      expect((await store.append(owned.id, 'history', ['next'], { now, cap: 3 })).firstSeq).toBe(6);
      const later = t.clock.advance(100);
      expect(await store.get(expiring.id, { now: later })).toBeNull();
      expect(await store.sweep(later)).toBe(1);
      expect(await store.stats(later)).toMatchObject({ total: 2, messages: 5 });
    },
  },
];
