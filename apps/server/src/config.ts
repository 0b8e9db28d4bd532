import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { type Keyring, MAX_TIMER_MS, parseKeyringJson } from '@mcp-session/core';
import { ConfigError } from './config-error.js';
import { readTokens } from './tokens.js';

/** Everything the reference server reads from its environment. Durations are milliseconds. */
export interface ServerConfig {
  /** `SESSION_STORE_URL`: where sessions live. Default `sqlite:./.data/sessions.db`. */
  storeUrl: string;
  /** `HOST`. Default `127.0.0.1`. */
  host: string;
  /** `PORT`; 0 picks a free port. Default 3000. */
  port: number;
  /**
   * Bearer token → owner, from `MCP_TOKENS_FILE` (a JSON file, see tokens.example.json) and/or
   * `MCP_TOKENS` (`token=owner,token=owner`). Empty means no authentication: sessions are unbound.
   */
  tokens: ReadonlyMap<string, string>;
  /** `SESSION_IDLE_TIMEOUT_MS`: sliding expiry of a session in the store. Default 30 minutes. */
  idleTimeoutMs: number;
  /** `SESSION_MAX_LIFETIME_MS`: absolute session lifetime. Default 24 hours. */
  maxLifetimeMs: number;
  /** `SESSION_HISTORY_CAP`: messages kept per session. Default 100. */
  historyCap: number;
  /** `MCP_EVICT_AFTER_MS`: idle time before a held session is dropped from memory. Default 10 minutes. */
  evictAfterMs: number;
  /** `SESSION_SWEEP_INTERVAL_MS`: how often expired sessions are deleted. Default 60 seconds. */
  sweepIntervalMs: number;
  /** `INSTANCE_NAME`: shown by session_info and /healthz. Default `<hostname>:<pid>`. */
  instanceName: string;
  /**
   * `METRICS_TOKEN`: bearer token `/metrics` requires (at least 16 visible ASCII characters). Unset: the
   * metrics are readable by anyone who can reach the port (the start-up log says so).
   */
  metricsToken: string | undefined;
  /** `METRICS_REFRESH_INTERVAL_MS`: how often the store aggregates of `/metrics` are recomputed. Default 15 s. */
  metricsRefreshIntervalMs: number;
  /**
   * `HTTP_HEADERS_TIMEOUT_MS`: time a client has to send a request's headers (node:http `headersTimeout`);
   * then 408 and the connection is closed. At most `HTTP_REQUEST_TIMEOUT_MS`. Default 10 s.
   */
  headersTimeoutMs: number;
  /**
   * `HTTP_REQUEST_TIMEOUT_MS`: time a client has to send a whole request, headers and body (node:http
   * `requestTimeout`); then 408. It bounds receiving the request only: responses — SSE streams included —
   * may last longer. Default 60 s.
   */
  requestTimeoutMs: number;
  /** `HTTP_KEEP_ALIVE_TIMEOUT_MS`: how long an idle keep-alive connection is kept open. Default 5 s. */
  keepAliveTimeoutMs: number;
  /**
   * `HTTP_MAX_CONNECTIONS`: open connections at most (node:http `maxConnections`); further ones are
   * closed as they arrive. Each open SSE stream holds one. Default 1,000.
   */
  maxConnections: number;
  /**
   * `ALLOWED_HOSTS`: comma-separated `Host` values the MCP handler accepts (`*`: any), for its `allowedHosts`
   * option. Unset: the handler's default (loopback names). Parsed here; the handler wiring follows.
   */
  allowedHosts: readonly string[] | '*' | undefined;
  /**
   * `ALLOWED_ORIGINS`: comma-separated origins (`https://app.example.com`; `*`: any) the MCP handler accepts
   * in `Origin`, for its `allowedOrigins` option. Unset: the handler's default (no Origin, or a loopback one).
   */
  allowedOrigins: readonly string[] | '*' | undefined;
  /**
   * `SESSION_MAX_PER_OWNER`: stored sessions (not closed) one owner may have; a further `initialize` gets 429.
   * Default 1,000 (the manager's `maxSessionsPerOwner`).
   */
  maxSessionsPerOwner: number;
  /** `SESSION_MAX_TOTAL`: stored sessions in all; a further `initialize` gets 503. Default 100,000 (`maxSessions`). */
  maxSessions: number;
  /** `MCP_MAX_LIVE_SESSIONS`: sessions held in this process's memory. Default 10,000. */
  maxLiveSessions: number;
  /** `MCP_MAX_LIVE_SESSIONS_PER_OWNER`: held sessions of one owner. Default 100. */
  maxLiveSessionsPerOwner: number;
  /** `MCP_MAX_OPEN_STREAMS_PER_OWNER`: open streams (GET streams, SSE responses) of one owner. Default 100. */
  maxOpenStreamsPerOwner: number;
  /**
   * `MCP_TEST_CONTROLS=1` enables `POST /_test/advance-clock?ms=N` and `POST /_test/sweep`, so end-to-end
   * tests can expire sessions without sleeping. Never set it in production.
   */
  testControls: boolean;
  /**
   * `SESSION_ENCRYPTION_KEYS_FILE`: a keys file (`{"current": "<id>", "keys": {"<id>": "<base64 of 32
   * bytes>"}}`) whose current key encrypts context values and history entries at rest, every key decrypts.
   * Unset: context and history are stored in clear (event payloads are sealed either way).
   */
  encryption: Keyring | undefined;
}

