import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';

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
];
