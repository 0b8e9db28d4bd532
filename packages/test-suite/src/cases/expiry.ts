import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';
import { expectCode, range } from './helpers.js';

export const expiryCases: ConformanceCase[] = [
  {
    group: 'expiry',
    name: 'a record is live until expiresAt and absent from expiresAt on, for every primitive',
    async run(t) {
      const now = t.clock.now();
      const record = t.record({ expiresAt: now + 1_000 });
      await t.store.create(record, { now });
      const justBefore = now + 999;
      expect(await t.store.get(record.id, { now: justBefore })).not.toBeNull();
      await t.store.append(record.id, 'history', ['in time'], { now: justBefore });
      const atExpiry = t.clock.advance(1_000);
      expect(await t.store.get(record.id, { now: atExpiry })).toBeNull();
      await expectCode(
        t.store.update(record.id, { state: 'idle' }, { now: atExpiry }),
        'SESSION_NOT_FOUND',
      );
      await expectCode(
        t.store.append(record.id, 'history', ['late'], { now: atExpiry }),
        'SESSION_NOT_FOUND',
      );
      await expectCode(t.store.read(record.id, 'history', { now: atExpiry }), 'SESSION_NOT_FOUND');
    },
  },
  {
    group: 'expiry',
    name: 'sweep deletes exactly the expired records and their logs, and returns the count',
    async run(t) {
      const now = t.clock.now();
      const expiring = range(5).map(() => t.record({ expiresAt: now + 100 }));
      const lasting = range(3).map(() => t.record({ expiresAt: now + 10_000 }));
      const forever = t.record({ expiresAt: null });
      for (const record of [...expiring, ...lasting, forever]) {
        await t.store.create(record, { now });
        await t.store.append(record.id, 'history', ['entry'], { now });
      }
      expect(await t.store.sweep(now)).toBe(0);
      const later = t.clock.advance(100);
      expect(await t.store.sweep(later)).toBe(5);
      expect(await t.store.sweep(later)).toBe(0);
      for (const record of expiring) {
        expect(await t.store.get(record.id, { now })).toBeNull();
        expect(await t.store.delete(record.id)).toBe(false);
        await t.store.create({ ...record, expiresAt: later + 1_000 }, { now: later });
        expect(await t.store.read(record.id, 'history', { now: later })).toEqual([]);
      }
      for (const record of [...lasting, forever]) {
        expect(await t.store.get(record.id, { now: later })).toMatchObject({
          id: record.id,
          version: 2,
        });
      }
    },
  },
  {
    group: 'expiry',
    name: "with the caller's clock hours ahead of the backend's, sweep deletes and stats counts by the caller's clock (regression: Redis creates pruned index entries of still-stored sessions)",
    async run(t) {
      // Times come from the caller: a backend's own clock may be anywhere behind.
      const start = t.clock.advance(6 * 3_600_000);
      const expiring = t.record({ expiresAt: start + 1_000 });
      const forever = t.record({ expiresAt: null });
      for (const record of [expiring, forever]) {
        await t.store.create(record, { now: start });
        await t.store.append(record.id, 'history', ['entry'], { now: start });
      }
      // Far past expiresAt by the caller's clock (and past any grace a backend adds), then creates,
      // which is where a store may tidy what it believes its backend has already expired.
      const now = t.clock.advance(30 * 60_000);
      for (const record of [t.record({ expiresAt: now + 60_000 }), t.record({ expiresAt: null })]) {
        await t.store.create(record, { now });
      }
      expect(await t.store.stats(now)).toMatchObject({ total: 3, expired: 1 });
      expect(await t.store.sweep(now)).toBe(1);
      expect(await t.store.get(expiring.id, { now })).toBeNull();
      expect(await t.store.delete(expiring.id)).toBe(false);
      expect(await t.store.stats(now)).toMatchObject({ total: 3, expired: 0 });
      expect(await t.store.read(forever.id, 'history', { now })).toMatchObject([{ data: 'entry' }]);
    },
  },
  {
    group: 'expiry',
    name: 'sweep is bounded by its limit, and repeated sweeps finish the job',
    async run(t) {
      const now = t.clock.now();
      for (const i of range(25))
        await t.store.create(t.record({ expiresAt: now + 10 + i }), { now });
      const later = t.clock.advance(1_000);
      expect(await t.store.sweep(later, { limit: 10 })).toBe(10);
      expect(await t.store.sweep(later, { limit: 10 })).toBe(10);
      expect(await t.store.sweep(later, { limit: 10 })).toBe(5);
      expect(await t.store.sweep(later, { limit: 10 })).toBe(0);
      expect((await t.store.stats(later)).expired).toBe(0);
    },
  },
  {
    group: 'expiry',
    name: 'sweep respects expiry moved by later writes',
    async run(t) {
      const now = t.clock.now();
      const extended = t.record({ expiresAt: now + 100 });
      const shortened = t.record({ expiresAt: now + 100_000 });
      await t.store.create(extended, { now });
      await t.store.create(shortened, { now });
      await t.store.update(extended.id, { expiresAt: now + 100_000 }, { now });
      await t.store.update(shortened.id, { expiresAt: now + 100 }, { now });
      const later = t.clock.advance(500);
      expect(await t.store.sweep(later)).toBe(1);
      expect(await t.store.get(extended.id, { now: later })).not.toBeNull();
      expect(await t.store.get(shortened.id, { now })).toBeNull();
    },
  },
  {
    group: 'expiry',
    name: 'manager: sliding idle timeout, capped by the absolute lifetime',
    async run(t) {
      const manager = t.manager({
        idleTimeoutMs: 1_000,
        maxLifetimeMs: 5_000,
        activityWriteIntervalMs: 0,
      });
      const session = await manager.createSession();
      expect(session.expiresAt).toBe(session.createdAt + 1_000);
      for (let elapsed = 800; elapsed <= 4_800; elapsed += 800) {
        t.clock.advance(800);
        await manager.setContext(session.id, 'tick', elapsed);
        expect(await manager.getSession(session.id)).not.toBeNull();
      }
      const stored = await t.store.get(manager.storageId(session.id), { now: t.clock.now() });
      expect(stored?.expiresAt).toBe(session.createdAt + 5_000);
      t.clock.advance(200);
      expect(await manager.getSession(session.id)).toBeNull();

      const idle = await manager.createSession();
      t.clock.advance(1_000);
      expect(await manager.getSession(idle.id)).toBeNull();
      await expectCode(
        manager.addMessage(idle.id, { role: 'user', content: 'late' }),
        'SESSION_NOT_FOUND',
      );
    },
  },
  {
    group: 'expiry',
    name: 'manager: sweepExpired removes everything expired and reports it',
    async run(t) {
      const manager = t.manager({ idleTimeoutMs: 1_000 });
      const expired: number[] = [];
      manager.on('expired', ({ count }) => expired.push(count));
      for (const _ of range(7)) await manager.createSession();
      const survivor = await manager.createSession();
      t.clock.advance(900);
      await manager.touch(survivor.id);
      t.clock.advance(100);
      expect(await manager.sweepExpired({ batchSize: 3 })).toBe(7);
      expect(expired).toEqual([7]);
      expect(await manager.sweepExpired()).toBe(0);
      expect((await manager.getMetrics()).counters.sessionsExpired).toBe(7);
      expect(await manager.getSession(survivor.id)).not.toBeNull();
    },
  },
];
