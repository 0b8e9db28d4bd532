import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { postHeaders, rawInitialize, sqliteStore, startServer, stopAllServers } from './helpers.js';

afterAll(stopAllServers);

it('opens SESSION_STORE_URL from any working directory: the adapters resolve from the app', async () => {
  const store = await sqliteStore();
  // A working directory with no node_modules anywhere above it, and no NODE_PATH (the package manager's
  // bin shims set one that reaches every hoisted package): only the app can resolve the adapter.
  const elsewhere = await mkdtemp(join(tmpdir(), 'mcp-e2e-cwd-'));
  try {
    const server = await startServer({ SESSION_STORE_URL: store.url, NODE_PATH: '' }, 0, elsewhere);
    const health = await fetch(`${server.base}/healthz`);
    expect(health.status).toBe(200);
    const { status, sessionId } = await rawInitialize(server.url);
    expect(status).toBe(200);
    const ping = await fetch(server.url, {
      method: 'POST',
      headers: postHeaders({ 'mcp-session-id': sessionId }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
    });
    expect(ping.status).toBe(200);
    await server.stop('SIGTERM');
  } finally {
    await rm(elsewhere, { recursive: true, force: true });
    await store.cleanup();
  }
});
