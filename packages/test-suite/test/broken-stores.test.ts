import type { SessionStore } from '@mcp-session/core';
import { describe, expect, it } from 'vitest';
import { range, settle } from '../src/cases/helpers.js';
import {
  type ConformanceCase,
  conformanceCases,
  makeRecord,
  runConformanceCase,
} from '../src/index.js';
import {
  CaseInsensitiveCollationStore,
  CountsExpiredStore,
  CountsUnboundUnderOwnerStore,
  ForwardingStore,
  HidesDamageStore,
  IgnoresCountStatesStore,
  IgnoresExpiryStore,
  IgnoresStateGuardStore,
  LimitOnContextWritesStore,
  NormalizingCollationStore,
  OverwritingCreateStore,
  OwnerPrefixCountStore,
  PadSpaceCollationStore,
  PayloadFirstStore,
  ReadModifyWriteStore,
  ReplaceAlwaysBumpsStore,
  ReplaceByRewriteStore,
  ReplaceIgnoresOwnerStore,
  ReplaceReadsBatchLateStore,
  ReplaceReportsWithoutWritingStore,
  ReplaceTouchesRecordStore,
  SkippingCursorStore,
  TornReadStore,
  UncheckedUpdateStore,
  UnlockedPoolStore,
} from './fixtures/broken-stores.js';
import { memoryDamage } from './fixtures/memory-damage.js';

function caseNamed(fragment: string): ConformanceCase {
  const found = conformanceCases.filter((c) => c.name.includes(fragment));
  if (found.length !== 1)
    throw new Error(`Expected one case matching "${fragment}", found ${found.length}`);
  return found[0] as ConformanceCase;
}

function against(open: () => SessionStore) {
  return { name: 'broken', location: () => 'memory:', open };
}

/**
 * Each broken store passes a simple case (it is not broken everywhere) and fails the cases that pin the
 * rule it breaks. A suite that let any of them through would be a suite that cannot fail.
 */
const BROKEN: { store: () => SessionStore; passes: string; fails: string[] }[] = [
  {
    store: () => new ReadModifyWriteStore(),
    passes: 'append assigns contiguous seqs from 1',
    fails: [
      'parallel appends to one session: unique contiguous seqs',
      'parallel batch appends each get a contiguous block',
      'parallel writes of disjoint context keys: none is lost',
      'racing compare-and-set updates: exactly one wins',
    ],
  },
  {
    store: () => new IgnoresStateGuardStore(),
    passes: 'create then get returns every field exactly as written',
    fails: [
      'racing guarded transitions: exactly one wins',
      'manager: racing transitions never both win from the same state',
      'append and read honour the state and version guards',
    ],
  },
  {
    store: () => new OverwritingCreateStore(),
    passes: 'update sets each field and increments version',
    fails: ['create never overwrites a live record'],
  },
  {
    store: () => new IgnoresExpiryStore(),
    passes: 'create never overwrites a live record',
    fails: ['a record is live until expiresAt'],
  },
  {
    store: () => new UnlockedPoolStore(),
    passes: 'update sets each field and increments version by exactly one',
    fails: [
      'racing guarded transitions: exactly one wins',
      'racing compare-and-set updates: exactly one wins',
      'racing creates of one id: exactly one wins',
      'manager: racing transitions never both win from the same state',
    ],
  },
  {
    store: () => new UncheckedUpdateStore({ sweepIntervalMs: 0 }),
    passes: 'update sets each field and increments version by exactly one',
    fails: ['every primitive refuses each bad argument of the store-args table'],
  },
  {
    store: () => new PadSpaceCollationStore(),
    passes: 'create then get returns every field exactly as written',
    fails: [
      'owners that differ only by trailing spaces',
      'context keys that differ only by trailing spaces',
      'count counts live records of exactly one owner',
    ],
  },
  {
    store: () => new CaseInsensitiveCollationStore(),
    passes: 'create then get returns every field exactly as written',
    fails: [
      'owners that differ only by trailing spaces',
      'context keys that differ only by trailing spaces',
      'log names and storage ids that differ only by case',
      'ids that share prefixes or contain special characters',
      'count counts live records of exactly one owner',
    ],
  },
  {
    store: () => new NormalizingCollationStore(),
    passes: 'create then get returns every field exactly as written',
    fails: [
      'owners that differ only by trailing spaces',
      'context keys that differ only by trailing spaces',
      'count counts live records of exactly one owner',
    ],
  },
  {
    store: () => new LimitOnContextWritesStore(),
    passes: 'maxContextBytes: an update that would exceed it fails',
    fails: ['maxContextBytes bounds the context every update leaves'],
  },
  {
    store: () => new TornReadStore(),
    passes: 'read pages with afterSeq, beforeSeq, limit and order',
    fails: ['reads racing writes see whole writes'],
  },
  {
    store: () => new SkippingCursorStore(),
    passes: 'an empty store lists nothing',
    fails: [
      'cursor paging visits every live record exactly once',
      'filters by state, by owner, and by both',
    ],
  },
  {
    store: () => new CountsExpiredStore(),
    passes: 'create then get returns every field exactly as written',
    fails: [
      'count counts live records of exactly one owner',
      'count follows creates, state changes',
      'maxSessionsPerOwner: the N+1-th session of an owner is refused',
    ],
  },
  {
    store: () => new CountsUnboundUnderOwnerStore(),
    passes: 'create then get returns every field exactly as written',
    fails: [
      'count counts live records of exactly one owner',
      'maxSessionsPerOwner: the N+1-th session of an owner is refused',
    ],
  },
  {
    store: () => new OwnerPrefixCountStore(),
    passes: 'create then get returns every field exactly as written',
    fails: [
      'count counts live records of exactly one owner',
      'maxSessionsPerOwner: the N+1-th session of an owner is refused',
    ],
  },
  {
    store: () => new IgnoresCountStatesStore(),
    passes: 'create then get returns every field exactly as written',
    fails: [
      'count counts live records of exactly one owner',
      'count follows creates, state changes',
      'maxSessionsPerOwner: the N+1-th session of an owner is refused',
      "maxSessions: the store's count, refreshed every quotaRefreshMs",
    ],
  },
  {
    store: () => new ReplaceIgnoresOwnerStore(),
    passes: 'replaced entries read back with their seq and at',
    fails: ['a foreign owner, a missing id and an expired session all get SESSION_NOT_FOUND'],
  },
  {
    store: () => new ReplaceTouchesRecordStore(),
    passes: 'a replacement changes one log of one session only',
    fails: ['only the version changes: messageCount, lastActivityAt'],
  },
  {
    store: () => new ReplaceAlwaysBumpsStore(),
    passes: 'replaced entries read back with their seq and at',
    fails: ['seqs trimmed by the cap or never appended are skipped'],
  },
  {
    store: () => new ReplaceReadsBatchLateStore(),
    passes: 'replaced entries read back with their seq and at',
    fails: ['values are copies: changing the batch during or after the call'],
  },
  {
    store: () => new ReplaceReportsWithoutWritingStore(),
    passes: 'encrypted history round trip',
    fails: ['reencryptStore moves every value to the current key'],
  },
  {
    store: () => new ReplaceByRewriteStore(),
    passes: 'a replacement changes one log of one session only',
    fails: ['replacements racing capped appends from two instances keep every invariant'],
  },
];

