/** Latency and throughput of one operation, measured in this process. */
export interface Measurement {
  /** Operations completed. */
  ops: number;
  /** Completed operations per second of wall time. */
  opsPerSec: number;
  /** Median latency, milliseconds. */
  p50Ms: number;
  /** 99th percentile latency, milliseconds. */
  p99Ms: number;
}

/**
 * Runs `op(i)` with `concurrency` calls in flight for about `durationMs` (at least `minOps` calls, at most
 * `maxOps`), after a short unmeasured warm-up, and measures each call.
 */
export async function measureFor(
  op: (i: number, lane: number) => Promise<unknown>,
  {
    durationMs,
    concurrency,
    minOps = 20,
    maxOps = 1_000_000,
  }: {
    durationMs: number;
    concurrency: number;
    minOps?: number;
    maxOps?: number;
  },
): Promise<Measurement> {
  await warmUp(op, concurrency, maxOps);
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(durationMs) * 1_000_000n;
  const lane = async (index: number): Promise<void> => {
    while (next < maxOps && (next < minOps || process.hrtime.bigint() < deadline)) {
      const i = next++;
      const start = process.hrtime.bigint();
      await op(i, index);
      latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, index) => lane(index)));
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  const sorted = Float64Array.from(latencies).sort();
  return {
    ops: sorted.length,
    opsPerSec: sorted.length / (elapsedMs / 1000),
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  };
}

/** Two unmeasured calls per lane, numbered from `offset` so they never collide with measured ones. */
async function warmUp(
  op: (i: number, lane: number) => Promise<unknown>,
  concurrency: number,
  offset: number,
): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      await op(offset + 2 * lane, lane);
      await op(offset + 2 * lane + 1, lane);
    }),
  );
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}
