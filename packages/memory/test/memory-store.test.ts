import { createStore, ManualClock, SessionManager } from '@mcp-session/core';
import { describe, expect, it, vi } from 'vitest';
import { MemorySessionStore, storeFromUrl } from '../src/index.js';

describe('MemorySessionStore', () => {
  it('sweeps expired sessions with its background timer, on the clock it is given', async () => {
    const clock = new ManualClock();
    const store = new MemorySessionStore({ sweepIntervalMs: 5, clock });
    const manager = new SessionManager({ store, clock, idleTimeoutMs: 1_000 });
    const { id } = await manager.createSession();
    clock.advance(1_000);
    await vi.waitFor(async () => expect((await store.stats(clock.now())).expired).toBe(0));
    expect(await store.delete(manager.storageId(id))).toBe(false);
    await store.close();
  });

  it('removes an expired session lazily when it is read', async () => {
    const clock = new ManualClock();
    const store = new MemorySessionStore({ sweepIntervalMs: 0 });
    const manager = new SessionManager({ store, clock, idleTimeoutMs: 1_000 });
    const { id } = await manager.createSession();
    clock.advance(1_000);
    expect(await manager.getSession(id)).toBeNull();
    expect(await store.stats(clock.now())).toMatchObject({ expired: 0, total: 0 });
    await store.close();
  });

  it('keeps a long uncapped log readable from both ends', async () => {
    const clock = new ManualClock();
    const store = new MemorySessionStore({ sweepIntervalMs: 0 });
    const manager = new SessionManager({ store, clock });
    const { id } = await manager.createSession();
    for (let i = 0; i < 20_000; i++) await manager.appendToLog(id, 'events', [i]);
    expect((await manager.readLog(id, 'events', { limit: 2 })).map((e) => e.data)).toEqual([
      19_998, 19_999,
    ]);
    expect(
      (await manager.readLog(id, 'events', { afterSeq: 0, limit: 2 })).map((e) => e.data),
    ).toEqual([0, 1]);
    await store.close();
  });

  it('opens from memory: URLs through createStore, with options', async () => {
    const store = await createStore('memory:');
    expect(store).toBeInstanceOf(MemorySessionStore);
    await store.close();
    const tuned = storeFromUrl('memory:?sweepIntervalMs=0');
    await tuned.close();
  });

  it('rejects memory: URLs with a location or unknown options', () => {
    expect(() => storeFromUrl('memory:./somewhere')).toThrow(/no location/);
    expect(() => storeFromUrl('memory:?ttl=5')).toThrow(/Unknown memory store option "ttl"/);
    expect(() => storeFromUrl('memory:?sweepIntervalMs=-1')).toThrow(/sweepIntervalMs/);
  });
});
