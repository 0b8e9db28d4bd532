import { type Measurement, measureFor } from '../measure.js';
import { message, type Target } from '../workload.js';

export const OPERATIONS = [
  'create',
  'get',
  'context set',
  'append',
  'read last 20',
  'transition',
] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface OpsResult {
  backend: string;
  kind: string;
  concurrency: number;
  operations: Partial<Record<Operation, Measurement>>;
  /** Expired sessions deleted per second by one sweep, or null when the target cannot sweep. */
  sweep: { deleted: number; perSec: number; ms: number } | null;
}

export interface OpsSettings {
  durationMs: number;
  concurrencies: number[];
  sweepSessions: number;
}

/** Runs the session workload on one target at each concurrency level. */
export async function runOps(target: Target, settings: OpsSettings): Promise<OpsResult[]> {
  const results: OpsResult[] = [];
  for (const concurrency of settings.concurrencies) {
    const workload = await target.open();
    try {
      const perLane = 4;
      const pool: string[] = [];
      for (let i = 0; i < concurrency * perLane; i++) pool.push(await workload.create());
      // Each lane works on sessions of its own, so a lane's transitions never race another lane's.
      const at = (i: number, lane: number) => pool[lane * perLane + (i % perLane)] as string;
      const states = new Map<string, 'active' | 'idle'>();
      const run = (op: (i: number, lane: number) => Promise<unknown>) =>
        measureFor(op, { durationMs: settings.durationMs, concurrency });
      const operations: OpsResult['operations'] = {};
      operations.create = await run(() => workload.create());
      operations.get = await run((i, lane) => workload.get(at(i, lane)));
      operations['context set'] = await run((i, lane) =>
        workload.setContextKey(at(i, lane), `k${i % 10}`, i),
      );
      operations.append = await run((i, lane) => workload.append(at(i, lane), message(i), 100));
      operations['read last 20'] = await run((i, lane) => workload.readLast20(at(i, lane)));
      operations.transition = await run(async (i, lane) => {
        const id = at(i, lane);
        const to = states.get(id) === 'idle' ? 'active' : 'idle';
        await workload.transition(id, to);
        states.set(id, to);
      });
      let sweep: OpsResult['sweep'] = null;
      if (workload.sweep && concurrency === settings.concurrencies[0]) {
        await workload.seedExpired(settings.sweepSessions);
        await workload.expireAll?.();
        const started = process.hrtime.bigint();
        const deleted = await workload.sweep();
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        sweep = { deleted, ms, perSec: deleted / (ms / 1000) };
      }
      results.push({ backend: target.backend, kind: target.kind, concurrency, operations, sweep });
    } finally {
      await workload.close();
    }
  }
  return results;
}
