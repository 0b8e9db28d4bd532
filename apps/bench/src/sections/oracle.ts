import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createStore, SessionManager } from '@mcp-session/core';
import { createMcpSessionHandler } from '@mcp-session/mcp';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { type Backend, locations } from '../backends.js';

/** Median and 90th percentile of one kind of request, milliseconds. */
export interface Latency {
  p50Ms: number;
  p90Ms: number;
}

/** One way of asking: the three kinds of 404, and the ratios between them. */
export interface OracleChannel {
  /** 404s for another owner's existing session id, whose context holds `contextBytes`. */
  foreign: Latency;
  /** 404s for random ids of the same shape (none exists). */
  random: Latency;
  /** A second set of random-id 404s, interleaved with the other two: the noise floor. */
  randomAgain: Latency;
  /** foreign / random, for p50 and p90: what one 404 tells about an id. */
  ratio: { p50: number; p90: number };
  /** randomAgain / random: how far two identical sets differ on this machine, this run. */
  noise: { p50: number; p90: number };
}

export interface OracleResult {
  backend: Backend;
  /** Size of the foreign session's context as JSON, bytes. */
  contextBytes: number;
  /** Measured requests of each kind per channel (after an unmeasured warm-up of the same mix). */
  samples: number;
  /** Through `createMcpSessionHandler` over HTTP on loopback, as an attacker probes. */
  http: OracleChannel;
  /**
   * `SessionManager.getSession(id, { owner })` in process: the store's part alone, without the HTTP
   * stack's noise (the handler answers a foreign id with exactly this call).
   */
  manager: OracleChannel;
}

const OWNER = 'bench-oracle-alice';
const STRANGER = 'bench-oracle-mallory';
/** Just under the manager's default context limit (1 MiB): 15 keys of 64 KiB strings. */
const CONTEXT = Object.fromEntries(
  Array.from({ length: 15 }, (_, i) => [`k${i}`, 'x'.repeat(64 * 1024)]),
);
const WARM_UP_ROUNDS = 100;

type Kind = 'foreign' | 'random' | 'randomAgain';
const KINDS: readonly Kind[] = ['foreign', 'random', 'randomAgain'];

/**
 * The existence oracle of issue 15: is a 404 for another owner's existing session id slower than one for
 * an id that does not exist? Through the real handler (`createMcpSessionHandler`) over HTTP on loopback,
 * as an attacker would probe it, with the owner taken from a request header: `samples` rounds, each
 * sending one request of every kind in a random order, so drift (GC, caches, other load) hits all kinds
 * alike. The foreign session is created through the manager, not held by this handler, so every request
 * goes to the store, as it would on any instance that did not create it. The same rounds are then run
 * on `SessionManager.getSession` directly, the store's part without the HTTP stack's noise.
 */
export async function oracle(backend: Backend, samples: number): Promise<OracleResult> {
  const location = locations[backend];
  const url = await location.url();
  const manager = new SessionManager({ store: await createStore(url) });
  const handler = await createMcpSessionHandler({
    sessions: manager,
    server: () => new McpServer({ name: 'bench-oracle', version: '1.0.0' }),
    owner: ({ request }) => request.headers.get('x-bench-owner'),
    sweepIntervalMs: null,
  });
  const server = createServer(handler.nodeListener);
  try {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const endpoint = `http://127.0.0.1:${port}/mcp`;
    const foreign = await manager.createSession({ owner: OWNER, context: CONTEXT });

    const probe = async (id: string): Promise<number> => {
      const start = process.hrtime.bigint();
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-11-25',
          'mcp-session-id': id,
          'x-bench-owner': STRANGER,
        },
        body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
      });
      await response.arrayBuffer();
      const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
      if (response.status !== 404) throw new Error(`expected 404, got ${response.status}`);
      return elapsed;
    };
    // Each kind probes one id again and again, as a stranger probing an id does: the manager caches the
    // digests of ids it has seen, so fresh random ids against one repeated foreign id would measure that
    // cache (a hash, about a microsecond) instead of the store. Random ids have the shape the manager
    // mints (24 random bytes, base64url).
    const absent = {
      random: randomBytes(24).toString('base64url'),
      randomAgain: randomBytes(24).toString('base64url'),
    };
    const idOf = (kind: Kind) => (kind === 'foreign' ? foreign.id : absent[kind]);

    const managerProbe = async (id: string): Promise<number> => {
      const start = process.hrtime.bigint();
      const session = await manager.getSession(id, { owner: STRANGER });
      const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
      if (session !== null) throw new Error('a stranger saw the session');
      return elapsed;
    };
    return {
      backend,
      contextBytes: Buffer.byteLength(JSON.stringify(CONTEXT)),
      samples,
      http: await interleaved(probe, idOf, samples),
      manager: await interleaved(managerProbe, idOf, samples),
    };
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await handler.close();
    await manager.close();
    await location.destroy?.(url);
  }
}

/** `samples` rounds (after a warm-up), each probing one id of every kind in a random order. */
async function interleaved(
  probe: (id: string) => Promise<number>,
  idOf: (kind: Kind) => string,
  samples: number,
): Promise<OracleChannel> {
  const latencies: Record<Kind, number[]> = { foreign: [], random: [], randomAgain: [] };
  for (let round = 0; round < WARM_UP_ROUNDS + samples; round++) {
    for (const kind of shuffled(KINDS)) {
      const elapsed = await probe(idOf(kind));
      if (round >= WARM_UP_ROUNDS) latencies[kind].push(elapsed);
    }
  }
  const foreign = latencyOf(latencies.foreign);
  const random = latencyOf(latencies.random);
  const randomAgain = latencyOf(latencies.randomAgain);
  return {
    foreign,
    random,
    randomAgain,
    ratio: { p50: foreign.p50Ms / random.p50Ms, p90: foreign.p90Ms / random.p90Ms },
    noise: { p50: randomAgain.p50Ms / random.p50Ms, p90: randomAgain.p90Ms / random.p90Ms },
  };
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

function latencyOf(values: number[]): Latency {
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
  return { p50Ms: at(0.5), p90Ms: at(0.9) };
}
