import type {
  JsonValue,
  LogEntry,
  ReplacementEntry,
  SessionRecord,
  SessionStore,
} from '@mcp-session/core';
import { expect } from 'vitest';
import type { CaseContext, ConformanceCase } from '../types.js';
import { NOT_JSON, nested } from './bad-values.js';
import { expectCode, range, seqRange, TRICKY_JSON } from './helpers.js';

/** A value the types forbid, passed as a caller without types would. */
const untyped = <T>(value: unknown) => value as T;

/** A session with a history of `count` entries appended at `at`, `{ n: seq }` each, after `create`. */
async function withHistory(
  t: CaseContext,
  count: number,
  overrides: Partial<SessionRecord> = {},
): Promise<{ record: SessionRecord; at: number }> {
  const at = t.clock.now();
  const record = t.record(overrides);
  await t.store.create(record, { now: at });
  await t.store.append(
    record.id,
    'history',
    range(count).map((i) => ({ n: i + 1 })),
    { now: at, countMessages: true, owner: record.owner },
  );
  return { record: (await t.store.get(record.id, { now: at })) as SessionRecord, at };
}

/** The record and every log entry of a session, as a caller with access sees them. */
async function snapshot(store: SessionStore, record: SessionRecord, now: number) {
  return {
    record: await store.get(record.id, { now }),
    history: await store.read(record.id, 'history', { now }),
  };
}

/**
 * Malformed batches, each with a well-formed entry first: a store that writes the good part before it
 * notices the bad one fails the "nothing written" check.
 */
function malformedBatches(): [what: string, batch: unknown][] {
  const good = { seq: 1, value: 'replaced' };
  const forms: [string, unknown][] = [
    ['null', null],
    ['a string', 'x'],
    ['an object', { 0: good }],
    ['an entry that is null', [good, null]],
    ['an entry that is a number', [good, 2]],
    ['an entry that is an array', [good, [2, 'x']]],
    ['seq 0', [good, { seq: 0, value: 1 }]],
    ['seq -1', [good, { seq: -1, value: 1 }]],
    ['seq 1.5', [good, { seq: 1.5, value: 1 }]],
    ['seq NaN', [good, { seq: Number.NaN, value: 1 }]],
    ['seq 2^53', [good, { seq: 2 ** 53, value: 1 }]],
    ['seq "2"', [good, { seq: '2', value: 1 }]],
    ['no seq', [good, { value: 1 }]],
    ['the same seq twice', [good, { seq: 2, value: 1 }, { seq: 2, value: 2 }]],
    ['no value', [good, { seq: 2 }]],
    ['value undefined', [good, { seq: 2, value: undefined }]],
    ['a value nested 1001 deep', [good, { seq: 2, value: nested(1_001) }]],
  ];
  for (const [why, make] of NOT_JSON)
    forms.push([`a value with ${why}`, [good, { seq: 2, value: make() }]]);
  return forms;
}

