import type { SessionState } from '@mcp-session/core';
import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';
import { range } from './helpers.js';

/** The states `SessionManager`'s quotas count. */
const HOLDING_PLACES: readonly SessionState[] = ['active', 'idle', 'suspended'];

export const statsCases: ConformanceCase[] = [
  {
    group: 'stats',
    name: 'stats count live records by state, expired ones apart, and sum messages',
    async run(t) {
      const now = t.clock.now();
      expect(await t.store.stats(now)).toEqual({
        total: 0,
        byState: { active: 0, idle: 0, suspended: 0, closed: 0 },
        expired: 0,
        messages: 0,
        oldestCreatedAt: null,
      });
      const specs = [
        { state: 'active', messageCount: 3, createdAt: now - 500 },
        { state: 'active', messageCount: 0, createdAt: now - 100 },
        { state: 'idle', messageCount: 5, createdAt: now - 200 },
        { state: 'suspended', messageCount: 1, createdAt: now - 300 },
        { state: 'closed', messageCount: 2, createdAt: now - 400 },
      ] as const;
      for (const spec of specs)
        await t.store.create(t.record({ ...spec, lastActivityAt: spec.createdAt }), { now });
      await t.store.create(
        t.record({ state: 'idle', messageCount: 100, createdAt: now - 9_000, expiresAt: now + 10 }),
        { now },
      );
      const live = await t.store.stats(now);
      expect(live).toEqual({
        total: 6,
        byState: { active: 2, idle: 2, suspended: 1, closed: 1 },
        expired: 0,
        messages: 111,
        oldestCreatedAt: now - 9_000,
      });
      const later = t.clock.advance(10);
      expect(await t.store.stats(later)).toEqual({
        total: 5,
        byState: { active: 2, idle: 1, suspended: 1, closed: 1 },
        expired: 1,
        messages: 11,
        oldestCreatedAt: now - 500,
      });
    },
  },
  {
    group: 'stats',
    name: 'stats follow appends and state changes',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      await t.store.append(record.id, 'history', [1, 2, 3], { now, countMessages: true });
      await t.store.append(record.id, 'events:x', [1, 2], { now });
      await t.store.update(record.id, { state: 'suspended' }, { now });
      expect(await t.store.stats(now)).toMatchObject({
        total: 1,
        messages: 3,
        byState: { active: 0, idle: 0, suspended: 1, closed: 0 },
      });
      await t.store.delete(record.id);
      expect(await t.store.stats(now)).toMatchObject({
        total: 0,
        messages: 0,
        oldestCreatedAt: null,
      });
    },
  },
  {
    group: 'stats',
    name: 'count counts live records of exactly one owner, in the given states; never unbound or expired ones',
    async run(t) {
      const now = t.clock.now();
      const count = (options: { owner?: string; states?: readonly SessionState[] } = {}) =>
        t.store.count({ now: t.clock.now(), ...options });
      expect(await count()).toBe(0);
      expect(await count({ owner: 'alice' })).toBe(0);
      const specs: [owner: string | null, state: SessionState, times: number][] = [
        ['alice', 'active', 3],
        ['alice', 'idle', 2],
        ['alice', 'suspended', 1],
        ['alice', 'closed', 2],
        ['alice ', 'active', 1],
        ['Alice', 'active', 1],
        ['alicex', 'idle', 1],
        ['jos\u00e9', 'active', 1],
        ['jose\u0301', 'active', 1],
        ['bob', 'active', 2],
        [null, 'active', 4],
        [null, 'closed', 1],
      ];
      for (const [owner, state, times] of specs) {
        for (const _ of range(times)) await t.store.create(t.record({ owner, state }), { now });
      }
      // Expiring in 10 ms, and one that never expires.
      await t.store.create(t.record({ owner: 'alice', expiresAt: now + 10 }), { now });
      await t.store.create(t.record({ owner: 'alice', state: 'idle', expiresAt: null }), { now });

      expect(await count({ owner: 'alice' })).toBe(10);
      expect(await count({ owner: 'alice', states: HOLDING_PLACES })).toBe(8);
      expect(await count({ owner: 'alice', states: ['closed'] })).toBe(2);
      expect(await count({ owner: 'alice', states: ['idle', 'idle'] })).toBe(3);
      expect(await count({ owner: 'alice ' })).toBe(1);
      expect(await count({ owner: 'Alice' })).toBe(1);
      expect(await count({ owner: 'alicex' })).toBe(1);
      expect(await count({ owner: 'jos\u00e9' })).toBe(1);
      expect(await count({ owner: 'jose\u0301' })).toBe(1);
      for (const stranger of ['ALICE', 'alic', 'al', 'a', 'carol']) {
        expect(await count({ owner: stranger }), `owner ${JSON.stringify(stranger)}`).toBe(0);
      }
      expect(await count({ owner: 'bob', states: ['idle', 'suspended', 'closed'] })).toBe(0);
      expect(await count()).toBe(22);
      expect(await count({ states: HOLDING_PLACES })).toBe(19);
      expect(await count({ states: ['closed'] })).toBe(3);

      t.clock.advance(10);
      expect(await count({ owner: 'alice' }), 'an expired record was counted').toBe(9);
      expect(await count({ owner: 'alice', states: HOLDING_PLACES })).toBe(7);
      expect(await count()).toBe(21);
      expect(await count({ states: ['active'] })).toBe(13);
      t.clock.advance(3_600_000);
      expect(await count({ owner: 'alice' })).toBe(1);
      expect(await count()).toBe(1);
    },
  },
  {
    group: 'stats',
    name: 'count follows creates, state changes, expiry moved by writes, deletes, and an expired id re-created under another owner',
    async run(t) {
      const now = t.clock.now();
      const count = (owner: string, states?: readonly SessionState[]) =>
        t.store.count({ now: t.clock.now(), owner, ...(states ? { states } : {}) });
      const records = range(4).map(() => t.record({ owner: 'alice', expiresAt: now + 1_000 }));
      for (const record of records) await t.store.create(record, { now });
      const [first, second, third, fourth] = records.map((r) => r.id) as [
        string,
        string,
        string,
        string,
      ];
      await t.store.update(first, { state: 'closed' }, { now });
      await t.store.update(second, { state: 'suspended' }, { now });
      await t.store.append(third, 'history', ['x'], {
        now,
        countMessages: true,
        touch: { at: now, idleTimeoutMs: 5_000, maxLifetimeMs: null },
      });
      expect(await count('alice')).toBe(4);
      expect(await count('alice', HOLDING_PLACES)).toBe(3);
      expect(await count('alice', ['suspended'])).toBe(1);
      expect(await t.store.delete(fourth)).toBe(true);
      expect(await count('alice')).toBe(3);

      t.clock.advance(1_000);
      // Only the touched record (expiring at now + 5 s) is still live.
      expect(await count('alice')).toBe(1);
      const reborn = t.record({ id: first, owner: 'bob', expiresAt: null });
      await t.store.create(reborn, { now: t.clock.now() });
      expect(await count('alice')).toBe(1);
      expect(await count('bob')).toBe(1);
      expect(await t.store.count({ now: t.clock.now() })).toBe(2);
      await t.store.sweep(t.clock.now());
      expect(await t.store.count({ now: t.clock.now() })).toBe(2);
    },
  },
];
