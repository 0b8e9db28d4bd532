import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { type Clock, createStore, parsePathUrl, SessionManager } from '@mcp-session/core';
import { createMcpSessionHandler, type McpSessionHandler } from '@mcp-session/mcp';
import { createDualEraListener } from '@mcp-session/mcp/dual-era';
import { StateHandles } from '@mcp-session/mcp/handles';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { authenticate, isAllowedOrigin } from './auth.js';
import type { ServerConfig } from './config.js';
import { handleServer, MINT_TOOL } from './handle-tools.js';
import { renderMetrics } from './metrics.js';
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
  /** Stops accepting requests, closes transports and the store. Sessions stay in the store. */
  close(): Promise<void>;
}

/** Opens the store, builds the MCP handler and listens. */
export async function startReferenceServer(
  config: ServerConfig,
  log: Pick<Console, 'error' | 'warn'> = console,
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
  });
  const handler = await createMcpSessionHandler({
    sessions: manager,
    server: referenceServer(config.instanceName),
    owner: ({ authInfo }) => authInfo?.clientId ?? null,
    evictAfterMs: config.evictAfterMs,
    sweepIntervalMs: config.sweepIntervalMs,
    onerror: (error, sessionId) => {
      // Never log whole session ids: they are bearer secrets of their session.
      log.warn(`[mcp] ${sessionId ? `session ${sessionId.slice(0, 6)}…: ` : ''}${error.message}`);
    },
  });
  // 2026-07-28 clients: no protocol session; state lives behind handles in the same store, bound to the
  // same owner (`authInfo.clientId`) as the sessions, with the same idle timeout and lifetime.
  const handles = new StateHandles(manager, { mintTool: MINT_TOOL });
  const modern = createMcpHandler(handleServer(handles, config.instanceName), {
    legacy: 'reject',
    onerror: (error) => log.warn(`[mcp 2026] ${error.message}`),
  });
  // One endpoint for both eras: 2025 requests to the session handler, 2026 ones to the SDK 2.x handler.
  const mcp = createDualEraListener({ sessions: handler, modern });

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' && req.method === 'GET') return healthz(res);
    if (path === '/metrics' && req.method === 'GET') {
      const body = await renderMetrics(manager, handler, handles, config.instanceName);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
      return;
    }
    if (config.testControls && path?.startsWith('/_test/') && req.method === 'POST') {
      return testControl(path, new URL(req.url ?? '/', 'http://x').searchParams, res);
    }
    if (path === handler.path || path === `${handler.path}/`) {
      if (!isAllowedOrigin(req)) {
        res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden origin');
        return;
      }
      if (!authenticate(req, res, config.tokens)) return;
      return mcp(req, res);
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
  };

  const healthz = async (res: ServerResponse) => {
    try {
      await manager.getSession('healthz-probe-session-id');
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'ok', instance: config.instanceName }));
    } catch (error) {
      res
        .writeHead(503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'store unavailable', error: (error as Error).message }));
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

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      log.error('[server] request failed:', error);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end();
    });
  });
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
    close: () => {
      closing ??= (async () => {
        server.close();
        await modern.close();
        await handler.close();
        server.closeAllConnections();
        await manager.close();
      })();
      return closing;
    },
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
