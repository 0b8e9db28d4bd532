import { createStore, ManualClock, SessionManager } from '@mcp-session/core';
import type { ScalingBackend } from '../sections/scaling.js';
import type { BenchMessage, SessionWorkload, Target } from '../workload.js';

const IDLE_TIMEOUT_MS = 30 * 60_000;

/** Our stack as a user runs it: `SessionManager` (validation, hashing, guards) over `createStore(url)`. */
export function oursTarget(location: ScalingBackend): Target {
  return {
    backend: location.backend,
    kind: 'ours',
    async open() {
      const url = await location.url();
      const clock = new ManualClock();
      const manager = new SessionManager({
        store: await createStore(url),
        clock,
        idleTimeoutMs: IDLE_TIMEOUT_MS,
        // The peers have no quotas; ours are measured on their own (a count per create), not here.
        maxSessionsPerOwner: null,
        maxSessions: null,
      });
      return new ManagerWorkload(manager, clock, () => location.destroy?.(url));
    },
  };
}

class ManagerWorkload implements SessionWorkload {
  constructor(
    private readonly manager: SessionManager,
    private readonly clock: ManualClock,
    private readonly destroy: () => Promise<void> | undefined,
  ) {}

  async create() {
    return (await this.manager.createSession({ owner: 'bench' })).id;
  }
  get(id: string) {
    return this.manager.getSession(id, { owner: 'bench' });
  }
  setContextKey(id: string, key: string, value: number) {
    return this.manager.setContext(id, key, value, { owner: 'bench' });
  }
  append(id: string, message: BenchMessage, cap: number | undefined) {
    // The manager always caps the history, so "uncapped" is a cap above any length measured.
    return this.manager.addMessage(id, message, {
      owner: 'bench',
      cap: cap ?? Number.MAX_SAFE_INTEGER,
    });
  }
  readLast20(id: string) {
    return this.manager.getHistory(id, { owner: 'bench', limit: 20 });
  }
  transition(id: string, to: 'idle' | 'active') {
    return this.manager.transitionState(id, to, { owner: 'bench' });
  }
  async seedExpired(count: number) {
    await inBatches(count, () => this.manager.createSession({ owner: 'bench' }));
  }
  async expireAll() {
    this.clock.advance(2 * IDLE_TIMEOUT_MS);
  }
  sweep() {
    return this.manager.sweepExpired();
  }
  async close() {
    await this.manager.close();
    await this.destroy();
  }
}

/** Runs `task` `count` times, 64 at a time. */
export async function inBatches(
  count: number,
  task: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(64, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}