export const replaceEntriesCases: ConformanceCase[] = [
  {
    group: 'replaceEntries',
    name: 'replaced entries read back with their seq and at; the others are untouched',
    async run(t) {
      const { record, at } = await withHistory(t, 5);
      const now = t.clock.advance(1_000);
      const result = await t.store.replaceEntries(
        record.id,
        'history',
        [
          { seq: 4, value: TRICKY_JSON },
          { seq: 2, value: 'two' },
          { seq: 5, value: null },
        ],
        { now },
      );
      expect(result).toEqual({ replaced: 3, version: record.version + 1 });
      expect(await t.store.read(record.id, 'history', { now })).toEqual([
        { seq: 1, at, data: { n: 1 } },
        { seq: 2, at, data: 'two' },
        { seq: 3, at, data: { n: 3 } },
        { seq: 4, at, data: TRICKY_JSON },
        { seq: 5, at, data: null },
      ]);
      // Pages and the newest-first order see the new values too.
      expect(await t.store.read(record.id, 'history', { now, order: 'desc', limit: 2 })).toEqual([
        { seq: 5, at, data: null },
        { seq: 4, at, data: TRICKY_JSON },
      ]);
      // A later append continues after the last seq, as if nothing had happened.
      expect(await t.store.append(record.id, 'history', ['six'], { now })).toMatchObject({
        firstSeq: 6,
        lastSeq: 6,
      });
    },
  },
  {
    group: 'replaceEntries',
    name: 'only the version changes: messageCount, lastActivityAt, expiresAt, context and state stay',
    async run(t) {
      const { record } = await withHistory(t, 3, {
        context: { plan: 'pro' },
        metadata: { client: 'x' },
        owner: 'alice',
        state: 'idle',
      });
      const now = t.clock.advance(60_000);
      await t.store.replaceEntries(record.id, 'history', [{ seq: 1, value: 'new' }], {
        now,
        owner: 'alice',
      });
      expect(await t.store.get(record.id, { now })).toEqual({
        ...record,
        version: record.version + 1,
      });
      expect((await t.store.stats(now)).messages).toBe(3);
    },
  },
  {
    group: 'replaceEntries',
    name: 'seqs trimmed by the cap or never appended are skipped; version moves only when something was replaced',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      await t.store.append(
        record.id,
        'history',
        range(10).map((i) => i + 1),
        { now, cap: 4 },
      );
      // Retained: 7..10. 3 was trimmed, 11 and 99 were never there.
      const skipped = await t.store.replaceEntries(
        record.id,
        'history',
        [3, 11, 99].map((seq) => ({ seq, value: 'x' })),
        { now },
      );
      expect(skipped).toEqual({ replaced: 0, version: 2 });
      expect(await t.store.get(record.id, { now })).toMatchObject({ version: 2 });

      const mixed = await t.store.replaceEntries(
        record.id,
        'history',
        [6, 7, 10, 11].map((seq) => ({ seq, value: `r${seq}` })),
        { now },
      );
      expect(mixed).toEqual({ replaced: 2, version: 3 });
      expect((await t.store.read(record.id, 'history', { now })).map((e) => e.data)).toEqual([
        'r7',
        8,
        9,
        'r10',
      ]);

      expect(await t.store.replaceEntries(record.id, 'history', [], { now })).toEqual({
        replaced: 0,
        version: 3,
      });
      expect(
        await t.store.replaceEntries(record.id, 'never-written', [{ seq: 1, value: 1 }], { now }),
      ).toEqual({ replaced: 0, version: 3 });
      expect(await t.store.read(record.id, 'never-written', { now })).toEqual([]);
      expect(await t.store.get(record.id, { now })).toMatchObject({ version: 3 });
    },
  },
  {
    group: 'replaceEntries',
    name: 'a replacement changes one log of one session only',
    async run(t) {
      const now = t.clock.now();
      const a = t.record();
      const b = t.record();
      for (const record of [a, b]) {
        await t.store.create(record, { now });
        for (const log of ['history', 'events:1']) {
          await t.store.append(record.id, log, [`${log}-1`, `${log}-2`], { now });
        }
      }
      await t.store.replaceEntries(a.id, 'history', [{ seq: 1, value: 'secret of a' }], { now });
      const data = async (id: string, log: string) =>
        (await t.store.read(id, log, { now })).map((e) => e.data);
      expect(await data(a.id, 'history')).toEqual(['secret of a', 'history-2']);
      expect(await data(a.id, 'events:1')).toEqual(['events:1-1', 'events:1-2']);
      expect(await data(b.id, 'history')).toEqual(['history-1', 'history-2']);
      expect(await data(b.id, 'events:1')).toEqual(['events:1-1', 'events:1-2']);
      expect(await t.store.get(b.id, { now })).toMatchObject({ version: 3 });
    },
  },
  {
    group: 'replaceEntries',
    name: 'a foreign owner, a missing id and an expired session all get SESSION_NOT_FOUND and change nothing',
    async run(t) {
      const { record } = await withHistory(t, 2, {
        owner: 'alice',
        expiresAt: t.clock.now() + 100,
      });
      const now = t.clock.now();
      const before = await snapshot(t.store, record, now);
      const batch = [{ seq: 1, value: 'intruder' }];
      await expectCode(
        t.store.replaceEntries(record.id, 'history', batch, { now, owner: 'mallory' }),
        'SESSION_NOT_FOUND',
      );
      await expectCode(
        t.store.replaceEntries(record.id, 'history', batch, { now, owner: null }),
        'SESSION_NOT_FOUND',
      );
      // A foreign owner's version guard must not tell a stale version from a missing session.
      await expectCode(
        t.store.replaceEntries(record.id, 'history', batch, {
          now,
          owner: 'mallory',
          expectedVersion: record.version + 5,
        }),
        'SESSION_NOT_FOUND',
      );
      await expectCode(
        t.store.replaceEntries(t.record().id, 'history', batch, { now }),
        'SESSION_NOT_FOUND',
      );
      expect(await snapshot(t.store, record, now)).toEqual(before);

      // Its owner, and a caller without an owner guard, may.
      await t.store.replaceEntries(record.id, 'history', [{ seq: 1, value: 'alice' }], {
        now,
        owner: 'alice',
      });
      await t.store.replaceEntries(record.id, 'history', [{ seq: 2, value: 'operator' }], { now });
      expect((await t.store.read(record.id, 'history', { now })).map((e) => e.data)).toEqual([
        'alice',
        'operator',
      ]);

      const later = t.clock.advance(100);
      await expectCode(
        t.store.replaceEntries(record.id, 'history', batch, { now: later }),
        'SESSION_NOT_FOUND',
      );
    },
  },
  {
    group: 'replaceEntries',
    name: 'an unbound session is replaced under any owner guard, as update allows',
    async run(t) {
      const { record } = await withHistory(t, 1);
      const now = t.clock.now();
      expect(
        await t.store.replaceEntries(record.id, 'history', [{ seq: 1, value: 'x' }], {
          now,
          owner: 'anyone',
        }),
      ).toEqual({ replaced: 1, version: record.version + 1 });
    },
  },
  {
    group: 'replaceEntries',
    name: 'a stale expectedVersion or a wrong expectedState gets VERSION_CONFLICT and changes nothing',
    async run(t) {
      const { record } = await withHistory(t, 2, { state: 'suspended' });
      const now = t.clock.now();
      const before = await snapshot(t.store, record, now);
      const batch = [{ seq: 1, value: 'x' }];
      const stale = await expectCode(
        t.store.replaceEntries(record.id, 'history', batch, {
          now,
          expectedVersion: record.version - 1,
        }),
        'VERSION_CONFLICT',
      );
      expect(stale).toMatchObject({ guard: 'version', actualVersion: record.version });
      const wrongState = await expectCode(
        t.store.replaceEntries(record.id, 'history', batch, {
          now,
          expectedState: ['active', 'idle'],
        }),
        'VERSION_CONFLICT',
      );
      expect(wrongState).toMatchObject({ guard: 'state', actualState: 'suspended' });
      expect(await snapshot(t.store, record, now)).toEqual(before);
      expect(
        await t.store.replaceEntries(record.id, 'history', batch, {
          now,
          expectedVersion: record.version,
          expectedState: 'suspended',
        }),
      ).toEqual({ replaced: 1, version: record.version + 1 });
    },
  },
  {
    group: 'replaceEntries',
    name: 'every malformed batch fails with INVALID_VALUE and writes nothing',
    async run(t) {
      const { record } = await withHistory(t, 3);
      const now = t.clock.now();
      const before = await snapshot(t.store, record, now);
      for (const [what, batch] of malformedBatches()) {
        await expectCode(
          Promise.resolve(t.store).then((store) =>
            store.replaceEntries(record.id, 'history', untyped(batch), { now }),
          ),
          'INVALID_VALUE',
        ).catch((failure: unknown) => {
          throw new Error(`a batch with ${what}: ${String(failure)}`);
        });
      }
      expect(await snapshot(t.store, record, now), 'a refused batch wrote something').toEqual(
        before,
      );
    },
  },
  {
    group: 'replaceEntries',
    name: 'values are copies: changing the batch during or after the call changes nothing stored',
    async run(t) {
      const { record } = await withHistory(t, 2);
      const now = t.clock.now();
      const value = { text: 'original', list: [1, 2] };
      const batch: ReplacementEntry[] = [{ seq: 1, value }];
      const pending = t.store.replaceEntries(record.id, 'history', batch, { now });
      // Changed while the store may still be waiting for a lock or a connection.
      value.text = 'changed while pending';
      batch[0] = { seq: 2, value: 'swapped in' };
      await pending;
      value.list.push(3);
      const read = await t.store.read(record.id, 'history', { now });
      expect(read.map((e) => e.data)).toEqual([{ text: 'original', list: [1, 2] }, { n: 2 }]);
      (read[0]?.data as { text: string }).text = 'changed result';
      expect((await t.store.read(record.id, 'history', { now }))[0]?.data).toEqual({
        text: 'original',
        list: [1, 2],
      });
    },
  },
  {
    group: 'replaceEntries',
    name: 'replacements racing capped appends from two instances keep every invariant',
    timeout: 120_000,
    async run(t) {
      const stores = [t.store];
      stores.push(t.store.capabilities.sharedAcrossProcesses ? await t.openAnother() : t.store);
      const [replacer, appender] = stores as [SessionStore, SessionStore];
      const cap = 20;
      const start = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now: start });
      /** What each seq was appended with, and when. */
      const appended = new Map<number, { at: number; data: JsonValue }>();
      const append = async (round: number) => {
        const at = start + round;
        const batch = range(3).map((i) => ({ round, i }));
        const result = await appender.append(record.id, 'history', batch, {
          now: at,
          cap,
          countMessages: true,
        });
        for (const seq of seqRange(result.firstSeq, result.lastSeq)) {
          appended.set(seq, { at, data: batch[seq - result.firstSeq] as JsonValue });
        }
      };
      const replacement = (seq: number): JsonValue => ({ replaced: seq });
      let replacing = 0;
      const replace = async () => {
        const seen = await replacer.read(record.id, 'history', { now: start });
        const result = await replacer.replaceEntries(
          record.id,
          'history',
          seen.map((entry) => ({ seq: entry.seq, value: replacement(entry.seq) })),
          { now: start },
        );
        expect(result.replaced).toBeLessThanOrEqual(seen.length);
        if (result.replaced > 0) replacing++;
      };
      await append(0);
      // Chains of calls, so that appends keep arriving while each replacement is under way.
      const chains = 2;
      const rounds = 20;
      await Promise.all([
        ...range(chains).map(async (chain) => {
          for (const round of range(rounds)) await append(1 + chain * rounds + round);
        }),
        ...range(chains).map(async () => {
          for (const _ of range(rounds)) await replace();
        }),
      ]);

      const entries: LogEntry[] = await t.store.read(record.id, 'history', { now: start });
      const lastSeq = 3 * (chains * rounds + 1);
      expect(
        entries.map((e) => e.seq),
        'seqs contiguous, none lost or repeated',
      ).toEqual(seqRange(lastSeq - cap + 1, lastSeq));
      for (const entry of entries) {
        const original = appended.get(entry.seq);
        expect(entry.at, `at of seq ${entry.seq}`).toBe(original?.at);
        expect(
          [original?.data, replacement(entry.seq)],
          `seq ${entry.seq} holds its appended value or its replacement`,
        ).toContainEqual(entry.data);
      }
      expect(await t.store.get(record.id, { now: start })).toMatchObject({
        messageCount: lastSeq,
        version: 1 + (chains * rounds + 1) + replacing,
      });
    },
  },
];
