import type { SessionStore } from '@mcp-session/core';
import type { CaseContext } from '../types.js';
import { range } from './helpers.js';

/** Racers in each "exactly one wins" case. */
export const RACERS = 30;

/** Instances on one location a race is spread over when the store is shared across processes. */
const INSTANCES = 3;

/**
 * How long the warm-up keeps `RACERS` operations in flight on every instance, in milliseconds: long
 * enough for a pool that opens connections only while demand persists to open several.
 */
const WARM_UP_MS = 250;

/**
 * The stores a race runs on, warmed up so that its racers really overlap. A freshly opened store whose
 * pool grows lazily runs a cold burst on its one connection, one racer after another, so a store that
 * checks and writes without a lock would pass; after the warm-up the same burst runs on several
 * connections at once. A store shared across processes also races across several instances on one
 * location, as several servers would. The warm-up writes only to records it deletes again.
 */
export async function warmedStores(t: CaseContext): Promise<SessionStore[]> {
  const stores = [t.store];
  if (t.store.capabilities.sharedAcrossProcesses) {
    for (let i = 1; i < INSTANCES; i++) stores.push(await t.openAnother());
  }
  const now = t.clock.now();
  const scratch = range(RACERS).map(() => t.record());
  await Promise.all(scratch.map((record) => t.store.create(record, { now })));
  const until = Date.now() + WARM_UP_MS;
  await Promise.all(
    stores.flatMap((store) =>
      scratch.map(async ({ id }) => {
        for (let round = 0; Date.now() < until; round++) {
          await store.update(id, { contextSet: { round } }, { now });
          await store.get(id, { now });
        }
      }),
    ),
  );
  await Promise.all(scratch.map(({ id }) => t.store.delete(id)));
  return stores;
}

/** The store (or manager) racer `i` runs on: racers are dealt out over the instances in turn. */
export function instanceOfRacer<T>(stores: readonly T[], i: number): T {
  return stores[i % stores.length] as T;
}
