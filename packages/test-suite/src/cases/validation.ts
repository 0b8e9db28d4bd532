import type { JsonValue, SessionErrorCode } from '@mcp-session/core';
import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';
import { NOT_JSON, nested } from './bad-values.js';
import { expectCode } from './helpers.js';

/** Plain JSON, but over the manager's default structure limits (a store takes them). */
const OVER_MANAGER_LIMITS: [string, () => unknown][] = [
  ['nesting deeper than the limit', () => nested(40)],
  [
    'more keys than the limit',
    () => Object.fromEntries(Array.from({ length: 1_001 }, (_, i) => [`k${i}`, i])),
  ],
];

export const validationCases: ConformanceCase[] = [
  {
    group: 'validation',
    name: 'values that are not plain JSON are refused with INVALID_VALUE and nothing is written',
    async run(t) {
      const manager = t.manager();
      const { id } = await manager.createSession({ context: { kept: true } });
      await manager.addMessage(id, { role: 'user', content: 'kept' });
      const storageId = manager.storageId(id);
      const before = await t.store.get(storageId, { now: t.clock.now() });
      const sessionsBefore = (await t.store.stats(t.clock.now())).total;
      for (const [why, make] of [...NOT_JSON, ...OVER_MANAGER_LIMITS]) {
        const bad = make() as JsonValue;
        const attempts: [string, () => Promise<unknown>][] = [
          ['setContext', () => manager.setContext(id, 'bad', bad)],
          ['updateContext', () => manager.updateContext(id, { bad })],
          ['updateSession', () => manager.updateSession(id, { metadata: { bad } })],
          ['addMessage', () => manager.addMessage(id, { role: 'user', content: bad })],
          ['appendToLog', () => manager.appendToLog(id, 'events:x', [bad])],
          ['createSession', () => manager.createSession({ context: { bad } })],
        ];
        for (const [operation, attempt] of attempts) {
          const error = await expectCode(attempt(), 'INVALID_VALUE').catch((failure: unknown) => {
            throw new Error(`${operation} with ${why}: ${String(failure)}`);
          });
          expect(error.message.length, `${operation} with ${why} explains itself`).toBeGreaterThan(
            10,
          );
        }
      }
      expect(await t.store.get(storageId, { now: t.clock.now() })).toEqual(before);
      expect(
        (await t.store.read(storageId, 'history', { now: t.clock.now() })).map((e) => e.data),
      ).toEqual([{ role: 'user', content: 'kept' }]);
      expect(await t.store.read(storageId, 'events:x', { now: t.clock.now() })).toEqual([]);
      expect((await t.store.stats(t.clock.now())).total).toBe(sessionsBefore);
    },
  },
  {
    group: 'validation',
    name: 'oversized values are refused with PAYLOAD_TOO_LARGE and nothing is written',
    async run(t) {
      const manager = t.manager({
        limits: { maxMessageBytes: 1_000, maxContextBytes: 2_000, maxMetadataBytes: 500 },
      });
      const { id } = await manager.createSession({ context: { a: 'x'.repeat(900) } });
      const storageId = manager.storageId(id);
      const before = await t.store.get(storageId, { now: t.clock.now() });
      const attempts: [string, () => Promise<unknown>][] = [
        ['message', () => manager.addMessage(id, { role: 'user', content: 'y'.repeat(1_000) })],
        ['one context value', () => manager.setContext(id, 'b', 'y'.repeat(2_100))],
        [
          'context total, enforced by the store',
          () => manager.setContext(id, 'b', 'y'.repeat(1_500)),
        ],
        [
          'context patch',
          () => manager.updateContext(id, { b: 'y'.repeat(800), c: 'z'.repeat(800) }),
        ],
        ['metadata', () => manager.updateSession(id, { metadata: { m: 'y'.repeat(600) } })],
        ['created context', () => manager.createSession({ context: { big: 'y'.repeat(2_100) } })],
      ];
      for (const [what, attempt] of attempts) {
        const error = await expectCode(attempt(), 'PAYLOAD_TOO_LARGE').catch((failure: unknown) => {
          throw new Error(`${what}: ${String(failure)}`);
        });
        expect(error).toMatchObject({ limit: expect.any(Number) });
      }
      expect(await t.store.get(storageId, { now: t.clock.now() })).toEqual(before);
      expect(await t.store.read(storageId, 'history', { now: t.clock.now() })).toEqual([]);
      expect((await t.store.stats(t.clock.now())).total).toBe(1);
    },
  },
  {
    group: 'validation',
    name: 'malformed ids, owners, keys and options are refused with typed errors',
    async run(t) {
      const manager = t.manager();
      const { id } = await manager.createSession();
      const badIds = [
        '',
        'has space',
        'tab\there',
        'é-accent',
        'line\nbreak',
        'x'.repeat(257),
        42 as unknown as string,
      ];
      for (const badId of badIds) {
        await expectCode(manager.getSession(badId), 'INVALID_ID');
        await expectCode(manager.setContext(badId, 'k', 1), 'INVALID_ID');
        await expectCode(manager.addMessage(badId, { role: 'user', content: 1 }), 'INVALID_ID');
      }
      const cases: [string, () => Promise<unknown>, SessionErrorCode][] = [
        ['empty owner', () => manager.createSession({ owner: '' }), 'INVALID_VALUE'],
        ['owner with NUL', () => manager.getSession(id, { owner: 'a\u0000b' }), 'INVALID_VALUE'],
        ['__proto__ context key', () => manager.setContext(id, '__proto__', 1), 'INVALID_VALUE'],
        [
          'non-string key',
          () => manager.setContext(id, 7 as unknown as string, 1),
          'INVALID_VALUE',
        ],
        [
          'message without role',
          () => manager.addMessage(id, { content: 'x' } as never),
          'INVALID_VALUE',
        ],
        [
          'message without content',
          () => manager.addMessage(id, { role: 'user' } as never),
          'INVALID_VALUE',
        ],
        ['message that is an array', () => manager.addMessage(id, [] as never), 'INVALID_VALUE'],
        [
          'cap 0',
          () => manager.addMessage(id, { role: 'user', content: 1 }, { cap: 0 }),
          'INVALID_VALUE',
        ],
        ['limit -1', () => manager.getHistory(id, { limit: -1 }), 'INVALID_VALUE'],
        ['afterSeq 1.5', () => manager.getHistory(id, { afterSeq: 1.5 }), 'INVALID_VALUE'],
        ['bad log name', () => manager.appendToLog(id, 'no spaces allowed', [1]), 'INVALID_VALUE'],
        ['history via appendToLog', () => manager.appendToLog(id, 'history', [1]), 'INVALID_VALUE'],
        ['no entries', () => manager.appendToLog(id, 'events', []), 'INVALID_VALUE'],
        [
          'context not an object',
          () => manager.updateSession(id, { context: [] as never }),
          'INVALID_VALUE',
        ],
        [
          'expectedVersion 0',
          () => manager.updateSession(id, {}, { expectedVersion: 0 }),
          'INVALID_VALUE',
        ],
        ['list limit 0', () => manager.listSessions({ limit: 0 }), 'INVALID_VALUE'],
        [
          'unknown state filter',
          () => manager.listSessions({ state: 'gone' as never }),
          'INVALID_VALUE',
        ],
      ];
      for (const [what, attempt, code] of cases) {
        await expectCode(attempt(), code).catch((failure: unknown) => {
          throw new Error(`${what}: ${String(failure)}`);
        });
      }
      expect(await t.store.get(manager.storageId(id), { now: t.clock.now() })).toMatchObject({
        version: 1,
        context: {},
      });
    },
  },
];
