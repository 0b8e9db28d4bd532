import type { SessionErrorCode, SessionRecord, SessionStore } from '@mcp-session/core';
import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';
import { NOT_JSON, nested } from './bad-values.js';
import { expectCode } from './helpers.js';

/** One call a store must refuse: what it is, the call, the code it must fail with. */
type Refusal = [
  what: string,
  call: (store: SessionStore) => Promise<unknown>,
  code: SessionErrorCode,
];

type Labelled = readonly [label: string, value: unknown];

const BAD_IDS: Labelled[] = [
  ['""', ''],
  ['with a space', 'has space'],
  ['with a tab', 'tab\there'],
  ['with DEL (0x7F)', 'del\u007fhere'],
  ['with a non-ASCII letter', 'é-accent'],
  ['of 257 characters', 'x'.repeat(257)],
  ['42', 42],
  ['null', null],
];

const BAD_LOGS: Labelled[] = [
  ['""', ''],
  ['with a space', 'no spaces'],
  ['with a slash', 'a/b'],
  ['with a non-ASCII letter', 'journal-é'],
  ['of 129 characters', 'x'.repeat(129)],
  ['7', 7],
];

/** Not epoch milliseconds. */
const BAD_TIMES: Labelled[] = [
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['1.5', 1.5],
  ['2^53', 2 ** 53],
  ['"1"', '1'],
  ['undefined', undefined],
];

/** Bad `owner` guards (null and undefined are fine: an unbound caller, and no guard). */
const BAD_OWNERS: Labelled[] = [
  ['""', ''],
  ['with NUL', 'a\u0000b'],
  ['with a lone surrogate', 'a\ud800b'],
  ['42', 42],
];

const BAD_POSITIVE: Labelled[] = [
  ['0', 0],
  ['-1', -1],
  ['1.5', 1.5],
  ['NaN', Number.NaN],
  ['"5"', '5'],
];

const BAD_SEQS: Labelled[] = [
  ['-1', -1],
  ['1.5', 1.5],
  ['NaN', Number.NaN],
  ['"2"', '2'],
];

const BAD_STATES: Labelled[] = [
  ['"gone"', 'gone'],
  ['"ACTIVE"', 'ACTIVE'],
  ['""', ''],
  ['3', 3],
];

/** `touch` objects that are not `{ at, idleTimeoutMs, maxLifetimeMs }` with times and durations. */
function badTouches(now: number): Labelled[] {
  return [
    ['null', null],
    ['"soon"', 'soon'],
    ['with at NaN', { at: Number.NaN, idleTimeoutMs: 1_000, maxLifetimeMs: null }],
    ['with at 1.5', { at: 1.5, idleTimeoutMs: 1_000, maxLifetimeMs: null }],
    ['with idleTimeoutMs -1', { at: now, idleTimeoutMs: -1, maxLifetimeMs: null }],
    ['with idleTimeoutMs 1.5', { at: now, idleTimeoutMs: 1.5, maxLifetimeMs: null }],
    ['with maxLifetimeMs NaN', { at: now, idleTimeoutMs: null, maxLifetimeMs: Number.NaN }],
    ['without its durations', { at: now }],
  ];
}

/** Values a store must refuse as JSON: not plain JSON, or nested deeper than 1000. */
const BAD_JSON: Labelled[] = [
  ...NOT_JSON.map(([why, make]): Labelled => [why, make()]),
  ['nested 1001 deep', nested(1_001)],
];

/** A value the types forbid, passed as a caller without types would. */
const untyped = <T>(value: unknown) => value as T;

/**
 * Every bad input of the table in `@mcp-session/core`'s `store-args.ts`, as direct calls of the store's
 * primitives. `id` names a live record owned by "alice" with a history; `fresh` is a valid record that is
 * never stored.
 */
