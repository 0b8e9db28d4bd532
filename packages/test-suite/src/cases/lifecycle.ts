import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';
import { expectCode } from './helpers.js';

export const lifecycleCases: ConformanceCase[] = [
  {
    group: 'lifecycle',
    name: 'after close every primitive fails with STORE_CLOSED; close is idempotent',
    async run(t) {
      const now = t.clock.now();
      const record = t.record();
      await t.store.create(record, { now });
      const store = t.store;
      await store.close();
      await store.close();
      await expectCode(store.get(record.id, { now }), 'STORE_CLOSED');
      await expectCode(store.create(t.record(), { now }), 'STORE_CLOSED');
      await expectCode(store.update(record.id, {}, { now }), 'STORE_CLOSED');
      await expectCode(store.append(record.id, 'history', [1], { now }), 'STORE_CLOSED');
      await expectCode(store.read(record.id, 'history', { now }), 'STORE_CLOSED');
      await expectCode(store.delete(record.id), 'STORE_CLOSED');
      await expectCode(store.list({ now, limit: 1 }), 'STORE_CLOSED');
      await expectCode(store.sweep(now), 'STORE_CLOSED');
      await expectCode(store.stats(now), 'STORE_CLOSED');
    },
  },
  {
    group: 'lifecycle',
    name: 'close releases everything: a process that used the store exits on its own',
    requires: 'childModule',
    timeout: 150_000,
    async run(t) {
      const result = await t.child('exercise', { id: t.record().id, now: t.clock.now() });
      expect(result).toEqual({ ok: true });
    },
  },
];
