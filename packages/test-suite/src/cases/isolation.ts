import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';

/** Ids that share prefixes or contain characters with a meaning in keys, paths or patterns. */
const AWKWARD_IDS = [
  'abc',
  'abcd',
  'abc:history',
  'abc:log:history',
  'ABC',
  '../../etc/passwd',
  '..',
  'a/b\\c',
  '{abc}',
  'a*b?c[d]',
  '%2e%2e%2f',
  'quote\'"`',
  'x'.repeat(256),
];

export const isolationCases: ConformanceCase[] = [
  {
    group: 'isolation',
    name: 'context, logs and deletion of one session never touch another',
    async run(t) {
      const now = t.clock.now();
      const a = t.record({ context: { who: 'a' } });
      const b = t.record({ context: { who: 'b' } });
      await t.store.create(a, { now });
      await t.store.create(b, { now });
      await t.store.update(a.id, { contextSet: { only: 'a' }, state: 'idle' }, { now });
      await t.store.append(a.id, 'history', ['a1', 'a2'], { now, cap: 1, countMessages: true });
      expect(await t.store.get(b.id, { now })).toEqual(b);
      expect(await t.store.read(b.id, 'history', { now })).toEqual([]);
      await t.store.delete(a.id);
      expect(await t.store.get(b.id, { now })).toEqual(b);
    },
  },
  {
    group: 'isolation',
    name: 'ids that share prefixes or contain special characters are distinct, safe keys',
    async run(t) {
      const now = t.clock.now();
      for (const [i, id] of AWKWARD_IDS.entries()) {
        await t.store.create(t.record({ id, context: { i } }), { now });
        await t.store.append(id, 'history', [{ i }], { now });
      }
      for (const [i, id] of AWKWARD_IDS.entries()) {
        expect(await t.store.get(id, { now })).toMatchObject({ id, context: { i } });
        expect((await t.store.read(id, 'history', { now })).map((e) => e.data)).toEqual([{ i }]);
      }
      const listed = [];
      let cursor: string | null = null;
      do {
        const page = await t.store.list({ now, limit: 4, cursor });
        listed.push(...page.records.map((r) => r.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      // Listing order is plain code-unit order (SQL: a binary collation), the same order cursors compare in.
      expect(listed).toEqual([...AWKWARD_IDS].sort());
      expect(await t.store.delete('abc')).toBe(true);
      for (const id of AWKWARD_IDS.filter((id) => id !== 'abc')) {
        expect(await t.store.get(id, { now })).not.toBeNull();
        expect(await t.store.read(id, 'history', { now })).toHaveLength(1);
      }
    },
  },
];
