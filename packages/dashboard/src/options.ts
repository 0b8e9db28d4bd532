import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidValueError, type SessionStore } from '@mcp-session/core';

/** A session log the session page shows. */
export interface DashboardLog {
  /** The log's name in the store (`history`, `sse`, …). */
  name: string;
  /**
   * The entries are encrypted (the MCP glue seals every `sse` event with a key derived from the session id,
   * which the store never holds): they are shown as "sealed" with their size, never decoded.
   */
  sealed?: boolean;
}

/** Options of `createDashboard`. */
export interface DashboardOptions {
  /** The store to show. The dashboard uses its public primitives only and never closes it. */
  store: SessionStore;
  /**
   * The secret every request must present (at least 16 characters; `mcp-session dashboard` uses 32 random
   * bytes, base64url). Compared in constant time.
   */
  token: string;
  /** Allow closing sessions and running a sweep, each after a confirmation. Default false: read-only. */
  write?: boolean;
  /**
   * Host names (without port) the dashboard answers on; any other `Host` gets 403, which stops DNS
   * rebinding. Default `['127.0.0.1', 'localhost', '[::1]']`.
   */
  allowedHosts?: readonly string[];
  /**
   * Origins (`https://admin.example.com`) allowed besides the dashboard's own. A request whose `Origin` is
   * neither gets 403. Default none.
   */
  allowedOrigins?: readonly string[];
  /** Path the dashboard is mounted at, ending in `/`. Default `/`. */
  basePath?: string;
  /** How often the overview refreshes, milliseconds (1,000 or more). Default 5,000. */
  refreshMs?: number;
  /** Sessions per page of the sessions table (1–500). Default 50. */
  pageSize?: number;
  /** Log entries per page on the session page (1–500). Default 20. */
  logPageSize?: number;
  /** The logs the session page shows. Default `history`, and `sse` as sealed. */
  logs?: readonly DashboardLog[];
  /** How long a session closed from the dashboard stays as a tombstone, milliseconds. Default 1 hour. */
  closedRetentionMs?: number;
  /** The clock, epoch milliseconds. Default `Date.now`. */
  now?: () => number;
  /**
   * Directory of the built front-end (holding `index.html`). Default the package's own `dist/assets`,
   * which `pnpm build` fills and the published package ships.
   */
  assetsDir?: string;
  /**
   * Called with every error a request met that the client sees only as a generic message (a store
   * failure, a bug). Default: `console.error`.
   */
  onError?: (error: unknown) => void;
}

/** Defaults of `DashboardOptions`. */
export const DASHBOARD_DEFAULTS = Object.freeze({
  write: false,
  allowedHosts: Object.freeze(['127.0.0.1', 'localhost', '[::1]']),
  allowedOrigins: Object.freeze([] as string[]),
  basePath: '/',
  refreshMs: 5_000,
  pageSize: 50,
  logPageSize: 20,
  logs: Object.freeze([
    { name: 'history' },
    { name: 'sse', sealed: true },
  ]) as readonly DashboardLog[],
  closedRetentionMs: 60 * 60_000,
});

/** A host name or IPv4 address, or an IPv6 address in brackets; never a port. */
const HOST_NAME = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/i;

/** Shortest token accepted: anything shorter is guessable. */
export const MIN_TOKEN_LENGTH = 16;

export interface ResolvedOptions {
  store: SessionStore;
  token: string;
  write: boolean;
  allowedHosts: ReadonlySet<string>;
  allowedOrigins: ReadonlySet<string>;
  basePath: string;
  refreshMs: number;
  pageSize: number;
  logPageSize: number;
  logs: readonly Required<DashboardLog>[];
  closedRetentionMs: number;
  now: () => number;
  assetsDir: string;
  onError: (error: unknown) => void;
}

const defaultAssetsDir = () =>
  // src/ and dist/ are siblings, so this is the package's dist/assets from either.
  fileURLToPath(new URL('../dist/assets', import.meta.url));

function integerIn(
  value: number | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
) {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < min || resolved > max) {
    throw new InvalidValueError(`${name} must be a whole number from ${min} to ${max}`, name);
  }
  return resolved;
}

/** Checks the options and fills in the defaults. @throws InvalidValueError naming the bad option. */
export function resolveOptions(options: DashboardOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidValueError('createDashboard takes an options object with store and token');
  }
  const { store, token } = options;
  if (typeof store?.stats !== 'function' || typeof store.list !== 'function') {
    throw new InvalidValueError('store must be a SessionStore (from createStore)', 'store');
  }
  // The message never contains the token.
  if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH) {
    throw new InvalidValueError(
      `token must be a string of at least ${MIN_TOKEN_LENGTH} characters (e.g. 32 random bytes, base64url)`,
      'token',
    );
  }
  const basePath = options.basePath ?? DASHBOARD_DEFAULTS.basePath;
  if (!basePath.startsWith('/') || !basePath.endsWith('/')) {
    throw new InvalidValueError(
      'basePath must start and end with "/", e.g. "/dashboard/"',
      'basePath',
    );
  }
  const hosts = options.allowedHosts ?? DASHBOARD_DEFAULTS.allowedHosts;
  if (!Array.isArray(hosts) || hosts.some((h) => typeof h !== 'string' || !HOST_NAME.test(h))) {
    throw new InvalidValueError(
      'allowedHosts must be host names without port, e.g. ["localhost"]',
      'allowedHosts',
    );
  }
  const origins = options.allowedOrigins ?? DASHBOARD_DEFAULTS.allowedOrigins;
  const normalizedOrigins = new Set<string>();
  for (const origin of origins) {
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new InvalidValueError(
        'allowedOrigins must be origins such as "https://admin.example.com"',
        'allowedOrigins',
      );
    }
    normalizedOrigins.add(parsed.origin);
  }
  const logs = (options.logs ?? DASHBOARD_DEFAULTS.logs).map((log) => {
    if (typeof log?.name !== 'string' || log.name === '') {
      throw new InvalidValueError('every log needs a name', 'logs');
    }
    return { name: log.name, sealed: log.sealed === true };
  });
  const assetsDir = options.assetsDir ?? defaultAssetsDir();
  if (!existsSync(join(assetsDir, 'index.html'))) {
    throw new InvalidValueError(
      `the dashboard's front-end is not built: no index.html in ${assetsDir} (run "pnpm build" in packages/dashboard, or pass assetsDir)`,
      'assetsDir',
    );
  }
  return {
    store,
    token,
    write: options.write ?? DASHBOARD_DEFAULTS.write,
    allowedHosts: new Set(hosts.map((h) => h.toLowerCase())),
    allowedOrigins: normalizedOrigins,
    basePath,
    refreshMs: integerIn(
      options.refreshMs,
      'refreshMs',
      DASHBOARD_DEFAULTS.refreshMs,
      1_000,
      3_600_000,
    ),
    pageSize: integerIn(options.pageSize, 'pageSize', DASHBOARD_DEFAULTS.pageSize, 1, 500),
    logPageSize: integerIn(
      options.logPageSize,
      'logPageSize',
      DASHBOARD_DEFAULTS.logPageSize,
      1,
      500,
    ),
    logs,
    closedRetentionMs: integerIn(
      options.closedRetentionMs,
      'closedRetentionMs',
      DASHBOARD_DEFAULTS.closedRetentionMs,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    now: options.now ?? Date.now,
    assetsDir,
    onError: options.onError ?? ((error) => console.error('mcp-session dashboard:', error)),
  };
}
