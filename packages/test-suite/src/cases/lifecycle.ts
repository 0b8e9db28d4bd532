import { expect } from 'vitest';
import { everyPrimitive } from '../harness.js';
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
      for (const [primitive, call] of everyPrimitive(store, record.id, now)) {
        await expectCode(call(), 'STORE_CLOSED').catch((failure: unknown) => {
          throw new Error(`${primitive} after close: ${String(failure)}`);
        });
      }
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
