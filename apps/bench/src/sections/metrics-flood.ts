import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createStore, SessionManager } from '@mcp-session/core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { locations } from '../backends.js';
import { type Measurement, measureFor } from '../measure.js';

export interface MetricsFloodResult {
  /** Sessions in the reference server's SQLite store. */
  sessions: number;
  /** Concurrent `/metrics` scrapers during the flood. */
  scrapers: number;
  /** One `manager.getMetrics()` on that store (what every scrape used to cost the server). */
  storeAggregate: Measurement;
  /** An authenticated `remember` tool call (SDK 1.x client), nothing else running. */
  quiet: Measurement;
  /** The same call while the scrapers hammer `/metrics`. */
  flood: Measurement;
  /** Scrapes the server answered per second during the flood (all 200). */
  scrapesPerSec: number;
  /**
   * The same call while the scrapers each fetch `/metrics` once every `pacedIntervalMs` — far more often
   * than any Prometheus set-up scrapes, but not a denial of service.
   */
  paced: Measurement;
  /** Milliseconds each scraper waits between two scrapes in the paced run. */
  pacedIntervalMs: number;
  /**
   * The same call while as many clients hammer a path the server answers 404 at once: what any flood of
   * small requests costs this server, the floor under the metrics flood.
   */
  floor: Measurement;
  /** Requests answered per second during that flood. */
  floorRequestsPerSec: number;
}

const SCRAPERS = 8;
const PACED_INTERVAL_MS = 100;
const MCP_TOKEN = 'bench-mcp-token-0123456789abcdef';
const METRICS_TOKEN = 'bench-metrics-token-0123456789ab';
const SERVER_MAIN = fileURLToPath(new URL('../../../server/src/main.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * Eight clients in a worker thread (their own event loop, so they do not slow the measuring client's),
 * each fetching `url` back to back (or `pauseMs` apart) until told to stop, counting answers with and
 * without `status`.
 */
const SCRAPER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, headers, status, scrapers, pauseMs } = workerData;
let stopping = false;
let ok = 0;
let refused = 0;
parentPort.on('message', () => { stopping = true; });
const scrape = async () => {
  while (!stopping) {
    const response = await fetch(url, { headers });
    await response.text();
    if (response.status === status) ok++; else refused++;
    if (ok === 1) parentPort.postMessage({ started: true });
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
};
Promise.all(Array.from({ length: scrapers }, scrape)).then(() => parentPort.postMessage({ ok, refused }));
`;

/**
 * The latency of an authenticated tool call on the reference server (SQLite, `sessions` seeded
 * sessions), alone and while eight scrapers hammer `/metrics`, in one run.
 */
export async function metricsFlood(
  sessions: number,
  durationMs: number,
): Promise<MetricsFloodResult> {
  const location = locations.sqlite;
  const url = await location.url();
  let server: { child: ChildProcess; base: string } | undefined;
  try {
    const manager = new SessionManager({ store: await createStore(url) });
    const ids = Array.from({ length: sessions }, () => randomBytes(24).toString('base64url'));
    await location.seed?.(url, manager.store, ids, manager.clock.now());
    const storeAggregate = await measureFor(() => manager.getMetrics(), {
      durationMs,
      concurrency: 1,
      minOps: 10,
    });
    await manager.close();

    server = await startReferenceServer(url);
    const { base } = server;
    const client = new Client({ name: 'bench-metrics-flood', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${MCP_TOKEN}` } },
      }),
    );
    const call = (i: number) =>
      client.callTool({ name: 'remember', arguments: { key: `k${i % 100}`, value: 'v' } });

    const quiet = await measureFor(call, { durationMs, concurrency: 1, minOps: 50 });

    const measureDuring = async (
      path: string,
      headers: Record<string, string>,
      status: number,
      pauseMs = 0,
    ) => {
      const worker = new Worker(SCRAPER_SOURCE, {
        eval: true,
        workerData: { url: `${base}${path}`, headers, status, scrapers: SCRAPERS, pauseMs },
      });
      const { started, done } = scraperSignals(worker);
      await started;
      const floodStarted = process.hrtime.bigint();
      const measurement = await measureFor(call, { durationMs, concurrency: 1, minOps: 50 });
      worker.postMessage('stop');
      const answers = await done;
      const seconds = Number(process.hrtime.bigint() - floodStarted) / 1e9;
      await worker.terminate();
      if (answers.refused > 0)
        throw new Error(`${answers.refused} answers to ${path} were not ${status}`);
      return { measurement, perSec: answers.ok / seconds };
    };
    const metrics = await measureDuring(
      '/metrics',
      { authorization: `Bearer ${METRICS_TOKEN}` },
      200,
    );
    const paced = await measureDuring(
      '/metrics',
      { authorization: `Bearer ${METRICS_TOKEN}` },
      200,
      PACED_INTERVAL_MS,
    );
    const floor = await measureDuring('/no-such-path', {}, 404);
    await client.close();

    return {
      sessions,
      scrapers: SCRAPERS,
      storeAggregate,
      quiet,
      flood: metrics.measurement,
      scrapesPerSec: metrics.perSec,
      paced: paced.measurement,
      pacedIntervalMs: PACED_INTERVAL_MS,
      floor: floor.measurement,
      floorRequestsPerSec: floor.perSec,
    };
  } finally {
    if (server) await stopReferenceServer(server.child);
    await location.destroy?.(url);
  }
}

/** Resolves `started` at the worker's first expected answer, `done` with its counts once stopped. */
function scraperSignals(worker: Worker): {
  started: Promise<void>;
  done: Promise<{ ok: number; refused: number }>;
} {
  let onStarted: () => void = () => {};
  let onDone: (counts: { ok: number; refused: number }) => void = () => {};
  const failed = new Promise<never>((_, reject) => worker.once('error', reject));
  worker.on('message', (message: { started: true } | { ok: number; refused: number }) => {
    if ('started' in message) onStarted();
    else onDone(message);
  });
  return {
    started: Promise.race([new Promise<void>((resolve) => (onStarted = resolve)), failed]),
    done: Promise.race([
      new Promise<{ ok: number; refused: number }>((resolve) => (onDone = resolve)),
      failed,
    ]),
  };
}

/** `apps/server` as a child process on a free port, over the store at `url`. */
async function startReferenceServer(url: string): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(
    process.execPath,
    ['--conditions=@mcp-session/source', '--import', TSX, SERVER_MAIN],
    {
      cwd: fileURLToPath(new URL('../../../server/', import.meta.url)),
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: '0',
        SESSION_STORE_URL: url,
        MCP_TOKENS: `${MCP_TOKEN}=bench`,
        METRICS_TOKEN,
        INSTANCE_NAME: 'bench',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const base = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[^/\s]+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) =>
      reject(new Error(`reference server exited with ${code} before listening:\n${output}`)),
    );
  });
  return { child, base };
}

async function stopReferenceServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