function refusals(id: string, fresh: SessionRecord, now: number): Refusal[] {
  const list: Refusal[] = [];
  const add = (what: string, call: Refusal[1], code: SessionErrorCode = 'INVALID_VALUE') =>
    list.push([what, call, code]);
  const each = (values: readonly Labelled[], make: (label: string, value: unknown) => void) => {
    for (const [label, value] of values) make(label, value);
  };

  each(BAD_IDS, (label, bad) => {
    const badId = untyped<string>(bad);
    add(
      `create: record.id ${label}`,
      (s) => s.create({ ...fresh, id: badId }, { now }),
      'INVALID_ID',
    );
    add(`get: id ${label}`, (s) => s.get(badId, { now }), 'INVALID_ID');
    add(`update: id ${label}`, (s) => s.update(badId, { state: 'idle' }, { now }), 'INVALID_ID');
    add(`append: id ${label}`, (s) => s.append(badId, 'history', ['x'], { now }), 'INVALID_ID');
    add(`read: id ${label}`, (s) => s.read(badId, 'history', { now }), 'INVALID_ID');
    add(
      `replaceEntries: id ${label}`,
      (s) => s.replaceEntries(badId, 'history', [{ seq: 1, value: 'x' }], { now }),
      'INVALID_ID',
    );
    add(`delete: id ${label}`, (s) => s.delete(badId), 'INVALID_ID');
  });
  add(
    'create: a record without id',
    (s) => s.create(untyped({ ...fresh, id: undefined }), { now }),
    'INVALID_ID',
  );

  each(BAD_LOGS, (label, bad) => {
    const log = untyped<string>(bad);
    add(`append: log ${label}`, (s) => s.append(id, log, ['x'], { now }));
    add(`read: log ${label}`, (s) => s.read(id, log, { now }));
    add(`replaceEntries: log ${label}`, (s) =>
      s.replaceEntries(id, log, [{ seq: 1, value: 'x' }], { now }),
    );
  });

  each(BAD_TIMES, (label, bad) => {
    const time = untyped<number>(bad);
    add(`create: now ${label}`, (s) => s.create(fresh, { now: time }));
    add(`get: now ${label}`, (s) => s.get(id, { now: time }));
    add(`update: now ${label}`, (s) => s.update(id, { state: 'idle' }, { now: time }));
    add(`append: now ${label}`, (s) => s.append(id, 'history', ['x'], { now: time }));
    add(`read: now ${label}`, (s) => s.read(id, 'history', { now: time }));
    add(`replaceEntries: now ${label}`, (s) =>
      s.replaceEntries(id, 'history', [{ seq: 1, value: 'x' }], { now: time }),
    );
    add(`list: now ${label}`, (s) => s.list({ now: time, limit: 10 }));
    add(`count: now ${label}`, (s) => s.count({ now: time }));
    add(`sweep: now ${label}`, (s) => s.sweep(time));
    add(`stats: now ${label}`, (s) => s.stats(time));
    for (const field of ['createdAt', 'lastActivityAt', 'expiresAt'] as const) {
      add(`create: record.${field} ${label}`, (s) =>
        s.create({ ...fresh, [field]: time }, { now }),
      );
    }
    // In a change, undefined leaves a field alone.
    if (bad !== undefined) {
      add(`update: lastActivityAt ${label}`, (s) =>
        s.update(id, { lastActivityAt: time }, { now }),
      );
      add(`update: expiresAt ${label}`, (s) => s.update(id, { expiresAt: time }, { now }));
    }
  });

  each(BAD_OWNERS, (label, bad) => {
    const owner = untyped<string>(bad);
    add(`create: record.owner ${label}`, (s) => s.create({ ...fresh, owner }, { now }));
    add(`get: owner ${label}`, (s) => s.get(id, { now, owner }));
    add(`update: owner ${label}`, (s) => s.update(id, { state: 'idle' }, { now, owner }));
    add(`append: owner ${label}`, (s) => s.append(id, 'history', ['x'], { now, owner }));
    add(`read: owner ${label}`, (s) => s.read(id, 'history', { now, owner }));
    add(`replaceEntries: owner ${label}`, (s) =>
      s.replaceEntries(id, 'history', [{ seq: 1, value: 'x' }], { now, owner }),
    );
    add(`list: owner ${label}`, (s) => s.list({ now, limit: 10, owner }));
    add(`count: owner ${label}`, (s) => s.count({ now, owner }));
  });
  add('create: record.owner undefined', (s) =>
    s.create(untyped({ ...fresh, owner: undefined }), { now }),
  );
  add('list: owner null', (s) => s.list({ now, limit: 10, owner: untyped(null) }));
  add('count: owner null', (s) => s.count({ now, owner: untyped(null) }));

  each(BAD_POSITIVE, (label, bad) => {
    const positive = untyped<number>(bad);
    add(`update: expectedVersion ${label}`, (s) =>
      s.update(id, { state: 'idle' }, { now, expectedVersion: positive }),
    );
    add(`append: expectedVersion ${label}`, (s) =>
      s.append(id, 'history', ['x'], { now, expectedVersion: positive }),
    );
    add(`read: expectedVersion ${label}`, (s) =>
      s.read(id, 'history', { now, expectedVersion: positive }),
    );
    add(`replaceEntries: expectedVersion ${label}`, (s) =>
      s.replaceEntries(id, 'history', [{ seq: 1, value: 'x' }], {
        now,
        expectedVersion: positive,
      }),
    );
    add(`replaceEntries: seq ${label}`, (s) =>
      s.replaceEntries(id, 'history', [{ seq: positive, value: 'x' }], { now }),
    );
    add(`update: maxContextBytes ${label}`, (s) =>
      s.update(id, { contextSet: { k: 1 } }, { now, maxContextBytes: positive }),
    );
    add(`append: cap ${label}`, (s) => s.append(id, 'history', ['x'], { now, cap: positive }));
    add(`read: limit ${label}`, (s) => s.read(id, 'history', { now, limit: positive }));
    add(`sweep: limit ${label}`, (s) => s.sweep(now, { limit: positive }));
    add(`list: limit ${label}`, (s) => s.list({ now, limit: positive }));
    add(`create: record.version ${label}`, (s) =>
      s.create({ ...fresh, version: positive }, { now }),
    );
  });
  add('list: no limit', (s) => s.list(untyped({ now })));
  add('create: record.messageCount -1', (s) => s.create({ ...fresh, messageCount: -1 }, { now }));
  add('create: record.messageCount 1.5', (s) => s.create({ ...fresh, messageCount: 1.5 }, { now }));

  each(BAD_STATES, (label, bad) => {
    const state = untyped<SessionRecord['state']>(bad);
    add(`update: expectedState ${label}`, (s) =>
      s.update(id, { state: 'idle' }, { now, expectedState: state }),
    );
    add(`update: expectedState [active, ${label}]`, (s) =>
      s.update(id, { state: 'idle' }, { now, expectedState: ['active', state] }),
    );
    add(`append: expectedState ${label}`, (s) =>
      s.append(id, 'history', ['x'], { now, expectedState: state }),
    );
    add(`read: expectedState ${label}`, (s) =>
      s.read(id, 'history', { now, expectedState: state }),
    );
    add(`replaceEntries: expectedState ${label}`, (s) =>
      s.replaceEntries(id, 'history', [{ seq: 1, value: 'x' }], { now, expectedState: state }),
    );
    add(`update: state ${label}`, (s) => s.update(id, { state }, { now }));
    add(`create: record.state ${label}`, (s) => s.create({ ...fresh, state }, { now }));
    add(`list: state ${label}`, (s) => s.list({ now, limit: 10, state }));
    add(`count: states [active, ${label}]`, (s) => s.count({ now, states: ['active', state] }));
  });
  add('count: states []', (s) => s.count({ now, states: [] }));
  add('count: states "active"', (s) => s.count({ now, states: untyped('active') }));

  each(BAD_SEQS, (label, bad) => {
    const seq = untyped<number>(bad);
    add(`read: afterSeq ${label}`, (s) => s.read(id, 'history', { now, afterSeq: seq }));
    add(`read: beforeSeq ${label}`, (s) => s.read(id, 'history', { now, beforeSeq: seq }));
  });
  for (const order of ['up', 'DESC']) {
    add(`read: order "${order}"`, (s) => s.read(id, 'history', { now, order: untyped(order) }));
  }

  each(badTouches(now), (label, bad) => {
    const touch = untyped<never>(bad);
    add(`update: touch ${label}`, (s) => s.update(id, { touch }, { now }));
    add(`append: touch ${label}`, (s) => s.append(id, 'history', ['x'], { now, touch }));
  });
  add('append: countMessages "yes"', (s) =>
    s.append(id, 'history', ['x'], { now, countMessages: untyped('yes') }),
  );

  each(BAD_JSON, (label, bad) => {
    add(`create: record.context with ${label}`, (s) =>
      s.create({ ...fresh, context: { bad: untyped(bad) } }, { now }),
    );
    add(`create: record.metadata with ${label}`, (s) =>
      s.create({ ...fresh, metadata: { bad: untyped(bad) } }, { now }),
    );
    add(`update: context with ${label}`, (s) =>
      s.update(id, { context: { bad: untyped(bad) } }, { now }),
    );
    add(`update: metadata with ${label}`, (s) =>
      s.update(id, { metadata: { bad: untyped(bad) } }, { now }),
    );
    add(`update: contextSet value with ${label}`, (s) =>
      s.update(id, { contextSet: { bad: untyped(bad) } }, { now }),
    );
    add(`append: an entry with ${label}`, (s) => s.append(id, 'history', [untyped(bad)], { now }));
    add(`replaceEntries: a value with ${label}`, (s) =>
      s.replaceEntries(id, 'history', [{ seq: 1, value: untyped(bad) }], { now }),
    );
    add(`create: an imported log entry with ${label}`, (s) =>
      s.create(fresh, { now, logs: { history: [{ seq: 1, at: now, data: untyped(bad) }] } }),
    );
  });

  const notObjects: Labelled[] = [
    ['null', null],
    ['an array', []],
    ['a string', 'x'],
  ];
  each(notObjects, (label, bad) => {
    add(`create: record ${label}`, (s) => s.create(untyped(bad), { now }));
    add(`create: record.context ${label}`, (s) =>
      s.create({ ...fresh, context: untyped(bad) }, { now }),
    );
    add(`create: record.metadata ${label}`, (s) =>
      s.create({ ...fresh, metadata: untyped(bad) }, { now }),
    );
    add(`update: change ${label}`, (s) => s.update(id, untyped(bad), { now }));
    add(`update: context ${label}`, (s) => s.update(id, { context: untyped(bad) }, { now }));
    add(`update: metadata ${label}`, (s) => s.update(id, { metadata: untyped(bad) }, { now }));
    add(`update: contextSet ${label}`, (s) => s.update(id, { contextSet: untyped(bad) }, { now }));
  });
  const notEntries: Labelled[] = [
    ['[]', []],
    ['null', null],
    ['a string', 'x'],
    ['an object', { 0: 'x' }],
  ];
  each(notEntries, (label, bad) => {
    add(`append: entries ${label}`, (s) => s.append(id, 'history', untyped(bad), { now }));
  });
  const notReplacements: Labelled[] = [
    ['null', null],
    ['a string', 'x'],
    ['an object', { 0: { seq: 1, value: 'x' } }],
    ['[null]', [null]],
    ['[1]', [1]],
    ['[{ value }] without a seq', [{ value: 'x' }]],
    ['[{ seq }] without a value', [{ seq: 1 }]],
    [
      'with seq 1 twice',
      [
        { seq: 1, value: 'x' },
        { seq: 1, value: 'y' },
      ],
    ],
  ];
  each(notReplacements, (label, bad) => {
    add(`replaceEntries: entries ${label}`, (s) =>
      s.replaceEntries(id, 'history', untyped(bad), { now }),
    );
  });
  for (const key of ['__proto__', 'constructor']) {
    add(`update: contextSet key "${key}"`, (s) =>
      s.update(id, { contextSet: JSON.parse(`{"${key}": 1}`) }, { now }),
    );
  }
  add('update: contextDelete "k"', (s) => s.update(id, { contextDelete: untyped('k') }, { now }));
  add('update: contextDelete [1]', (s) => s.update(id, { contextDelete: untyped([1]) }, { now }));
  add('create: logs "x"', (s) => s.create(fresh, { now, logs: untyped('x') }));
  add('create: an imported log with seq 0', (s) =>
    s.create(fresh, { now, logs: { history: [{ seq: 0, at: now, data: 1 }] } }),
  );
  add('list: cursor 5', (s) => s.list({ now, limit: 10, cursor: untyped(5) }));

  add('create: options null', (s) => s.create(fresh, untyped(null)));
  add('get: options null', (s) => s.get(id, untyped(null)));
  add('update: options null', (s) => s.update(id, { state: 'idle' }, untyped(null)));
  add('append: options null', (s) => s.append(id, 'history', ['x'], untyped(null)));
  add('read: options null', (s) => s.read(id, 'history', untyped(null)));
  add('replaceEntries: options null', (s) =>
    s.replaceEntries(id, 'history', [{ seq: 1, value: 'x' }], untyped(null)),
  );
  add('list: options null', (s) => s.list(untyped(null)));
  add('sweep: options null', (s) => s.sweep(now, untyped(null)));
  add('count: options null', (s) => s.count(untyped(null)));
  return list;
}

export const argumentCases: ConformanceCase[] = [
  {
    group: 'validation',
    name: 'every primitive refuses each bad argument of the store-args table with its typed error and writes nothing',
    async run(t) {
      const now = t.clock.now();
      const kept = t.record({ owner: 'alice', context: { kept: true } });
      await t.store.create(kept, { now });
      await t.store.append(kept.id, 'history', ['kept'], { now, countMessages: true });
      const fresh = t.record();
      const state = async () => ({
        record: await t.store.get(kept.id, { now }),
        history: await t.store.read(kept.id, 'history', { now }),
        listed: await t.store.list({ now, limit: 10 }),
        stats: await t.store.stats(now),
      });
      const before = await state();
      for (const [what, call, code] of refusals(kept.id, fresh, now)) {
        // Through a promise chain, so a store that throws synchronously is judged by its error too.
        await expectCode(Promise.resolve(t.store).then(call), code).catch((failure: unknown) => {
          throw new Error(`${what}: ${String(failure)}`);
        });
      }
      expect(await state(), 'a refused call wrote something').toEqual(before);
      expect(await t.store.get(fresh.id, { now })).toBeNull();
      expect(await t.store.delete(fresh.id), 'a refused create left a record').toBe(false);
    },
  },
];
