import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { type Clock, createStore, parsePathUrl, SessionManager } from '@mcp-session/core';
import {
  createMcpSessionHandler,
  createMetricsExporter,
  type McpSessionHandler,
  type MetricsExporter,
} from '@mcp-session/mcp';
import { createDualEraListener } from '@mcp-session/mcp/dual-era';
import { StateHandles } from '@mcp-session/mcp/handles';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { authenticate } from './auth.js';
import type { ServerConfig } from './config.js';
import { handleServer, MINT_TOOL } from './handle-tools.js';
import { describeError, escapeLogText, type Log } from './log.js';
import { referenceServer } from './tools.js';

/** The wall clock plus an offset that only the test controls move. */
class OffsetClock implements Clock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
}

/** A running reference server. */
export interface ReferenceServer {
  /** The MCP endpoint, e.g. `http://127.0.0.1:3000/mcp`. */
  url: string;
  manager: SessionManager;
  /** The 2025-era session endpoint (SDK 1.x). */
  handler: McpSessionHandler;
  /** The state handles of 2026-era clients, in the same manager. */
  handles: StateHandles;
  /** What `/metrics` serves. */
  metrics: MetricsExporter;
  /** Stops accepting requests, closes transports and the store. Sessions stay in the store. */
  close(): Promise<void>;
}