/**
 * Reads the configuration.
 * @throws ConfigError naming the variable when a value is malformed (never showing a secret it holds).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const requestTimeoutMs = timer(env, 'HTTP_REQUEST_TIMEOUT_MS', 60_000);
  const headersTimeoutMs = timer(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(
      'HTTP_HEADERS_TIMEOUT_MS',
      `HTTP_HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not exceed HTTP_REQUEST_TIMEOUT_MS (${requestTimeoutMs})`,
    );
  }
  return {
    storeUrl: env.SESSION_STORE_URL?.trim() || 'sqlite:./.data/sessions.db',
    host: env.HOST?.trim() || '127.0.0.1',
    port: integer(env, 'PORT', 3000, 0),
    tokens: readTokens(env),
    idleTimeoutMs: integer(env, 'SESSION_IDLE_TIMEOUT_MS', 30 * 60_000, 1),
    maxLifetimeMs: integer(env, 'SESSION_MAX_LIFETIME_MS', 24 * 60 * 60_000, 1),
    historyCap: integer(env, 'SESSION_HISTORY_CAP', 100, 1),
    evictAfterMs: integer(env, 'MCP_EVICT_AFTER_MS', 10 * 60_000, 1),
    sweepIntervalMs: timer(env, 'SESSION_SWEEP_INTERVAL_MS', 60_000),
    instanceName: env.INSTANCE_NAME?.trim() || `${hostname()}:${process.pid}`,
    testControls: env.MCP_TEST_CONTROLS === '1',
    metricsToken: readMetricsToken(env),
    metricsRefreshIntervalMs: timer(env, 'METRICS_REFRESH_INTERVAL_MS', 15_000),
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: timer(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 5_000),
    maxConnections: integer(env, 'HTTP_MAX_CONNECTIONS', 1_000, 1),
    allowedHosts: list(env, 'ALLOWED_HOSTS'),
    allowedOrigins: list(env, 'ALLOWED_ORIGINS'),
    maxSessionsPerOwner: integer(env, 'SESSION_MAX_PER_OWNER', 1_000, 1),
    maxSessions: integer(env, 'SESSION_MAX_TOTAL', 100_000, 1),
    maxLiveSessions: integer(env, 'MCP_MAX_LIVE_SESSIONS', 10_000, 1),
    maxLiveSessionsPerOwner: integer(env, 'MCP_MAX_LIVE_SESSIONS_PER_OWNER', 100, 1),
    maxOpenStreamsPerOwner: integer(env, 'MCP_MAX_OPEN_STREAMS_PER_OWNER', 100, 1),
    encryption: readEncryptionKeys(env),
  };
}

function readMetricsToken(env: NodeJS.ProcessEnv): string | undefined {
  const token = env.METRICS_TOKEN?.trim();
  if (token === undefined || token === '') return undefined;
  if (!/^[\x21-\x7e]{16,}$/.test(token)) {
    throw new ConfigError(
      'METRICS_TOKEN',
      'METRICS_TOKEN must be at least 16 visible ASCII characters',
    );
  }
  return token;
}

/** A comma-separated list; `*` alone means any. Unset or empty: undefined (the library's default). */
function list(env: NodeJS.ProcessEnv, name: string): readonly string[] | '*' | undefined {
  const items = (env[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) return undefined;
  if (items.includes('*')) {
    if (items.length > 1) {
      throw new ConfigError(name, `${name}: "*" allows any value and stands alone`);
    }
    return '*';
  }
  return items;
}

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  // Decimal digits only: Number() would also take "0x10", "1e3" and " 5".
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(name, `${name} must be an integer ${range}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * A delay that becomes a timer (an interval, a socket timeout): Node fires a longer one after 1 ms, so
 * a sweep interval of 30 days would sweep a thousand times a second. Refused instead.
 */
function timer(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  return integer(env, name, fallback, 1, MAX_TIMER_MS);
}

/**
 * The at-rest keyring of `SESSION_ENCRYPTION_KEYS_FILE`. Errors name the variable, the path and at most a
 * key id: never the file's content, which holds the keys.
 */
function readEncryptionKeys(env: NodeJS.ProcessEnv): Keyring | undefined {
  const file = env.SESSION_ENCRYPTION_KEYS_FILE?.trim();
  if (env.SESSION_ENCRYPTION_KEYS_FILE !== undefined && !file) {
    throw new ConfigError(
      'SESSION_ENCRYPTION_KEYS_FILE',
      'SESSION_ENCRYPTION_KEYS_FILE is set but empty: give the path of a keys file, or unset it',
    );
  }
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      'SESSION_ENCRYPTION_KEYS_FILE',
      `SESSION_ENCRYPTION_KEYS_FILE: cannot read ${file}${code ? ` (${code})` : ''}`,
    );
  }
  try {
    return parseKeyringJson(text, file);
  } catch (error) {
    throw new ConfigError(
      'SESSION_ENCRYPTION_KEYS_FILE',
      `SESSION_ENCRYPTION_KEYS_FILE: ${(error as Error).message}`,
    );
  }
}
