import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  JsonValue,
  LogEntry,
  SessionRecord,
  SessionState,
  SessionStore,
} from '@mcp-session/core';
import { inject } from 'vitest';
import { createDashboard, type Dashboard, type DashboardOptions } from '../src/index.ts';

export const newToken = () => randomBytes(32).toString('base64url');

/** A dashboard over `store`, served by node:http on a free loopback port. */
export interface ServedDashboard {
  dashboard: Dashboard;
  token: string;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  port: number;
  close(): Promise<void>;
}

export async function serveDashboard(
  store: SessionStore,
  options: Partial<DashboardOptions> = {},
): Promise<ServedDashboard> {
  const token = options.token ?? newToken();
  const dashboard = createDashboard({ assetsDir: inject('assetsDir'), ...options, store, token });
  const server: Server = createServer(dashboard.nodeListener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    dashboard,
    token,
    port,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

const STATES: readonly SessionState[] = [
  'active',
  'active',
  'active',
  'idle',
  'suspended',
  'closed',
];
export const OWNERS = 40;

/** What `seed` made, for the checks. */
export interface Seeded {
  now: number;
  /** A session with a long history and a sealed event log, for paging. */
  target: string;
  historyLength: number;
}

/**
 * Seeds `count` sessions through `create`, in batches: every state, bound to one of 40 owners or
 * unbound, some expired and not swept, message counts that vary. One target session gets 45 history
 * entries and an `sse` log of sealed strings.
 */
export async function seed(store: SessionStore, count: number, now: number): Promise<Seeded> {
  const batch = 250;
  const historyLength = 45;
  const target = 'f'.repeat(64);
  for (let start = 0; start < count; start += batch) {
    const creates: Promise<void>[] = [];
    for (let i = start; i < Math.min(count, start + batch); i++) {
      creates.push(store.create(record(i, now), { now }));
    }
    await Promise.all(creates);
  }
  const history: LogEntry[] = Array.from({ length: historyLength }, (_, k) => ({
    seq: k + 1,
    at: now - 60_000 + k * 1_000,
    data: { role: k % 2 === 0 ? 'user' : 'assistant', content: `message ${k + 1}` },
  }));
  const sse: LogEntry[] = Array.from({ length: 3 }, (_, k) => ({
    seq: k + 1,
    at: now - 1_000 + k,
    data: randomBytes(60).toString('base64url'),
  }));
  await store.create(
    {
      ...record(count, now),
      id: target,
      state: 'active',
      owner: 'user:7',
      expiresAt: now + 3_600_000,
      messageCount: historyLength,
      context: {
        cart: {
          items: [
            { sku: 'A-1', qty: 2 },
            { sku: 'B-7', qty: 1 },
          ],
          total: 31.5,
        },
        locale: 'de-DE',
        flags: { beta: true, note: null },
      },
    },
    { now, logs: { history, sse } },
  );
  return { now, target, historyLength };
}

function record(i: number, now: number): SessionRecord {
  const expired = i % 17 === 0;
  const context: Record<string, JsonValue> = { n: i, topic: `topic ${i % 9}` };
  return {
    id: randomBytes(32).toString('hex'),
    state: STATES[i % STATES.length] ?? 'active',
    context,
    metadata: { protocolVersion: '2025-11-25', clientInfo: { name: 'seed', version: '1.0.0' } },
    owner: i % 5 === 0 ? null : `user:${i % OWNERS}`,
    createdAt: now - 86_400_000 + i * 1_000,
    lastActivityAt: now - (i % 600) * 1_000,
    expiresAt: expired ? now - 1_000 : i % 7 === 0 ? null : now + 1_800_000 + i,
    version: 1,
    messageCount: i % 23,
  };
}