/** Opens the store, builds the MCP handler and listens. */
export async function startReferenceServer(
  config: ServerConfig,
  log: Log = console,
): Promise<ReferenceServer> {
  prepareStoreLocation(config.storeUrl);
  const clock = new OffsetClock();
  const manager = new SessionManager({
    // The adapters ship beside this app: resolve a scheme's package from here, whatever the working
    // directory (core alone looks next to itself, then in the working directory).
    store: await createStore(config.storeUrl, { resolveFrom: [import.meta.url] }),
    clock,
    idleTimeoutMs: config.idleTimeoutMs,
    maxLifetimeMs: config.maxLifetimeMs,
    historyCap: config.historyCap,
    maxSessionsPerOwner: config.maxSessionsPerOwner,
    maxSessions: config.maxSessions,
    ...(config.encryption === undefined ? {} : { encryption: config.encryption }),
  });
  const handler = await createMcpSessionHandler({
    sessions: manager,
    server: referenceServer(config.instanceName),
    owner: ({ authInfo }) => authInfo?.clientId ?? null,
    evictAfterMs: config.evictAfterMs,
    sweepIntervalMs: config.sweepIntervalMs,
    maxLiveSessions: config.maxLiveSessions,
    maxLiveSessionsPerOwner: config.maxLiveSessionsPerOwner,
    maxOpenStreamsPerOwner: config.maxOpenStreamsPerOwner,
    // Host and Origin are checked by the handler, on both eras' requests (DNS-rebinding protection).
    ...(config.allowedHosts === undefined ? {} : { allowedHosts: config.allowedHosts }),
    ...(config.allowedOrigins === undefined ? {} : { allowedOrigins: config.allowedOrigins }),
    onerror: (error, sessionId) => {
      // Never log whole session ids: they are bearer secrets of their session.
      const session = sessionId ? `session ${escapeLogText(sessionId.slice(0, 6))}…: ` : '';
      log.warn(`[mcp] ${session}${escapeLogText(error.message)}`);
    },
  });
  // 2026-07-28 clients: no protocol session; state lives behind handles in the same store, bound to the
  // same owner (`authInfo.clientId`) as the sessions, with the same idle timeout and lifetime.
  const handles = new StateHandles(manager, { mintTool: MINT_TOOL });
  const modern = createMcpHandler(handleServer(handles, config.instanceName), {
    legacy: 'reject',
    onerror: (error) => log.warn(`[mcp 2026] ${escapeLogText(error.message)}`),
  });
  // One endpoint for both eras: 2025 requests to the session handler, 2026 ones to the SDK 2.x handler.
  const mcp = createDualEraListener({ sessions: handler, modern });
  // Store aggregates are refreshed on a timer and never computed by a scrape.
  const metrics = createMetricsExporter({
    manager,
    handler,
    handles,
    refreshIntervalMs: config.metricsRefreshIntervalMs,
    instance: config.instanceName,
    ...(config.metricsToken === undefined ? {} : { token: config.metricsToken }),
    onerror: (error) =>
      log.warn(`[metrics] store aggregate failed: ${escapeLogText(error.message)}`),
  });

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' && req.method === 'GET') return healthz(res);
    if (path === '/metrics') return metrics.nodeListener(req, res);
    if (config.testControls && path?.startsWith('/_test/') && req.method === 'POST') {
      return testControl(path, new URL(req.url ?? '/', 'http://x').searchParams, res);
    }
    if (path === handler.path || path === `${handler.path}/`) {
      if (!authenticate(req, res, config.tokens)) return;
      return mcp(req, res);
    }
    jsonRpcError(
      res,
      404,
      -32000,
      'Not Found: this server answers MCP on its MCP path, /healthz and /metrics.',
    );
  };

  const healthz = async (res: ServerResponse) => {
    try {
      await manager.getSession('healthz-probe-session-id');
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'ok', instance: config.instanceName }));
    } catch {
      // Anyone can probe /healthz: the backend's message (hosts, ports, driver errors) is not theirs to read.
      res
        .writeHead(503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'store unavailable', instance: config.instanceName }));
    }
  };

  const testControl = async (path: string, params: URLSearchParams, res: ServerResponse) => {
    if (path === '/_test/advance-clock') {
      clock.offsetMs += Number(params.get('ms') ?? 0);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ offsetMs: clock.offsetMs }));
    } else if (path === '/_test/sweep') {
      const swept = await handler.sweep();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ swept }));
    } else {
      res.writeHead(404).end();
    }
  };

  const server = createServer(
    {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      keepAliveTimeout: config.keepAliveTimeoutMs,
      // Both timeouts are enforced when node checks its connections, so check often enough for them to
      // hold within a quarter of the headers timeout (node's default is every 30 s).
      connectionsCheckingInterval: Math.min(30_000, Math.ceil(config.headersTimeoutMs / 4)),
    },
    (req, res) => {
      route(req, res).catch((error: unknown) => {
        log.error(`[server] request failed: ${describeError(error)}`);
        if (!res.headersSent) return jsonRpcError(res, 500, -32603, 'Internal error');
        res.end();
      });
    },
  );
  server.maxConnections = config.maxConnections;
  const dropped = rateLimitedCount((count) =>
    log.warn(
      `[server] refused ${count} connection(s): HTTP_MAX_CONNECTIONS (${config.maxConnections}) are open`,
    ),
  );
  server.on('drop', dropped);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}${handler.path}`,
    manager,
    handler,
    handles,
    metrics,
    close: () => {
      closing ??= (async () => {
        server.close();
        metrics.close();
        await modern.close();
        await handler.close();
        server.closeAllConnections();
        await manager.close();
      })();
      return closing;
    },
  };
}

/** Answers with a JSON-RPC error body, as every error answer of the MCP endpoint does. */
function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

const REPORT_INTERVAL_MS = 60_000;

/**
 * Counts events and reports the count at most once per minute (the first at once), so a flood makes one
 * log line a minute, not one per event.
 */
function rateLimitedCount(report: (count: number) => void): () => void {
  let count = 0;
  let reportedAt = Number.NEGATIVE_INFINITY;
  return () => {
    count++;
    const now = performance.now();
    if (now - reportedAt < REPORT_INTERVAL_MS) return;
    reportedAt = now;
    report(count);
    count = 0;
  };
}

/** Creates the directory a `sqlite:` or `file:` store URL points into. */
function prepareStoreLocation(url: string): void {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== 'sqlite' && scheme !== 'file') return;
  const { path } = parsePathUrl(url);
  if (path === ':memory:') return;
  mkdirSync(scheme === 'sqlite' ? dirname(path) : path, { recursive: true });
}
