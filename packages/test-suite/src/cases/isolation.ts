import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';
import { expectCode } from './helpers.js';

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

/**
 * Strings that SQL collations and careless normalizing treat as equal, though they are different
 * strings: trailing spaces (PAD SPACE collations, SQL Server's `=`), case (`_ci`, `NOCASE`), Unicode
 * normalization ("é" as one code point and as e + combining accent; nondeterministic ICU collations) and
 * case folding ("ß" and "ss").
 */
const LOOK_ALIKES = [
  'alice',
  'alice ',
  'alice  ',
  'Alice',
  'ALICE',
  'jos\u00e9',
  'jose\u0301',
  'JOS\u00c9',
  'stra\u00dfe',
  'strasse',
];

/** Log names (`A-Z a-z 0-9 _ . : -`, so no spaces) that differ only by case. */
const LOOK_ALIKE_LOGS = ['log', 'LOG', 'Log', 'history', 'History', 'HISTORY'];

/** A string for a failure message, non-ASCII escaped: "jos\u00e9" and "jose\u0301" look alike printed. */
function shown(text: string): string {
  return JSON.stringify(text).replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

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
  {
    group: 'isolation',
    name: 'owners that differ only by trailing spaces, case or Unicode normalization never see each other’s sessions',
    timeout: 60_000,
    async run(t) {
      const now = t.clock.now();
      const records = LOOK_ALIKES.map((owner) => t.record({ owner, context: { owner } }));
      for (const record of records) {
        await t.store.create(record, { now });
        const owner = record.owner as string;
        await t.store.append(record.id, 'history', [owner], { now, owner });
      }
      for (const record of records) {
        const owner = record.owner as string;
        for (const other of LOOK_ALIKES.filter((candidate) => candidate !== owner)) {
          const who = `owner ${shown(other)} on the session of ${shown(owner)}`;
          expect(await t.store.get(record.id, { now, owner: other }), who).toBeNull();
          for (const [primitive, call] of [
            [
              'update',
              () => t.store.update(record.id, { contextSet: { by: other } }, { now, owner: other }),
            ],
            ['append', () => t.store.append(record.id, 'history', [other], { now, owner: other })],
            [
              'replaceEntries',
              () =>
                t.store.replaceEntries(record.id, 'history', [{ seq: 1, value: other }], {
                  now,
                  owner: other,
                }),
            ],
            ['read', () => t.store.read(record.id, 'history', { now, owner: other })],
          ] as const) {
            await expectCode(call(), 'SESSION_NOT_FOUND').catch((failure: unknown) => {
              throw new Error(`${primitive} by ${who}: ${String(failure)}`);
            });
          }
        }
      }
      for (const record of records) {
        const owner = record.owner as string;
        expect(await t.store.get(record.id, { now, owner })).toEqual({ ...record, version: 2 });
        expect(await t.store.read(record.id, 'history', { now, owner })).toEqual([
          { seq: 1, at: now, data: owner },
        ]);
        const listed = await t.store.list({ now, owner, limit: 50 });
        expect(
          listed.records.map((r) => r.id),
          `list by owner ${shown(owner)}`,
        ).toEqual([record.id]);
      }
    },
  },
  {
    group: 'isolation',
    name: 'context keys that differ only by trailing spaces, case or Unicode normalization are separate keys',
    async run(t) {
      const now = t.clock.now();
      const initial = Object.fromEntries(LOOK_ALIKES.map((key, i) => [key, i]));
      const record = t.record({ context: initial });
      await t.store.create(record, { now });
      expect(
        (await t.store.get(record.id, { now }))?.context,
        'created with look-alike keys',
      ).toEqual(initial);
      const expected: Record<string, number> = { ...initial };
      for (const [i, key] of LOOK_ALIKES.entries()) {
        await t.store.update(record.id, { contextSet: { [key]: 100 + i } }, { now });
        expected[key] = 100 + i;
        expect(
          (await t.store.get(record.id, { now }))?.context,
          `after setting ${shown(key)}`,
        ).toEqual(expected);
      }
      for (const key of LOOK_ALIKES.filter((_, i) => i % 2 === 0)) {
        await t.store.update(record.id, { contextDelete: [key] }, { now });
        delete expected[key];
        expect(
          (await t.store.get(record.id, { now }))?.context,
          `after deleting ${shown(key)}`,
        ).toEqual(expected);
      }
      const replaced = await t.store.update(record.id, { context: initial }, { now });
      expect(replaced.context).toEqual(initial);
      const together = Object.fromEntries(LOOK_ALIKES.map((key, i) => [key, 200 + i]));
      expect((await t.store.update(record.id, { contextSet: together }, { now })).context).toEqual(
        together,
      );
      expect((await t.store.get(record.id, { now }))?.context).toEqual(together);
    },
  },
  {
    group: 'isolation',
    name: 'log names and storage ids that differ only by case are separate',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      for (const log of LOOK_ALIKE_LOGS) {
        expect((await t.store.append(record.id, log, [log, log], { now })).firstSeq, log).toBe(1);
      }
      for (const log of LOOK_ALIKE_LOGS) {
        expect(
          (await t.store.read(record.id, log, { now })).map((e) => e.data),
          log,
        ).toEqual([log, log]);
      }
      const base = t.record().id;
      const ids = [`session-${base}`, `SESSION-${base.toUpperCase()}`, `Session-${base}`];
      for (const [i, id] of ids.entries()) {
        await t.store.create(t.record({ id, context: { i } }), { now });
        await t.store.append(id, 'history', [i], { now });
      }
      for (const [i, id] of ids.entries()) {
        expect(await t.store.get(id, { now }), id).toMatchObject({ id, context: { i } });
        expect(
          (await t.store.read(id, 'history', { now })).map((e) => e.data),
          id,
        ).toEqual([i]);
      }
      const listed = await t.store.list({ now, limit: 10 });
      expect(listed.records.map((r) => r.id).filter((id) => ids.includes(id))).toEqual(
        [...ids].sort(),
      );
      expect(await t.store.delete(ids[0] as string)).toBe(true);
      for (const [i, id] of ids.entries()) {
        if (i > 0) expect(await t.store.get(id, { now }), id).toMatchObject({ context: { i } });
      }
    },
  },
];
