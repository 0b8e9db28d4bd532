import type { SessionStore } from '@mcp-session/core';
import type { CaseContext, ConformanceCase } from '../types.js';

/**
 * Owner and expiry come before the payload (issue 15, finding 2): a store that reads a record's context
 * before its owner check answers another owner's existing id measurably slower than a random one — with a
 * MiB of context, one request tells them apart. Timing is not something a test should assert, so this
 * case tests the mechanism instead: the adapter's `damagePayload` hook makes the record's context and log
 * entries unreadable, and every probe of a stranger, and of anyone once the record has expired, must
 * still answer exactly like a missing id. A store that read the payload first would fail, or (hiding
 * corrupt records) delete or quarantine the record, which the second `damagePayload` call catches. The
 * owner's own read at the end must fail, which proves the damage is real.
 */

const OWNER = 'owner-first:alice';
const STRANGERS = ['owner-first:mallory', null] as const;

/** A context and logs with something in them to damage. */
const CONTEXT = { plan: 'pro', notes: 'n'.repeat(2_000), nested: { list: [1, 2, 3] } };
const LOGS = { history: ['one', { role: 'user', content: 'two' }], events: [{ e: 1 }] };

function who(owner: string | null | undefined): string {
  return owner === undefined ? 'a caller without an owner guard' : `owner ${JSON.stringify(owner)}`;
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : String(error);
}

/**
 * Every primitive that targets one record, as `guards` would call it, must answer "not found": get null,
 * update/append/read/replaceEntries SESSION_NOT_FOUND. Anything else — above all a failure — means the payload was read.
 */
async function expectHidden(
  store: SessionStore,
  id: string,
  guards: { now: number; owner?: string | null },
  situation: string,
): Promise<void> {
  const payloadRead = (primitive: string, outcome: string) =>
    new Error(
      `${primitive} by ${who(guards.owner)} on ${situation}: expected it to answer like a missing id, ` +
        `got ${outcome}. The record's payload was damaged by damagePayload, so the store read context or ` +
        'log data before checking existence, expiry and owner (RecordGuards order): check those first.',
    );
  let found: unknown;
  try {
    found = await store.get(id, guards);
  } catch (error) {
    throw payloadRead('get', `a failure (${codeOf(error)})`);
  }
  if (found !== null) throw payloadRead('get', 'a record');
  const calls: [string, () => Promise<unknown>][] = [
    ['update', () => store.update(id, { contextSet: { probe: 1 } }, guards)],
    ['append', () => store.append(id, 'history', ['probe'], guards)],
    ['read', () => store.read(id, 'history', guards)],
    [
      'replaceEntries',
      () => store.replaceEntries(id, 'history', [{ seq: 1, value: 'probe' }], guards),
    ],
    ['read', () => store.read(id, 'events', { ...guards, order: 'desc', limit: 1 })],
  ];
  for (const [primitive, call] of calls) {
    const outcome = await call().then(
      () => 'success',
      (error: unknown) => codeOf(error),
    );
    if (outcome !== 'SESSION_NOT_FOUND') {
      throw payloadRead(primitive, outcome === 'success' ? 'success' : `a failure (${outcome})`);
    }
  }
}

async function createDamaged(t: CaseContext, expiresAt: number): Promise<string> {
  const now = t.clock.now();
  const record = t.record({ owner: OWNER, context: CONTEXT, expiresAt });
  await t.store.create(record, { now });
  for (const [log, entries] of Object.entries(LOGS)) {
    await t.store.append(record.id, log, entries, { now, owner: OWNER });
  }
  await t.damagePayload(record.id);
  return record.id;
}

export const ownerFirstCases: ConformanceCase[] = [
  {
    group: 'isolation',
    name: 'owner and expiry are checked before any payload is read: with the payload damaged, strangers and expired reads get not-found',
    requires: 'damagePayload',
    async run(t) {
      const start = t.clock.now();
      const live = await createDamaged(t, start + 3_600_000);
      const expiring = await createDamaged(t, start + 1_000);

      for (const stranger of STRANGERS) {
        await expectHidden(
          t.store,
          live,
          { now: t.clock.now(), owner: stranger },
          'another owner’s live record',
        );
      }
      t.clock.advance(1_000);
      for (const owner of [OWNER, undefined]) {
        await expectHidden(
          t.store,
          expiring,
          { now: t.clock.now(), owner },
          'its own expired record',
        );
      }

      // The probes must have left the record as it was: a store that hid the damage by deleting,
      // repairing or quarantining the record on a stranger's read would pass the probes vacuously.
      await t.damagePayload(live).catch((error: unknown) => {
        throw new Error(
          `damagePayload found nothing to damage after the strangers' probes (${String(error)}): the store ` +
            'deleted, repaired or quarantined the record when a stranger read it, so it read the payload ' +
            'before the owner check.',
        );
      });

      // The owner's own reads must fail: proof that the damage is effective.
      const now = t.clock.now();
      const notDamaged = (primitive: string) =>
        new Error(
          `The owner's own ${primitive} succeeded after damagePayload: the adapter's damagePayload hook ` +
            'does not damage (it must make the stored context and log entries of that record unreadable ' +
            'to the store), so this case shows nothing. Fix the hook in your conformance test.',
        );
      const own = await t.store.get(live, { now, owner: OWNER }).then(
        (record) => record,
        () => null,
      );
      if (own !== null) throw notDamaged('get');
      const ownRead = await t.store.read(live, 'history', { now, owner: OWNER }).then(
        () => 'success',
        () => 'failure',
      );
      if (ownRead === 'success') throw notDamaged('read');
    },
  },
];
