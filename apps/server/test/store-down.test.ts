import { freshRedisPrefix, REDIS_URL, removeRedisPrefix } from '@mcp-session/test-utils/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auth,
  callTool,
  connectHandleClient,
  type HandleClient,
  postHeaders,
  rawInitialize,
  type ServerProcess,
  startServer,
  startTcpProxy,
  stopAllServers,
  type TcpProxy,
  TOKENS_ENV,
  textOf,
} from './helpers.js';

const UNAVAILABLE = 'Session store unavailable; retry shortly.';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

/*
 * The reference server on Redis reached through a TCP proxy; cutting the proxy takes the store down for
 * real (the server's Redis client sees its connections drop and new ones refused).
 */
describe('with the store down', () => {
  const prefix = freshRedisPrefix('store-down');
  let proxy: TcpProxy;
  let server: ServerProcess;
  let modern: HandleClient;
  let handle: string;
  let sessionId: string;

  beforeAll(async () => {
    const redis = new URL(REDIS_URL);
    proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    server = await startServer({
      SESSION_STORE_URL: `redis://127.0.0.1:${proxy.port}?prefix=${prefix}&commandTimeoutMs=1000`,
      MCP_TOKENS: TOKENS_ENV,
      METRICS_TOKEN,
      METRICS_REFRESH_INTERVAL_MS: '200',
      INSTANCE_NAME: 'store-down',
    });
    modern = await connectHandleClient(server.url, 'alice');
    handle = (textOf(await callTool(modern.client, 'open_state', {})) as { handle: string }).handle;
    ({ sessionId } = await rawInitialize(server.url, auth('alice')));
    expect(sessionId).not.toBe('');
    proxy.cut();
  });

  afterAll(async () => {
    await modern?.client.close();
    await stopAllServers();
    await proxy?.close();
    await removeRedisPrefix(prefix);
  });

  it('2026 leg: a handle tool and the minting tool get JSON-RPC error -32603 without internal details (pins: 200 with the backend’s message)', async () => {
    for (const [name, args] of [
      ['remember', { handle, key: 'k', value: 'v' }],
      ['open_state', {}],
    ] as const) {
      const error = (await callTool(modern.client, name, args).then(
        (result) => ({ result }),
        (thrown: unknown) => thrown,
      )) as { code?: unknown; message?: string; result?: unknown };
      expect(error.result, name).toBeUndefined();
      expect(error.code, name).toBe(-32603);
      expect(error.message, name).toContain(UNAVAILABLE);
      expect(error.message, name).not.toMatch(/redis|127\.0\.0\.1|failed:|ECONN/i);
    }
  });

  it('2025 leg: 503 with Retry-After and a JSON-RPC body, nothing of the backend', async () => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: postHeaders({ ...auth('alice'), 'mcp-session-id': sessionId }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toEqual({
      jsonrpc: '2.0',
      error: { code: -32603, message: UNAVAILABLE },
      id: null,
    });
  });

  it('/healthz: 503 without the backend’s message', async () => {
    const response = await fetch(`${server.base}/healthz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: 'store unavailable', instance: 'store-down' });
  });

  it('/metrics keeps answering from the last aggregate and counts the failed refreshes', async () => {
    const scrape = async () => {
      const response = await fetch(`${server.base}/metrics`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      expect(response.status).toBe(200);
      return response.text();
    };
    await expect
      .poll(
        async () =>
          Number(
            /^mcp_store_stats_refresh_failures_total\{[^}]*\} (\d+)$/m.exec(await scrape())?.[1],
          ),
        { timeout: 15_000 },
      )
      .toBeGreaterThan(0);
    expect(await scrape()).toMatch(/^mcp_sessions\{state="active"\} \d+$/m);
    expect(server.output.join('')).toContain('[metrics] store aggregate failed: ');
  });

  it('recovers on its own once the store is back', async () => {
    proxy.restore();
    await expect
      .poll(
        async () =>
          callTool(modern.client, 'recall', { handle, key: 'k' }).then(
            (result) => textOf(result),
            () => 'still down',
          ),
        { timeout: 20_000, interval: 250 },
      )
      .toEqual({ key: 'k', value: null });
  });
});
