import { describe, expect, it } from 'vitest';
import { slidingExpiry } from '../src/adapter.js';
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
