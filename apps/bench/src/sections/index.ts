/** The benchmark sections: what runs in each, by name (`ops:sqlite`, `history:redis`, `events`…). */
import pg from 'pg';
import {
  type Backend,
  locations,
  POSTGRES_URL,
  REDIS_URL,
  randomName,
  scratchPath,
} from '../backends.js';
import { connectPgTarget, connectRedisTarget } from '../targets/express-session.js';
import { keyvAdapters, keyvTarget } from '../targets/keyv.js';
import { oursTarget } from '../targets/ours.js';
import { rawFileTarget } from '../targets/raw-file.js';
import { rawMemoryTarget } from '../targets/raw-memory.js';
import { rawPostgresTarget } from '../targets/raw-postgres.js';
import { rawRedisTarget } from '../targets/raw-redis.js';
import { rawSqliteTarget } from '../targets/raw-sqlite.js';
import type { Target } from '../workload.js';
import { eventStoreBench, sdkInMemoryEventStore, sessionEventStore } from './event-store.js';
import { metricsFlood } from './metrics-flood.js';
import { runOps } from './ops.js';
import { oracle } from './oracle.js';
import { countScaling, historyScaling } from './scaling.js';

export interface Settings {
  durationMs: number;
  concurrencies: number[];
  sweepSessions: number;
  historyLengths: number[];
  sessionCounts: number[];
  events: number;
  /** Sessions seeded into the reference server's store for the metrics flood. */
  floodSessions: number;
  /** How long each half of the metrics flood (quiet, then flooded) measures, milliseconds. */
  floodDurationMs: number;
  /** Requests of each kind the 404 oracle measures per backend. */
  oracleSamples: number;
}

async function dropPostgresTable(table: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS ${table}`);
  await client.end();
}

function targets(backend: Backend): Target[] {
  const ours = oursTarget(locations[backend]);
  switch (backend) {
    case 'memory':
      return [ours, rawMemoryTarget(), keyvTarget('memory', keyvAdapters.memory)];
    case 'file':
      return [ours, rawFileTarget()];
    case 'sqlite':
      return [
        ours,
        rawSqliteTarget(() => scratchPath(`raw-${randomName()}.db`)),
        keyvTarget('sqlite', keyvAdapters.sqlite(scratchPath(`keyv-${randomName()}.db`))),
      ];
    case 'redis':
      return [
        ours,
        rawRedisTarget(REDIS_URL),
        keyvTarget('redis', keyvAdapters.redis(REDIS_URL)),
        connectRedisTarget(REDIS_URL),
      ];
    case 'postgres': {
      const table = `keyv_bench_${randomName()}`;
      return [
        ours,
        rawPostgresTarget(POSTGRES_URL, `bench_raw_${randomName()}`),
        keyvTarget('postgres', keyvAdapters.postgres(POSTGRES_URL, table), () =>
          dropPostgresTable(table),
        ),
        connectPgTarget(POSTGRES_URL, `bench_cps_${randomName()}`),
      ];
    }
  }
}

export async function runSection(name: string, settings: Settings): Promise<unknown> {
  const [kind, backend] = name.split(':') as [string, Backend];
  switch (kind) {
    case 'ops': {
      const results = [];
      for (const target of targets(backend)) results.push(...(await runOps(target, settings)));
      return results;
    }
    case 'history':
      return historyScaling(locations[backend], settings.historyLengths, settings.durationMs);
    case 'count':
      return countScaling(locations[backend], settings.sessionCounts, settings.durationMs);
    case 'events': {
      const results = [
        await eventStoreBench(
          'SDK InMemoryEventStore',
          sdkInMemoryEventStore,
          settings.events,
          settings.durationMs,
        ),
      ];
      for (const store of ['memory', 'sqlite', 'redis', 'postgres'] as const) {
        const location = locations[store];
        let url = '';
        results.push(
          await eventStoreBench(
            `SessionEventStore on ${store}`,
            sessionEventStore(async () => {
              url = await location.url();
              return url;
            }, settings.events),
            settings.events,
            settings.durationMs,
          ),
        );
        await location.destroy?.(url);
      }
      return results;
    }
    case 'metrics':
      return [await metricsFlood(settings.floodSessions, settings.floodDurationMs)];
    case 'oracle':
      return [await oracle(backend, settings.oracleSamples)];
    default:
      throw new Error(`unknown section ${name}`);
  }
}
