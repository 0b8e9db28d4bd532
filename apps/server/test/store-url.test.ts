import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSessionError } from '@mcp-session/core';
import { storeUrlsWithSecret, URL_SECRET } from '@mcp-session/test-utils';
import { afterAll, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startReferenceServer } from '../src/server.js';
import { postHeaders, rawInitialize, sqliteStore, startServer, stopAllServers } from './helpers.js';

const silentLog = { warn: () => {}, error: () => {} };

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

it('refuses a SESSION_STORE_URL carrying a password, in any form, without printing it (regression: a URL without a scheme printed its password)', async () => {
  // Relative local paths would be created in the app's directory before the URL is refused.
  const forms = storeUrlsWithSecret().filter((url) => !/^(sqlite|file):\.\//.test(url));
  for (const url of forms) {
    const error = await startReferenceServer(
      loadConfig({ SESSION_STORE_URL: url, PORT: '0' }),
      silentLog,
    ).catch((caught: unknown) => caught);
    expect(isSessionError(error, 'INVALID_STORE_URL'), `${url}: ${String(error)}`).toBe(true);
    expect(String((error as Error).stack), url).not.toContain(URL_SECRET);
    expect(String((error as Error).stack), url).not.toContain('Hunter%32pw');
  }
  const elsewhere = await mkdtemp(join(tmpdir(), 'mcp-e2e-secret-'));
  try {
    for (const url of [
      `user:${URL_SECRET}@db.example/app`,
      `file:./sessions?token=${URL_SECRET}`,
    ]) {
      const failed = await startServer({ SESSION_STORE_URL: url }, 0, elsewhere).catch(
        (caught: Error) => caught,
      );
      expect(failed).toBeInstanceOf(Error);
      expect((failed as Error).message).toMatch(/^server exited with 1 before listening/);
      expect((failed as Error).message).toContain('INVALID_STORE_URL');
      expect((failed as Error).message).not.toContain(URL_SECRET);
    }
  } finally {
    await rm(elsewhere, { recursive: true, force: true });
  }
});

it('refuses at start a store the URL cannot mean: a Redis database the server lacks, a Postgres system schema', async () => {
  const redis = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  redis.pathname = '/99';
  const postgres = new URL(process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  postgres.searchParams.set('schema', 'information_schema');
  for (const [url, message] of [
    [redis.toString(), /refused database 99/],
    [postgres.toString(), /not a system schema/],
  ] as const) {
    const error = await startReferenceServer(
      loadConfig({ SESSION_STORE_URL: url, PORT: '0' }),
      silentLog,
    ).catch((caught: unknown) => caught);
    expect(isSessionError(error, 'INVALID_STORE_URL'), `${url}: ${String(error)}`).toBe(true);
    expect((error as Error).message).toMatch(message);
  }
});
