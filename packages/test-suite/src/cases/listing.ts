import type { SessionRecord } from '@mcp-session/core';
import { expect } from 'vitest';
import type { CaseContext, ConformanceCase } from '../types.js';
import { expectCode, range } from './helpers.js';

async function listAll(
  t: CaseContext,
  options: { state?: SessionRecord['state']; owner?: string; limit: number },
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await t.store.list({ now: t.clock.now(), ...options, cursor });
    expect(page.records.length).toBeLessThanOrEqual(options.limit);
    ids.push(...page.records.map((r) => r.id));
    cursor = page.nextCursor;
    pages++;
    expect(pages, 'list never reaches its last page').toBeLessThan(1_000);
  } while (cursor !== null);
  return { ids, pages };
}

export const listingCases: ConformanceCase[] = [
  {
    group: 'listing',
    name: 'cursor paging visits every live record exactly once, ordered by id',
    async run(t) {
      const now = t.clock.now();
      const records = range(23).map(() => t.record());
      for (const record of records) await t.store.create(record, { now });
      const { ids, pages } = await listAll(t, { limit: 5 });
      expect(ids).toEqual(records.map((r) => r.id).sort());
      expect(pages).toBeGreaterThanOrEqual(5);
      const [first] = (await t.store.list({ now, limit: 1 })).records;
      expect(first).toEqual(records.find((r) => r.id === ids[0]));
    },
  },
  {
    group: 'listing',
    name: 'filters by state, by owner, and by both',
    async run(t) {
      const now = t.clock.now();
      const alice = range(6).map((i) =>
        t.record({ owner: 'alice', state: i % 2 === 0 ? 'active' : 'idle' }),
      );
      const bob = range(4).map(() => t.record({ owner: 'bob', state: 'idle' }));
      const unbound = range(3).map(() => t.record({ owner: null, state: 'active' }));
      for (const record of [...alice, ...bob, ...unbound]) await t.store.create(record, { now });
      const sorted = (records: SessionRecord[]) => records.map((r) => r.id).sort();
      expect((await listAll(t, { owner: 'alice', limit: 2 })).ids).toEqual(sorted(alice));
      expect((await listAll(t, { owner: 'bob', limit: 50 })).ids).toEqual(sorted(bob));
      expect((await listAll(t, { owner: 'carol', limit: 50 })).ids).toEqual([]);
      expect((await listAll(t, { state: 'idle', limit: 3 })).ids).toEqual(
        sorted([...alice.filter((r) => r.state === 'idle'), ...bob]),
      );
      expect((await listAll(t, { state: 'active', owner: 'alice', limit: 2 })).ids).toEqual(
        sorted(alice.filter((r) => r.state === 'active')),
      );
      expect((await listAll(t, { state: 'closed', limit: 10 })).ids).toEqual([]);
    },
  },
  {
    group: 'listing',
    name: 'expired records are never listed',
    async run(t) {
      const now = t.clock.now();
      const expiring = t.record({ owner: 'alice', expiresAt: now + 10 });
      const lasting = t.record({ owner: 'alice', expiresAt: null });
      await t.store.create(expiring, { now });
      await t.store.create(lasting, { now });
      t.clock.advance(10);
      expect((await listAll(t, { limit: 10 })).ids).toEqual([lasting.id]);
      expect((await listAll(t, { owner: 'alice', limit: 10 })).ids).toEqual([lasting.id]);
    },
  },
  {
    group: 'listing',
    name: 'an empty store lists nothing; a malformed cursor is a typed error',
    async run(t) {
      expect(await t.store.list({ now: t.clock.now(), limit: 10 })).toEqual({
        records: [],
        nextCursor: null,
      });
      await expectCode(
        t.store.list({ now: t.clock.now(), limit: 10, cursor: '%%%not a cursor' }),
        'INVALID_VALUE',
      );
      await expectCode(t.store.list({ now: t.clock.now(), limit: 0 }), 'INVALID_VALUE');
    },
  },
  {
    group: 'listing',
    name: 'records deleted or created between pages never cause duplicates',
    async run(t) {
      const now = t.clock.now();
      const records = range(10).map(() => t.record());
      for (const record of records) await t.store.create(record, { now });
      const first = await t.store.list({ now, limit: 4 });
      const seen = first.records.map((r) => r.id);
      const sorted = records.map((r) => r.id).sort();
      await t.store.delete(sorted[5] as string);
      const added = t.record();
      await t.store.create(added, { now });
      let cursor = first.nextCursor;
      while (cursor !== null) {
        const page = await t.store.list({ now, limit: 4, cursor });
        seen.push(...page.records.map((r) => r.id));
        cursor = page.nextCursor;
      }
      expect(new Set(seen).size).toBe(seen.length);
      for (const id of sorted) if (id !== sorted[5]) expect(seen).toContain(id);
      expect(seen).not.toContain(sorted[5]);
    },
  },
];
