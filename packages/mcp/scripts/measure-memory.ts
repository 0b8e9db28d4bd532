/**
 * Measures the V8 heap a held session costs, and what an evicted one leaves behind. Run with
 * `pnpm run measure:memory [sessions] [demo|bare]`. Sessions live in an in-memory SQLite database,
 * whose pages are outside the V8 heap, so the numbers are the in-process cost: SDK transport and server
 * (with the tests' eight tools for "demo", none for "bare"), event store and bookkeeping. Prints one JSON
 * line.
 */
import { ManualClock, SessionManager } from '@mcp-session/core';
import { SqliteSessionStore } from '@mcp-session/sqlite';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { createMcpSessionHandler } from '../src/index.js';
import { demoServer } from '../test/helpers.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('Run with node --expose-gc');
const sessions = Number(process.argv[2] ?? 1000);
// "demo": the tests' server with eight tools; "bare": an McpServer without tools (the glue's own cost).
const variant = process.argv[3] ?? 'demo';
const factory =
  variant === 'bare' ? () => new McpServer({ name: 'bare', version: '1.0.0' }) : demoServer;

// A manual clock lets the script evict every held session at once, without waiting.
const clock = new ManualClock();
const manager = new SessionManager({
  clock,
  store: new SqliteSessionStore({ database: ':memory:' }),
});
const handler = await createMcpSessionHandler({
  sessions: manager,
  server: factory,
  sweepIntervalMs: null,
  evictAfterMs: 1_000,
  maxLiveSessions: sessions * 2,
});

async function initialize(): Promise<void> {
  const response = await handler.handleRequest(
    new Request('http://127.0.0.1/mcp', {
      method: 'POST',
      headers: {
        accept: 'application/json, text/event-stream',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: LATEST_PROTOCOL_VERSION,
          capabilities: { roots: {} },
          clientInfo: { name: 'memory-probe', version: '1.0.0' },
        },
      }),
    }),
  );
  await response.text();
}

async function evictAll(): Promise<void> {
  clock.advance(1_000);
  await handler.evictIdle();
}

function heap(): number {
  for (let i = 0; i < 4; i++) gc?.();
  return process.memoryUsage().heapUsed;
}

// A full warm-up round first: JIT code, lazily built SDK schemas and grown hash tables are one-time
// costs that would otherwise be counted against the measured sessions.
for (let i = 0; i < sessions; i++) await initialize();
await evictAll();
const baseline = heap();
for (let i = 0; i < sessions; i++) await initialize();
const held = heap();
const live = handler.stats().liveSessions;
await evictAll();
const afterFirstEviction = heap();
// One more round: anything an evicted session leaves behind grows the heap again by the same amount.
for (let i = 0; i < sessions; i++) await initialize();
await evictAll();
const afterSecondEviction = heap();
const result = {
  variant,
  sessions,
  liveWhileHeld: live,
  liveAfterEviction: handler.stats().liveSessions,
  heldBytesPerSession: Math.round((held - baseline) / sessions),
  evictedBytesPerSession: Math.round((afterFirstEviction - baseline) / sessions),
  growthBytesPerSessionInNextRound: Math.round(
    (afterSecondEviction - afterFirstEviction) / sessions,
  ),
};
await handler.close();
await manager.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
