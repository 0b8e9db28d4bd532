import type { Machine } from './machine.js';
import type { Measurement } from './measure.js';
import type { EventStoreResult } from './sections/event-store.js';
import type { Settings } from './sections/index.js';
import type { MetricsFloodResult } from './sections/metrics-flood.js';
import { OPERATIONS, type OpsResult } from './sections/ops.js';
import type { Latency, OracleChannel, OracleResult } from './sections/oracle.js';
import type { CountScaling, HistoryScaling } from './sections/scaling.js';

export interface SectionOutput {
  section: string;
  seconds: number;
  peakRssMiB: number;
  result: unknown;
}

export interface Results {
  date: string;
  mode: string;
  settings: Settings;
  machine: Machine;
  totalSeconds: number;
  sections: SectionOutput[];
}

const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function rate(value: number): string {
  return value >= 100 ? number.format(value) : value.toFixed(1);
}

function ms(value: number): string {
  return value >= 10 ? value.toFixed(0) : value >= 1 ? value.toFixed(1) : value.toFixed(2);
}

function cell(m: Measurement | undefined): string {
  return m ? `${rate(m.opsPerSec)}/s (${ms(m.p50Ms)}/${ms(m.p99Ms)})` : '—';
}

function ratio(ours: number | undefined, other: number | undefined): string {
  return ours && other ? `${(ours / other).toFixed(2)}×` : '—';
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function resultsOf<T>(results: Results, prefix: string): T[] {
  return results.sections
    .filter((s) => s.section.startsWith(prefix))
    .flatMap((s) => s.result as T[]);
}

/** The markdown report of one run. */
export function report(results: Results): string {
  const out: string[] = [];
  const { machine } = results;
  out.push(`# mcp-session benchmarks (${results.mode} run, ${results.date.slice(0, 10)})`);
  out.push(
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; Node ${machine.node}; ` +
      `SQLite ${machine.sqlite}, Redis ${machine.redis}, PostgreSQL ${machine.postgres}. ` +
      `Total ${results.totalSeconds.toFixed(0)} s.`,
  );
  out.push(
    'Cells: operations per second (p50/p99 latency in ms). "ours" is `SessionManager` over the store, as users call it ' +
      '(validation, id hashing, guards). "raw" is the same operation written directly on the driver in the fewest round ' +
      'trips, without validation: the ceiling. Peers keep the session as one blob and read, modify and write it back, ' +
      'as generic stores force you to. A ratio above 1× means ours is faster.',
  );

  const ops = resultsOf<OpsResult>(results, 'ops:');
  const backends = [...new Set(ops.map((r) => r.backend))];
  for (const backend of backends) {
    const mine = ops.filter((r) => r.backend === backend);
    const kinds = [...new Set(mine.map((r) => r.kind))].filter((k) => k !== 'ours');
    const peers = kinds.filter((k) => k !== 'raw');
    out.push(`## ${backend}`);
    const header = ['operation', 'c', 'ours', ...kinds.flatMap((k) => [k, `ours/${k}`])];
    const rows: string[][] = [];
    for (const concurrency of results.settings.concurrencies) {
      const find = (kind: string) =>
        mine.find((r) => r.kind === kind && r.concurrency === concurrency);
      for (const operation of OPERATIONS) {
        const ours = find('ours')?.operations[operation];
        rows.push([
          operation,
          String(concurrency),
          cell(ours),
          ...kinds.flatMap((k) => {
            const other = find(k)?.operations[operation];
            return [cell(other), ratio(ours?.opsPerSec, other?.opsPerSec)];
          }),
        ]);
      }
    }
    out.push(table(header, rows));
    const sweeps = mine.filter((r) => r.sweep);
    if (sweeps.length > 0) {
      out.push(
        `Sweep (one call deleting every expired session): ${sweeps
          .map(
            (r) =>
              `${r.kind} ${rate(r.sweep?.perSec ?? 0)} sessions/s (${r.sweep?.deleted} in ${ms(r.sweep?.ms ?? 0)} ms)`,
          )
          .join(
            '; ',
          )}.${peers.some((k) => !sweeps.find((r) => r.kind === k)) ? ' Peers without a sweep rely on native TTLs or never delete.' : ''}`,
      );
    }
  }

  const history = resultsOf<HistoryScaling>(results, 'history:');
  if (history.length > 0) {
    out.push('## Scaling with history length (uncapped log, concurrency 1)');
    out.push(
      table(
        ['backend', 'entries', 'append', 'read last 20'],
        history.map((h) => [
          h.backend,
          number.format(h.length),
          cell(h.append),
          cell(h.readLast20),
        ]),
      ),
    );
  }
  const counts = resultsOf<CountScaling>(results, 'count:');
  if (counts.length > 0) {
    out.push('## Scaling with session count');
    out.push(
      table(
        ['backend', 'sessions', 'get', 'sweep of 1,000 expired'],
        counts.map((c) => [
          c.backend,
          number.format(c.sessions),
          cell(c.get),
          `${ms(c.sweep.ms)} ms (${rate(c.sweep.perSec)}/s)`,
        ]),
      ),
    );
  }
  const events = resultsOf<EventStoreResult>(results, 'events');
  if (events.length > 0) {
    out.push('## Event store: store and replay');
    out.push(
      `${number.format(events[0]?.events ?? 0)} events over ten streams, then replaying the second half of one stream.`,
    );
    const sdk = events[0];
    out.push(
      table(
        ['event store', 'storeEvent', 'replay', 'events replayed', 'replay vs SDK'],
        events.map((e) => [
          e.name,
          cell(e.store),
          cell(e.replay),
          String(e.replayed),
          ratio(e.replay.opsPerSec, sdk?.replay.opsPerSec),
        ]),
      ),
    );
  }
  const [flood] = resultsOf<MetricsFloodResult>(results, 'metrics');
  if (flood) {
    out.push('## Metrics flood');
    out.push(
      `An authenticated \`remember\` tool call on the reference server (a child process; SQLite holding ` +
        `${number.format(flood.sessions)} sessions), alone and while ${flood.scrapers} scrapers fetch ` +
        `\`/metrics\` back to back (${rate(flood.scrapesPerSec)} scrapes/s answered). Scrapes are served from ` +
        `store aggregates refreshed on a timer; one aggregate of this store takes ${ms(flood.storeAggregate.p50Ms)} ms ` +
        '(p50), which every scrape used to cost. The paced row is many scrapers at a rate far above any ' +
        'Prometheus set-up; the last row is the floor: as many clients fetching a path ' +
        'answered 404 at once, what any flood of small requests costs the server. A ratio of 1× means the ' +
        'flood does not move the call.',
    );
    out.push(
      table(
        ['tool call', 'calls/s (p50/p99 ms)', 'p50 flood/quiet', 'p99 flood/quiet'],
        [
          ['quiet', cell(flood.quiet), '', ''],
          [
            `${flood.scrapers} scrapers on /metrics`,
            cell(flood.flood),
            ratio(flood.flood.p50Ms, flood.quiet.p50Ms),
            ratio(flood.flood.p99Ms, flood.quiet.p99Ms),
          ],
          [
            `${flood.scrapers} scrapers, each every ${flood.pacedIntervalMs} ms`,
            cell(flood.paced),
            ratio(flood.paced.p50Ms, flood.quiet.p50Ms),
            ratio(flood.paced.p99Ms, flood.quiet.p99Ms),
          ],
          [
            `${flood.scrapers} clients on a 404 path (${rate(flood.floorRequestsPerSec)}/s)`,
            cell(flood.floor),
            ratio(flood.floor.p50Ms, flood.quiet.p50Ms),
            ratio(flood.floor.p99Ms, flood.quiet.p99Ms),
          ],
        ],
      ),
    );
  }
  const oracles = resultsOf<OracleResult>(results, 'oracle:');
  if (oracles.length > 0) {
    const [first] = oracles;
    out.push('## 404 oracle: another owner’s session vs a random id');
    out.push(
      `404s through \`createMcpSessionHandler\` over HTTP on loopback, as a stranger probing ids: another owner's ` +
        `existing session (context ${number.format(first?.contextBytes ?? 0)} bytes) against a random id of the same ` +
        `shape, each probed ${number.format(first?.samples ?? 0)} times, interleaved in random order (one id per ` +
        'kind, as a prober repeats one id; the manager caches the digests of ids it has seen, so a fresh id ' +
        'costs one SHA-256 more — about a microsecond — than a repeated one, existing or not). A ratio near 1× means a ' +
        '404 says nothing about whether the id exists; the noise column is the same ratio for two random ' +
        'ids, what "near" means on this machine. The getSession rows ask the manager directly (what the handler ' +
        "does for such a request): the store's part without the HTTP stack's noise.",
    );
    const latency = (l: Latency) => `${ms(l.p50Ms)} / ${ms(l.p90Ms)}`;
    const times = (value: number) => `${value.toFixed(2)}×`;
    const rows = oracles.flatMap((o) =>
      (['http', 'manager'] as const).map((channel) => {
        const c: OracleChannel = o[channel];
        return [
          o.backend,
          channel === 'http' ? 'HTTP 404' : 'getSession',
          latency(c.foreign),
          latency(c.random),
          times(c.ratio.p50),
          times(c.ratio.p90),
          times(c.noise.p50),
          times(c.noise.p90),
        ];
      }),
    );
    out.push(
      table(
        [
          'backend',
          'through',
          'foreign p50/p90 ms',
          'random p50/p90 ms',
          'foreign/random p50',
          'p90',
          'noise p50',
          'p90',
        ],
        rows,
      ),
    );
  }
  out.push('## Peak memory per section');
  out.push(
    table(
      ['section', 'peak RSS', 'time'],
      results.sections.map((s) => [
        s.section,
        `${s.peakRssMiB.toFixed(0)} MiB`,
        `${s.seconds.toFixed(1)} s`,
      ]),
    ),
  );
  return `${out.join('\n\n')}\n`;
}
