import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, DashboardApi } from './api.js';
import { AssetFiles } from './assets.js';
import { type DashboardOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { bearerToken, cookieName, readCookie, SECURITY_HEADERS, tokenMatches } from './security.js';

/** Largest request body accepted (the write actions send a few bytes of JSON). */
const MAX_BODY_BYTES = 16 * 1024;
/** The built assets have content-hashed names; they may be kept as long as a browser likes. */
const ASSET_CACHE = 'private, max-age=31536000, immutable';

/** A mounted dashboard: one handler, in the two shapes servers take. */
export interface Dashboard {
  /** Web-standard handler (`Request` → `Response`), for fetch-based servers (Hono, Bun, Deno, workers). */
  fetch(request: Request): Promise<Response>;
  /** Node `http` listener: `createServer(dashboard.nodeListener)` or a route in Express/Fastify. */
  nodeListener(request: IncomingMessage, response: ServerResponse): void;
  /** The path the dashboard is mounted at (`basePath`), ending in `/`. */
  readonly basePath: string;
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(`${body}\n`, {
    status,
    headers: {
      ...SECURITY_HEADERS,
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      ...headers,
    },
  });
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      ...SECURITY_HEADERS,
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    },
  });
}

/**
 * Creates the dashboard over a store. Every request must carry the token (`?token=` once, on the page's
 * URL; then the cookie it sets, or `Authorization: Bearer`), come to an allowed host and, when it has an
 * `Origin`, from the dashboard's own origin or an allowed one.
 * @throws InvalidValueError for a bad option (the message names it, never the token).
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  const resolved = resolveOptions(options);
  const api = new DashboardApi(resolved);
  const assets = new AssetFiles(resolved.assetsDir);
  const fetch = (request: Request) => handle(resolved, api, assets, request);
  return {
    fetch,
    nodeListener: (req, res) => {
      void serveNode(fetch, req, res).catch((error) => {
        resolved.onError(error);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end();
      });
    },
    basePath: resolved.basePath,
  };
}

async function handle(
  options: ResolvedOptions,
  api: DashboardApi,
  assets: AssetFiles,
  request: Request,
): Promise<Response> {
  const url = new URL(request.url);
  // Checked before the token: a page on another site that resolves its own name to 127.0.0.1 (DNS
  // rebinding) reaches the server with its own Host.
  if (!options.allowedHosts.has(url.hostname.toLowerCase())) {
    return text(
      403,
      `403: this dashboard does not answer on this host name (allowed: ${[...options.allowedHosts].join(', ')}; see the allowedHosts option)`,
    );
  }
  const origin = request.headers.get('origin');
  const method = request.method.toUpperCase();
  if (origin !== null && origin !== url.origin && !options.allowedOrigins.has(origin)) {
    return text(
      403,
      '403: requests from other origins are refused (see the allowedOrigins option)',
    );
  }
  if (method === 'POST' && origin === null) {
    return text(403, '403: a change must come from the dashboard page (no Origin header)');
  }
  const { basePath } = options;
  const mountPath = basePath.slice(0, -1);
  if (!url.pathname.startsWith(basePath) && url.pathname !== mountPath) {
    return text(404, '404: not part of the dashboard');
  }
  const path = url.pathname === mountPath ? null : url.pathname.slice(basePath.length);

  const cookie = cookieName(options.token);
  const queryToken = url.searchParams.get('token');
  const fromQuery =
    queryToken !== null &&
    (method === 'GET' || method === 'HEAD') &&
    (path === '' || path === null);
  const presented = fromQuery
    ? queryToken
    : (bearerToken(request.headers.get('authorization')) ??
      readCookie(request.headers.get('cookie'), cookie));
  if (!tokenMatches(presented, options.token)) {
    return text(
      401,
      '401: this dashboard needs its token: open the URL with ?token=… that started it',
    );
  }
  if (fromQuery || path === null) {
    // The token moves from the URL into a cookie the page's scripts cannot read, and the address bar
    // (history, screenshots, Referer) stops showing it.
    const clean = new URL(url);
    clean.pathname = basePath;
    clean.searchParams.delete('token');
    const secure = url.protocol === 'https:' ? '; Secure' : '';
    return new Response(null, {
      status: 303,
      headers: {
        ...SECURITY_HEADERS,
        location: `${clean.pathname}${clean.search}`,
        'cache-control': 'no-store',
        ...(fromQuery
          ? {
              'set-cookie': `${cookie}=${encodeURIComponent(options.token)}; Path=${basePath}; HttpOnly; SameSite=Strict${secure}`,
            }
          : {}),
      },
    });
  }

  try {
    if (method === 'GET' || method === 'HEAD') {
      if (path === '') {
        const page = await assets.page();
        if (!page) return text(500, '500: the dashboard front-end is missing (index.html)');
        return new Response(page.body, {
          headers: {
            ...SECURITY_HEADERS,
            'content-type': page.contentType,
            'cache-control': 'no-store',
          },
        });
      }
      if (path.startsWith('assets/')) {
        const asset = await assets.asset(path.slice('assets/'.length));
        if (!asset) return text(404, '404: no such asset');
        return new Response(asset.body, {
          headers: {
            ...SECURITY_HEADERS,
            'content-type': asset.contentType,
            'cache-control': ASSET_CACHE,
          },
        });
      }
    }
    if (path.startsWith('api/'))
      return await routeApi(api, method, path.slice(4), url.searchParams, request);
    return text(404, '404: not part of the dashboard');
  } catch (error) {
    if (error instanceof ApiError)
      return json(error.status, { error: error.code, message: error.message });
    // Store failures and bugs: the message may hold a URL or a driver's words, so the client gets none.
    options.onError(error);
    return json(503, {
      error: 'UNAVAILABLE',
      message: 'the store did not answer; see the server log',
    });
  }
}

const SESSION_PATH = /^sessions\/([^/]+)$/;
const LOG_PATH = /^sessions\/([^/]+)\/logs\/([^/]+)$/;
const CLOSE_PATH = /^sessions\/([^/]+)\/close$/;

async function routeApi(
  api: DashboardApi,
  method: string,
  path: string,
  query: URLSearchParams,
  request: Request,
): Promise<Response> {
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new ApiError(400, 'BAD_REQUEST', 'the path is not valid');
    }
  };
  if (method === 'GET') {
    if (path === 'config') return json(200, api.config());
    if (path === 'stats') return json(200, await api.stats());
    if (path === 'sessions') return json(200, await api.sessions(query));
    let match = SESSION_PATH.exec(path);
    if (match?.[1]) return json(200, await api.session(decode(match[1])));
    match = LOG_PATH.exec(path);
    if (match?.[1] && match[2])
      return json(200, await api.log(decode(match[1]), decode(match[2]), query));
  }
  if (method === 'POST') {
    const match = CLOSE_PATH.exec(path);
    if (match?.[1]) return json(200, await api.close(decode(match[1]), await readJson(request)));
    if (path === 'sweep') return json(200, await api.sweep(await readJson(request)));
  }
  throw new ApiError(404, 'NOT_FOUND', 'no such API route');
}

/** The JSON body of a write action; a form post (what another site could forge) is refused. */
async function readJson(request: Request): Promise<unknown> {
  if (!/^application\/json\b/i.test(request.headers.get('content-type') ?? '')) {
    throw new ApiError(415, 'BAD_REQUEST', 'send the confirmation as application/json');
  }
  const body = await request.text();
  if (body.length > MAX_BODY_BYTES)
    throw new ApiError(413, 'BAD_REQUEST', 'the request body is too large');
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new ApiError(400, 'BAD_REQUEST', 'the request body is not JSON');
  }
}

/** Serves a Node request through the fetch handler. */
async function serveNode(
  fetch: (request: Request) => Promise<Response>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const host = req.headers.host;
  if (host === undefined || host === '') {
    res
      .writeHead(400, { 'content-type': 'text/plain; charset=utf-8' })
      .end('400: no Host header\n');
    return;
  }
  let url: URL;
  try {
    const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    url = new URL(req.url ?? '/', `${scheme}://${host}`);
  } catch {
    res
      .writeHead(400, { 'content-type': 'text/plain; charset=utf-8' })
      .end('400: bad request line\n');
    return;
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === 'host') continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const method = req.method ?? 'GET';
  let body: Uint8Array | undefined;
  if (method !== 'GET' && method !== 'HEAD') {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        res
          .writeHead(413, { 'content-type': 'text/plain; charset=utf-8' })
          .end('413: request body too large\n');
        return;
      }
      chunks.push(chunk);
    }
    body = new Uint8Array(Buffer.concat(chunks));
  }
  const response = await fetch(new Request(url, { method, headers, ...(body ? { body } : {}) }));
  const out: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') out[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies;
  res.writeHead(response.status, out);
  res.end(method === 'HEAD' ? undefined : Buffer.from(await response.arrayBuffer()));
}
