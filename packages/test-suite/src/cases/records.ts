import type { LogEntry, SessionChange } from '@mcp-session/core';
import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';
import { expectCode, TRICKY_JSON } from './helpers.js';

export const recordCases: ConformanceCase[] = [
  {
    group: 'records',
    name: 'create then get returns every field exactly as written',
    async run(t) {
      const now = t.clock.now();
      const record = t.record({
        state: 'idle',
        context: { tricky: TRICKY_JSON, count: 3, ...TRICKY_JSON },
        metadata: {
          clientInfo: { name: 'client', version: '1.0.0' },
          protocolVersion: '2025-11-25',
        },
        owner: 'alice@example.com',
        createdAt: now - 5_000,
        lastActivityAt: now - 1_000,
        expiresAt: now + 90_000,
        version: 7,
        messageCount: 42,
      });
      await t.store.create(record, { now });
      expect(await t.store.get(record.id, { now })).toEqual(record);
    },
  },
  {
    group: 'records',
    name: 'get returns null for an id that was never created',
    async run(t) {
      expect(await t.store.get(t.record().id, { now: t.clock.now() })).toBeNull();
    },
  },
  {
    group: 'records',
    name: 'create never overwrites a live record',
    async run(t) {
      const now = t.clock.now();
      const original = t.record({ context: { owner: 'first' } });
      await t.store.create(original, { now });
      await expectCode(
        t.store.create({ ...original, context: { owner: 'second' }, state: 'suspended' }, { now }),
        'SESSION_EXISTS',
      );
      expect(await t.store.get(original.id, { now })).toEqual(original);
    },
  },
  {
    group: 'records',
    name: 'create over an expired record replaces it and drops its logs',
    async run(t) {
      const now = t.clock.now();
      const old = t.record({ expiresAt: now + 10, context: { old: true } });
      await t.store.create(old, { now });
      await t.store.append(old.id, 'history', [{ old: 1 }, { old: 2 }], { now });
      const later = t.clock.advance(20);
      const fresh = t.record({
        id: old.id,
        createdAt: later,
        lastActivityAt: later,
        expiresAt: later + 1_000,
      });
      await t.store.create(fresh, { now: later });
      expect(await t.store.get(old.id, { now: later })).toEqual(fresh);
      expect(await t.store.read(old.id, 'history', { now: later })).toEqual([]);
      const appended = await t.store.append(old.id, 'history', [{ fresh: 1 }], { now: later });
      expect(appended.firstSeq).toBe(1);
    },
  },
  {
    group: 'records',
    name: 'create with logs imports them atomically, keeping seqs and times; appends continue after them',
    async run(t) {
      const now = t.clock.now();
      const record = t.record({ messageCount: 150, version: 9 });
      const history = [
        { seq: 51, at: now - 3_000, data: { role: 'user', content: 'first kept' } },
        { seq: 52, at: now - 2_000, data: { role: 'assistant', content: TRICKY_JSON } },
        { seq: 53, at: now - 1_000, data: { role: 'user', content: 'last' } },
      ];
      await t.store.create(record, {
        now,
        logs: { history, 'events:s1': [{ seq: 7, at: now, data: 'e' }], empty: [] },
      });
      expect(await t.store.get(record.id, { now })).toEqual(record);
      expect(await t.store.read(record.id, 'history', { now })).toEqual(history);
      expect(await t.store.read(record.id, 'empty', { now })).toEqual([]);
      expect(
        await t.store.append(record.id, 'history', ['next'], { now, cap: 3, countMessages: true }),
      ).toEqual({
        firstSeq: 54,
        lastSeq: 54,
        version: 10,
        messageCount: 151,
      });
      expect((await t.store.read(record.id, 'history', { now })).map((e) => e.seq)).toEqual([
        52, 53, 54,
      ]);
      expect((await t.store.append(record.id, 'events:s1', ['f'], { now })).firstSeq).toBe(8);
      expect((await t.store.append(record.id, 'empty', ['g'], { now })).firstSeq).toBe(1);
    },
  },
  {
    group: 'records',
    name: 'create with malformed logs fails with INVALID_VALUE and writes nothing',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      const bad: Record<string, LogEntry[]>[] = [
        {
          history: [
            { seq: 2, at: now, data: 1 },
            { seq: 2, at: now, data: 2 },
          ],
        },
        { history: [{ seq: 0, at: now, data: 1 }] },
        {
          history: [
            { seq: 3, at: now, data: 1 },
            { seq: 5, at: now, data: 2 },
          ],
        },
        { history: [{ seq: 1.5, at: now, data: 1 }] },
        { 'bad name': [{ seq: 1, at: now, data: 1 }] },
        { history: [{ seq: 1, at: now, data: { fn: () => 1 } as never }] },
        { history: [{ seq: 1, at: now, data: undefined as never }] },
      ];
      for (const logs of bad)
        await expectCode(t.store.create(record, { now, logs }), 'INVALID_VALUE');
      expect(await t.store.get(record.id, { now })).toBeNull();
    },
  },
  {
    group: 'records',
    name: 'a record with expiresAt null never expires',
    async run(t) {
      const record = t.record({ expiresAt: null });
      await t.store.create(record, { now: t.clock.now() });
      const tenYearsLater = t.clock.advance(10 * 365 * 24 * 3_600_000);
      expect(await t.store.get(record.id, { now: tenYearsLater })).toEqual(record);
    },
  },
  {
    group: 'records',
    name: 'update sets each field and increments version by exactly one',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      const updated = await t.store.update(
        record.id,
        {
          state: 'suspended',
          metadata: { m: [1, 2] },
          lastActivityAt: now + 5,
          expiresAt: now + 500,
        },
        { now },
      );
      expect(updated).toEqual({
        ...record,
        state: 'suspended',
        metadata: { m: [1, 2] },
        lastActivityAt: now + 5,
        expiresAt: now + 500,
        version: 2,
      });
      expect(await t.store.get(record.id, { now })).toEqual(updated);
      const neverExpires = await t.store.update(record.id, { expiresAt: null }, { now });
      expect(neverExpires.expiresAt).toBeNull();
      expect(neverExpires.version).toBe(3);
      const noop = await t.store.update(record.id, {}, { now });
      expect(noop.version).toBe(4);
      expect(await t.store.get(record.id, { now })).toEqual(noop);
    },
  },
  {
    group: 'records',
    name: 'context: whole replacement, then per-key set, then per-key delete, in one change',
    async run(t) {
      const now = t.clock.now();
      const record = t.record({ context: { keep: 1, drop: 2, replaced: 3 } });
      await t.store.create(record, { now });
      const set = await t.store.update(
        record.id,
        {
          contextSet: { added: { nested: [1, { x: 'y' }] }, keep: 'changed' },
          contextDelete: ['drop', 'absent'],
        },
        { now },
      );
      expect(set.context).toEqual({
        keep: 'changed',
        replaced: 3,
        added: { nested: [1, { x: 'y' }] },
      });
      const replaced = await t.store.update(
        record.id,
        { context: { a: 1, b: 2 }, contextSet: { c: 3 }, contextDelete: ['a'] },
        { now },
      );
      expect(replaced.context).toEqual({ b: 2, c: 3 });
      expect((await t.store.get(record.id, { now }))?.context).toEqual({ b: 2, c: 3 });
      const tricky = await t.store.update(record.id, { contextSet: TRICKY_JSON }, { now });
      expect(tricky.context).toEqual({ b: 2, c: 3, ...TRICKY_JSON });
      const cleared = await t.store.update(record.id, { context: {} }, { now });
      expect(cleared.context).toEqual({});
    },
  },
  {
    group: 'records',
    name: 'update of an absent or expired record fails with SESSION_NOT_FOUND',
    async run(t) {
      const now = t.clock.now();
      await expectCode(
        t.store.update(t.record().id, { state: 'idle' }, { now }),
        'SESSION_NOT_FOUND',
      );
      const record = t.record({ expiresAt: now + 100 });
      await t.store.create(record, { now });
      const later = t.clock.advance(100);
      await expectCode(
        t.store.update(record.id, { expiresAt: null }, { now: later }),
        'SESSION_NOT_FOUND',
      );
      expect(await t.store.get(record.id, { now: later })).toBeNull();
    },
  },
  {
    group: 'records',
    name: 'expectedVersion guard: a stale version fails with VERSION_CONFLICT and writes nothing',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      const v2 = await t.store.update(
        record.id,
        { contextSet: { a: 1 } },
        { now, expectedVersion: 1 },
      );
      expect(v2.version).toBe(2);
      const error = await expectCode(
        t.store.update(record.id, { contextSet: { a: 2 } }, { now, expectedVersion: 1 }),
        'VERSION_CONFLICT',
      );
      expect(error).toMatchObject({ guard: 'version', actualVersion: 2 });
      expect(await t.store.get(record.id, { now })).toEqual(v2);
    },
  },
  {
    group: 'records',
    name: 'expectedState guard: one state or a list; a mismatch fails with VERSION_CONFLICT and writes nothing',
    async run(t) {
      const now = t.clock.now();
      const record = t.record({ state: 'idle' });
      await t.store.create(record, { now });
      const error = await expectCode(
        t.store.update(record.id, { state: 'closed' }, { now, expectedState: 'active' }),
        'VERSION_CONFLICT',
      );
      expect(error).toMatchObject({ guard: 'state', actualState: 'idle', actualVersion: 1 });
      await expectCode(
        t.store.update(
          record.id,
          { state: 'closed' },
          { now, expectedState: ['active', 'suspended'] },
        ),
        'VERSION_CONFLICT',
      );
      expect(await t.store.get(record.id, { now })).toEqual(record);
      const moved = await t.store.update(
        record.id,
        { state: 'active' },
        { now, expectedState: ['suspended', 'idle'] },
      );
      expect(moved.state).toBe('active');
    },
  },
  {
    group: 'records',
    name: 'owner guard: a foreign owner sees nothing; an unbound record is visible to everyone',
    async run(t) {
      const now = t.clock.now();
      const owned = t.record({ owner: 'alice' });
      const unbound = t.record({ owner: null });
      await t.store.create(owned, { now });
      await t.store.create(unbound, { now });
      await t.store.append(owned.id, 'history', [{ secret: true }], { now });

      expect(await t.store.get(owned.id, { now, owner: 'alice' })).toEqual({
        ...owned,
        version: 2,
      });
      expect(await t.store.get(owned.id, { now })).not.toBeNull();
      expect(await t.store.get(owned.id, { now, owner: 'mallory' })).toBeNull();
      expect(await t.store.get(owned.id, { now, owner: null })).toBeNull();
      await expectCode(
        t.store.update(owned.id, { contextSet: { x: 1 } }, { now, owner: 'mallory' }),
        'SESSION_NOT_FOUND',
      );
      await expectCode(
        t.store.append(owned.id, 'history', [{ x: 1 }], { now, owner: null }),
        'SESSION_NOT_FOUND',
      );
      await expectCode(
        t.store.read(owned.id, 'history', { now, owner: 'mallory' }),
        'SESSION_NOT_FOUND',
      );
      expect(await t.store.get(owned.id, { now })).toEqual({ ...owned, version: 2 });

      expect(await t.store.get(unbound.id, { now, owner: 'bob' })).toEqual(unbound);
      expect(await t.store.get(unbound.id, { now, owner: null })).toEqual(unbound);
      const written = await t.store.update(
        unbound.id,
        { contextSet: { by: 'bob' } },
        { now, owner: 'bob' },
      );
      expect(written.owner).toBeNull();
    },
  },
  {
    group: 'records',
    name: 'touch slides expiry to min(at + idle, createdAt + lifetime), a null term being no bound',
    async run(t) {
      const now = t.clock.now();
      const record = t.record({
        createdAt: now - 10_000,
        lastActivityAt: now - 10_000,
        expiresAt: now + 1,
      });
      await t.store.create(record, { now });
      const idleBound = await t.store.update(
        record.id,
        { touch: { at: now, idleTimeoutMs: 1_000, maxLifetimeMs: 60_000 } },
        { now },
      );
      expect(idleBound).toMatchObject({ lastActivityAt: now, expiresAt: now + 1_000 });
      const lifetimeBound = await t.store.update(
        record.id,
        { touch: { at: now, idleTimeoutMs: 60_000, maxLifetimeMs: 15_000 } },
        { now },
      );
      expect(lifetimeBound.expiresAt).toBe(now - 10_000 + 15_000);
      const noIdle = await t.store.update(
        record.id,
        { touch: { at: now, idleTimeoutMs: null, maxLifetimeMs: 20_000 } },
        { now },
      );
      expect(noIdle.expiresAt).toBe(now + 10_000);
      const noLifetime = await t.store.update(
        record.id,
        { touch: { at: now, idleTimeoutMs: 5_000, maxLifetimeMs: null } },
        { now },
      );
      expect(noLifetime.expiresAt).toBe(now + 5_000);
      const never = await t.store.update(
        record.id,
        { touch: { at: now, idleTimeoutMs: null, maxLifetimeMs: null } },
        { now },
      );
      expect(never.expiresAt).toBeNull();
      const appended = await t.store.append(record.id, 'history', [1], {
        now,
        touch: { at: now + 7, idleTimeoutMs: 2_000, maxLifetimeMs: null },
      });
      expect(appended.version).toBe(never.version + 1);
      expect(await t.store.get(record.id, { now })).toMatchObject({
        lastActivityAt: now + 7,
        expiresAt: now + 2_007,
      });
    },
  },
  {
    group: 'records',
    name: 'maxContextBytes: an update that would exceed it fails with PAYLOAD_TOO_LARGE and writes nothing',
    async run(t) {
      const now = t.clock.now();
      const record = t.record({ context: { a: 'x'.repeat(400) } });
      await t.store.create(record, { now });
      await expectCode(
        t.store.update(
          record.id,
          { contextSet: { b: 'y'.repeat(800) } },
          { now, maxContextBytes: 1_000 },
        ),
        'PAYLOAD_TOO_LARGE',
      );
      expect(await t.store.get(record.id, { now })).toEqual(record);
      const fits = await t.store.update(
        record.id,
        { contextSet: { b: 'y'.repeat(300) } },
        { now, maxContextBytes: 1_000 },
      );
      expect(Object.keys(fits.context).sort()).toEqual(['a', 'b']);
      const shrunk = await t.store.update(
        record.id,
        { contextSet: { c: 'z'.repeat(500) }, contextDelete: ['a'] },
        { now, maxContextBytes: 1_000 },
      );
      expect(Object.keys(shrunk.context).sort()).toEqual(['b', 'c']);
    },
  },
  {
    group: 'records',
    name: 'maxContextBytes bounds the context every update leaves, also one that leaves the context alone',
    async run(t) {
      const now = t.clock.now();
      const record = t.record({ context: { big: 'x'.repeat(2_000), small: 1 } });
      await t.store.create(record, { now });
      const limited = { now, maxContextBytes: 1_000 };
      const changes: [string, SessionChange][] = [
        ['a touch', { touch: { at: now + 1, idleTimeoutMs: 60_000, maxLifetimeMs: null } }],
        ['a state change', { state: 'idle' }],
        ['a metadata change', { metadata: { m: 1 } }],
        ['an empty change', {}],
        ['a smaller value for another key', { contextSet: { small: 0 } }],
        ['a deletion that leaves it over', { contextDelete: ['small'] }],
      ];
      for (const [what, change] of changes) {
        const error = await expectCode(
          t.store.update(record.id, change, limited),
          'PAYLOAD_TOO_LARGE',
        ).catch((failure: unknown) => {
          throw new Error(
            `${what} of a record whose context is over the limit: ${String(failure)}`,
          );
        });
        expect(error).toMatchObject({ limit: 1_000 });
      }
      expect(await t.store.get(record.id, { now })).toEqual(record);
      expect((await t.store.update(record.id, { state: 'idle' }, { now })).version).toBe(2);
      const shrunk = await t.store.update(
        record.id,
        { state: 'active', contextDelete: ['big'] },
        limited,
      );
      expect(shrunk).toMatchObject({ state: 'active', context: { small: 1 }, version: 3 });
    },
  },
  {
    group: 'records',
    name: 'delete removes the record and its logs, and reports whether there was one',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      await t.store.append(record.id, 'history', [{ a: 1 }], { now });
      await t.store.append(record.id, 'events:stream-1', [{ b: 1 }], { now });
      expect(await t.store.delete(record.id)).toBe(true);
      expect(await t.store.get(record.id, { now })).toBeNull();
      expect(await t.store.delete(record.id)).toBe(false);
      await t.store.create({ ...record, version: 1 }, { now });
      expect(await t.store.read(record.id, 'history', { now })).toEqual([]);
      expect(await t.store.read(record.id, 'events:stream-1', { now })).toEqual([]);
    },
  },
  {
    group: 'records',
    name: 'values going in and out are copies: mutating them never changes stored data',
    async run(t) {
      const now = t.clock.now();
      const record = t.record({
        context: { list: [1, 2], obj: { a: 1 } },
        metadata: { m: { n: 1 } },
      });
      await t.store.create(record, { now });
      (record.context.list as number[]).push(3);
      (record.metadata.m as { n: number }).n = 99;
      const read = await t.store.get(record.id, { now });
      expect(read?.context).toEqual({ list: [1, 2], obj: { a: 1 } });
      expect(read?.metadata).toEqual({ m: { n: 1 } });
      (read?.context.obj as { a: number }).a = 42;
      const change = { contextSet: { added: { deep: [1] } } };
      const updated = await t.store.update(record.id, change, { now });
      change.contextSet.added.deep.push(2);
      (updated.context.list as number[]).length = 0;
      const entry = { text: 'original' };
      await t.store.append(record.id, 'history', [entry], { now });
      entry.text = 'mutated';
      const [first] = await t.store.read(record.id, 'history', { now });
      (first?.data as { text: string }).text = 'mutated after read';
      expect(await t.store.get(record.id, { now })).toMatchObject({
        context: { list: [1, 2], obj: { a: 1 }, added: { deep: [1] } },
      });
      expect((await t.store.read(record.id, 'history', { now }))[0]?.data).toEqual({
        text: 'original',
      });
    },
  },
  {
    group: 'records',
    name: 'record updates leave logs alone',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      await t.store.append(record.id, 'history', [{ n: 1 }, { n: 2 }], { now });
      await t.store.update(record.id, { context: { replaced: true }, state: 'idle' }, { now });
      expect((await t.store.read(record.id, 'history', { now })).map((e) => e.data)).toEqual([
        { n: 1 },
        { n: 2 },
      ]);
      expect((await t.store.append(record.id, 'history', [{ n: 3 }], { now })).firstSeq).toBe(3);
    },
  },
];
