import { describe, expect, it } from 'vitest';
import { slidingExpiry } from '../src/adapter.js';
import { SessionIdDigests } from '../src/ids.js';
import {
  canTransition,
  generateSessionId,
  hashSessionId,
  InvalidValueError,
  ManualClock,
  SESSION_TRANSITIONS,
  SessionManager,
} from '../src/index.js';
import type { SessionStore } from '../src/store.js';

const store = { capabilities: {} } as SessionStore;

describe('SessionManager options', () => {
  it('has the documented defaults', () => {
    const manager = new SessionManager({ store });
    expect(manager).toMatchObject({
      idleTimeoutMs: 30 * 60_000,
      maxLifetimeMs: 24 * 3_600_000,
      activityWriteIntervalMs: 3 * 60_000,
      closedRetentionMs: 3_600_000,
      historyCap: 100,
      hashIds: true,
    });
  });

  it('rejects nonsense options with typed errors', () => {
    expect(() => new SessionManager({} as never)).toThrow(/needs a store/);
    expect(() => new SessionManager({ store, historyCap: 0 })).toThrow(InvalidValueError);
    expect(() => new SessionManager({ store, idleTimeoutMs: -5 })).toThrow(/idleTimeoutMs/);
    expect(() => new SessionManager({ store, idBytes: 8 })).toThrow(/at least 16 random bytes/);
    expect(() => new SessionManager({ store, limits: { maxDepth: 0 } })).toThrow(/maxDepth/);
  });

  it('storage ids are SHA-256 hex digests unless hashing is off', () => {
    const id = generateSessionId();
    expect(new SessionManager({ store }).storageId(id)).toBe(hashSessionId(id));
    expect(hashSessionId(id)).toMatch(/^[0-9a-f]{64}$/);
    expect(new SessionManager({ store, hashIds: false }).storageId(id)).toBe(id);
  });

  it('hashSessionId is SHA-256 of the UTF-8 id, in lowercase hex', () => {
    expect(hashSessionId('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('checks every id before its digest, cached or not (issue 17 cache)', () => {
    const manager = new SessionManager({ store });
    const id = generateSessionId();
    expect(manager.storageId(id)).toBe(manager.storageId(id));
    for (const bad of ['has space', '', 'é'.repeat(20)]) {
      expect(() => manager.storageId(bad)).toThrow();
      expect(() => manager.storageId(bad)).toThrow();
    }
  });
});

describe('generateSessionId (issue 17: slices of a pooled CSPRNG draw)', () => {
  it('never hands out the same bytes twice, across pool refills and sizes', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2_000; i++) ids.add(generateSessionId(16 + (i % 40)));
    expect(ids.size).toBe(2_000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22,75}$/);
    expect(generateSessionId(5_000)).toHaveLength(6_667);
  });
});

describe('SessionIdDigests (issue 17: a bounded cache of id digests)', () => {
  it('gives the digest hashSessionId gives, before and after eviction, and never holds more than its bound', () => {
    const digests = new SessionIdDigests(4);
    const ids = Array.from({ length: 9 }, () => generateSessionId());
    for (const id of ids) {
      expect(digests.digest(id)).toBe(hashSessionId(id));
      expect(digests.size).toBeLessThanOrEqual(4);
    }
    for (const id of [...ids, ...ids.reverse()]) {
      expect(digests.digest(id)).toBe(hashSessionId(id));
      expect(digests.size).toBeLessThanOrEqual(4);
    }
  });
});

describe('time and state helpers', () => {
  it('slidingExpiry takes the earlier bound and ignores null ones', () => {
    expect(slidingExpiry(0, { at: 100, idleTimeoutMs: 50, maxLifetimeMs: 120 })).toBe(120);
    expect(slidingExpiry(0, { at: 100, idleTimeoutMs: 10, maxLifetimeMs: 120 })).toBe(110);
    expect(slidingExpiry(0, { at: 100, idleTimeoutMs: null, maxLifetimeMs: 120 })).toBe(120);
    expect(slidingExpiry(0, { at: 100, idleTimeoutMs: 10, maxLifetimeMs: null })).toBe(110);
    expect(slidingExpiry(0, { at: 100, idleTimeoutMs: null, maxLifetimeMs: null })).toBeNull();
  });

  it('ManualClock only moves forward', () => {
    const clock = new ManualClock(1_000);
    expect(clock.advance(5)).toBe(1_005);
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });

  it('closed is terminal', () => {
    expect(SESSION_TRANSITIONS.closed).toEqual([]);
    expect(canTransition('closed', 'active')).toBe(false);
    expect(canTransition('suspended', 'active')).toBe(true);
  });
});