describe('the suite catches deliberately broken stores', () => {
  for (const { store, passes, fails } of BROKEN) {
    const name = store().constructor.name;
    it(`${name} still passes "${passes}"`, async () => {
      await expect(runConformanceCase(caseNamed(passes), against(store))).resolves.toBeNull();
    });
    for (const fragment of fails) {
      it(`${name} fails "${fragment}"`, { timeout: 60_000 }, async () => {
        await expect(runConformanceCase(caseNamed(fragment), against(store))).rejects.toThrow();
      });
    }
  }
});

describe('why the race cases warm the store up first', () => {
  it('UnlockedPoolStore passes a cold burst of racers: its fresh pool runs them one after another', async () => {
    const store = new UnlockedPoolStore();
    const now = Date.now();
    const record = makeRecord(now);
    await store.create(record, { now });
    const transitions = await settle(
      range(30).map(() =>
        store.update(record.id, { state: 'idle' }, { now, expectedState: 'active' }),
      ),
    );
    const updates = await settle(
      range(30).map((i) =>
        store.update(record.id, { contextSet: { i } }, { now, expectedVersion: 2 }),
      ),
    );
    const id = makeRecord(now).id;
    const creates = await settle(
      range(30).map(() => store.create(makeRecord(now, { id }), { now })),
    );
    for (const { fulfilled } of [transitions, updates, creates]) expect(fulfilled).toHaveLength(1);
    await store.close();
  });
});

describe('the owner-first case cannot pass vacuously', () => {
  const ownerFirst = caseNamed('owner and expiry are checked before any payload is read');
  /** Suite options over a forwarding store whose inner memory store the damage hook reaches. */
  function damaging(open: () => ForwardingStore) {
    const damage = memoryDamage();
    let locations = 0;
    return {
      name: 'broken',
      location: () => `memory:?case=${++locations}`,
      open: (location: string) => {
        const store = open();
        damage.track(location, store.inner);
        return store;
      },
      damagePayload: damage.damagePayload,
    };
  }

  it('passes on a correct store whose damage hook damages', async () => {
    await expect(
      runConformanceCase(
        ownerFirst,
        damaging(() => new ForwardingStore()),
      ),
    ).resolves.toBeNull();
  });

  it('PayloadFirstStore fails: a stranger’s get reads the damaged context', async () => {
    await expect(
      runConformanceCase(
        ownerFirst,
        damaging(() => new PayloadFirstStore()),
      ),
    ).rejects.toThrow(/get by owner "owner-first:mallory" on another owner’s live record/);
  });

  it('HidesDamageStore fails: the stranger’s read left nothing to damage', async () => {
    await expect(
      runConformanceCase(
        ownerFirst,
        damaging(() => new HidesDamageStore()),
      ),
    ).rejects.toThrow(/found nothing to damage after the strangers' probes/);
  });

  it('a damagePayload hook that does not damage fails the case and says so', async () => {
    await expect(
      runConformanceCase(ownerFirst, {
        ...against(() => new ForwardingStore()),
        damagePayload: async () => undefined,
      }),
    ).rejects.toThrow(/damagePayload hook does not damage/);
  });

  it('is skipped, with the reason, without a damagePayload hook', async () => {
    await expect(
      runConformanceCase(
        ownerFirst,
        against(() => new ForwardingStore()),
      ),
    ).resolves.toBe('no damagePayload hook was given to the suite');
  });
});
