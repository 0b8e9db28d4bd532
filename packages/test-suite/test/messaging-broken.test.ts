import type { SessionStore } from '@mcp-session/core';
import { describe, expect, it } from 'vitest';
import { type ConformanceCase, conformanceCases, runConformanceCase } from '../src/index.js';
import {
  CaseFoldingBusStore,
  EagerSubscribeStore,
  LingeringSubscriptionStore,
  PrefixMatchingBusStore,
  TrimmingBusStore,
} from './fixtures/messaging-broken-stores.js';

function caseNamed(fragment: string): ConformanceCase {
  const found = conformanceCases.filter((c) => c.name.includes(fragment));
  if (found.length !== 1)
    throw new Error(`Expected one case matching "${fragment}", found ${found.length}`);
  return found[0] as ConformanceCase;
}

const against = (open: () => SessionStore) => ({ name: 'broken', location: () => 'memory:', open });

const ACROSS_CHANNELS = 'nothing reaches another channel';
/** `passes`: a case the store still passes, where its flaw does not show (every case of this group subscribes then publishes, so a store that subscribes late has none). */
const BROKEN: { store: () => SessionStore; passes?: string; fails: string[] }[] = [
  {
    store: () => new CaseFoldingBusStore(),
    passes: 'every message reaches every subscription of its channel',
    fails: [ACROSS_CHANNELS],
  },
  {
    store: () => new TrimmingBusStore(),
    passes: 'every message reaches every subscription of its channel',
    fails: [ACROSS_CHANNELS],
  },
  {
    store: () => new PrefixMatchingBusStore(),
    passes: 'nothing is delivered after unsubscribe',
    fails: [ACROSS_CHANNELS],
  },
  {
    store: () => new LingeringSubscriptionStore(),
    passes: ACROSS_CHANNELS,
    fails: ['nothing is delivered after unsubscribe'],
  },
  {
    store: () => new EagerSubscribeStore(),
    fails: ['a publish right after subscribe resolved is delivered'],
  },
];

describe('the messaging group catches deliberately broken buses', () => {
  for (const { store, passes, fails } of BROKEN) {
    const name = store().constructor.name;
    if (passes !== undefined) {
      it(`${name} still passes "${passes}"`, async () => {
        await expect(runConformanceCase(caseNamed(passes), against(store))).resolves.toBeNull();
      });
    }
    for (const fragment of fails) {
      it(`${name} fails "${fragment}"`, { timeout: 60_000 }, async () => {
        await expect(runConformanceCase(caseNamed(fragment), against(store))).rejects.toThrow();
      });
    }
  }

  it('is skipped, with the reason, for a store without the capability', async () => {
    const store = () => {
      const inner = new CaseFoldingBusStore();
      return Object.assign(Object.create(inner) as SessionStore, {
        capabilities: { ...inner.capabilities, messaging: false },
      });
    };
    await expect(runConformanceCase(caseNamed(ACROSS_CHANNELS), against(store))).resolves.toBe(
      'the store does not declare capabilities.messaging',
    );
  });
});
