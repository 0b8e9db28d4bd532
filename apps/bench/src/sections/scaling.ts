import { randomBytes } from 'node:crypto';
import {
  createStore,
  ManualClock,
  SessionManager,
  type SessionRecord,
  type SessionStore,
} from '@mcp-session/core';
import { type Measurement, measureFor } from '../measure.js';
import { message } from '../workload.js';

export interface ScalingBackend {
  backend: string;
  /** A fresh, empty store location. */
  url(): Promise<string> | string;
  /**
   * Writes `count` never-expiring sessions with the given ids, bypassing the API where going through it
   * would take minutes (bulk SQL). Absent: the backend is left out of the session-count scaling.
   */
  seed?(url: string, store: SessionStore, ids: string[], now: number): Promise<void>;
  /** Removes what a location holds. */
  destroy?(url: string): Promise<void>;
}

export interface HistoryScaling {
  backend: string;
  length: number;
  append: Measurement;
  readLast20: Measurement;
}

export interface CountScaling {
  backend: string;
  sessions: number;
  get: Measurement;
  /** One sweep of 1,000 expired sessions among `sessions` live ones. */
  sweep: { deleted: number; ms: number; perSec: number };
}

/** Append and read-last-20 cost on uncapped logs of growing length: it should stay flat. */
export async function historyScaling(
  backend: ScalingBackend,
  lengths: number[],
  durationMs: number,
): Promise<HistoryScaling[]> {
  const results: HistoryScaling[] = [];
  const url = await backend.url();
  const manager = new SessionManager({ store: await createStore(url), clock: new ManualClock() });
  try {
    for (const length of lengths) {
      const { id } = await manager.createSession();
      const storageId = manager.storageId(id);
      const now = manager.clock.now();
      for (let written = 0; written < length; written += 1_000) {
        const batch = Array.from({ length: Math.min(1_000, length - written) }, (_, i) =>
          message(written + i),
        );
        await manager.store.append(storageId, 'history', batch, { now, countMessages: true });
      }
      const uncapped = { cap: Number.MAX_SAFE_INTEGER };
      const append = await measureFor((i) => manager.addMessage(id, message(i), uncapped), {
        durationMs,
        concurrency: 1,
      });
      const readLast20 = await measureFor(() => manager.getHistory(id, { limit: 20 }), {
        durationMs,
        concurrency: 1,
      });
      results.push({ backend: backend.backend, length, append, readLast20 });
    }
  } finally {
    await manager.close();
    await backend.destroy?.(url);
  }
  return results;
}

/** Get and sweep cost with few and with many sessions in the store: it should stay flat. */
export async function countScaling(
  backend: ScalingBackend,
  counts: number[],
  durationMs: number,
): Promise<CountScaling[]> {
  const results: CountScaling[] = [];
  if (!backend.seed) return results;
  for (const count of counts) {
    const url = await backend.url();
    const clock = new ManualClock();
    const manager = new SessionManager({
      store: await createStore(url),
      clock,
      hashIds: false,
      idleTimeoutMs: 60_000,
      // Up to a million seeded sessions: far past the default total quota, which is not what is measured.
      maxSessions: null,
    });
    try {
      const ids = Array.from({ length: count }, () => randomBytes(24).toString('base64url'));
      await backend.seed(url, manager.store, ids, clock.now());
      for (let i = 0; i < 1_000; i++) await manager.createSession();
      const get = await measureFor(
        (i) => manager.getSession(ids[(i * 7_919) % ids.length] as string),
        {
          durationMs,
          concurrency: 1,
        },
      );
      clock.advance(120_000);
      const started = process.hrtime.bigint();
      const deleted = await manager.sweepExpired();
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      results.push({
        backend: backend.backend,
        sessions: count,
        get,
        sweep: { deleted, ms, perSec: deleted / (ms / 1000) },
      });
    } finally {
      await manager.close();
      await backend.destroy?.(url);
    }
  }
  return results;
}

/** A never-expiring record for a seeder. */
export function seedRecord(id: string, now: number): SessionRecord {
  return {
    id,
    state: 'active',
    context: { seeded: true },
    metadata: {},
    owner: null,
    createdAt: now,
    lastActivityAt: now,
    expiresAt: null,
    version: 1,
    messageCount: 0,
  };
}
