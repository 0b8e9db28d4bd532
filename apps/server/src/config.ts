import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

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
   * `MCP_TEST_CONTROLS=1` enables `POST /_test/advance-clock?ms=N` and `POST /_test/sweep`, so end-to-end
   * tests can expire sessions without sleeping. Never set it in production.
   */
  testControls: boolean;
}

/** Reads the configuration; throws an Error naming the variable when a value is malformed. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  return {
    storeUrl: env.SESSION_STORE_URL?.trim() || 'sqlite:./.data/sessions.db',
    host: env.HOST?.trim() || '127.0.0.1',
    port: integer(env, 'PORT', 3000, 0),
    tokens: readTokens(env),
    idleTimeoutMs: integer(env, 'SESSION_IDLE_TIMEOUT_MS', 30 * 60_000, 1),
    maxLifetimeMs: integer(env, 'SESSION_MAX_LIFETIME_MS', 24 * 60 * 60_000, 1),
    historyCap: integer(env, 'SESSION_HISTORY_CAP', 100, 1),
    evictAfterMs: integer(env, 'MCP_EVICT_AFTER_MS', 10 * 60_000, 1),
    sweepIntervalMs: integer(env, 'SESSION_SWEEP_INTERVAL_MS', 60_000, 1),
    instanceName: env.INSTANCE_NAME?.trim() || `${hostname()}:${process.pid}`,
    testControls: env.MCP_TEST_CONTROLS === '1',
  };
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function readTokens(env: NodeJS.ProcessEnv): Map<string, string> {
  const tokens = new Map<string, string>();
  const file = env.MCP_TOKENS_FILE?.trim();
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`MCP_TOKENS_FILE: cannot read ${file}: ${(error as Error).message}`);
    }
    const map = (parsed as { tokens?: unknown })?.tokens;
    if (typeof map !== 'object' || map === null || Array.isArray(map)) {
      throw new Error(`MCP_TOKENS_FILE: ${file} must hold {"tokens": {"<token>": "<owner>"}}`);
    }
    for (const [token, owner] of Object.entries(map))
      addToken(tokens, token, owner, 'MCP_TOKENS_FILE');
  }
  for (const pair of (env.MCP_TOKENS ?? '').split(',')) {
    if (pair.trim() === '') continue;
    const at = pair.indexOf('=');
    addToken(
      tokens,
      pair.slice(0, at).trim(),
      at === -1 ? '' : pair.slice(at + 1).trim(),
      'MCP_TOKENS',
    );
  }
  return tokens;
}

function addToken(
  tokens: Map<string, string>,
  token: string,
  owner: unknown,
  source: string,
): void {
  if (!/^[\x21-\x7e]{16,}$/.test(token)) {
    throw new Error(`${source}: tokens must be at least 16 visible ASCII characters`);
  }
  if (typeof owner !== 'string' || owner === '') {
    throw new Error(`${source}: the token ending in "${token.slice(-4)}" needs a non-empty owner`);
  }
  tokens.set(token, owner);
}
