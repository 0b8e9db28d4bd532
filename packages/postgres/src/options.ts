import { InvalidStoreUrlError, InvalidValueError, redactUrl } from '@mcp-session/core';
import pg, { type Pool, type PoolConfig } from 'pg';

/** Options of `PostgresSessionStore`. */
export interface PostgresSessionStoreOptions {
  /**
   * Where the sessions live:
   * - a `postgres://` or `postgresql://` URL; besides the driver's own parameters it may carry this
   *   store's `schema`, `autoMigrate`, `poolSize` and `connect_timeout` (seconds);
   * - a `pg.Pool` you created: the store borrows it, and `close()` leaves it open for you to end;
   * - a `pg` pool config (`PoolConfig`), from which the store creates and owns its pool.
   */
  connection: string | Pool | PoolConfig;
  /**
   * Schema holding the store's tables (`mcp_sessions`, `mcp_session_logs`, `mcp_session_log_entries`,
   * `mcp_session_migrations`); created by the first migration if missing. An unquoted identifier:
   * letters, digits and `_`, at most 63 characters, not starting with a digit or `pg_`. Default: the
   * URL's `schema` parameter, else `public`.
   */
  schema?: string;
  /**
   * Apply pending migrations on first use. Default true. Set it to false when migrations run in CI or a
   * deploy step (`migrate()`); the store then refuses to work on a schema that is not up to date.
   */
  autoMigrate?: boolean;
  /**
   * Send queries as named prepared statements, so each pooled connection plans a query once instead of on
   * every call (planning costs more than running most of this store's queries). Default true. Turn it
   * off behind a pooler that cannot keep prepared statements across transactions (PgBouncer in
   * transaction mode before 1.21).
   */
  preparedStatements?: boolean;
}

/** What the store and `migrate` work with, once options are checked. */
export interface ResolvedConnection {
  pool: Pool;
  /** The store created the pool, so it ends it on close. */
  ownsPool: boolean;
  schema: string;
  autoMigrate: boolean;
  preparedStatements: boolean;
}

/** Connection defaults for pools the store creates. */
const DEFAULT_APPLICATION_NAME = 'mcp-session';
const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;

/** Query parameters this store reads from a URL itself. */
const STORE_PARAMS = ['schema', 'autoMigrate', 'preparedStatements', 'poolSize', 'connect_timeout'];
/** Query parameters handed through to the `pg` driver. */
const DRIVER_PARAMS = [
  'application_name',
  'fallback_application_name',
  'options',
  'client_encoding',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'query_timeout',
  'ssl',
  'sslmode',
  'sslcert',
  'sslkey',
  'sslrootcert',
  'sslnegotiation',
  'uselibpqcompat',
  'host',
  'port',
  'user',
  'password',
];

const SCHEME = /^(postgres|postgresql):\/\//i;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Checks a schema name and returns it; it is always double-quoted in SQL. */
export function checkSchemaName(schema: unknown, source = 'schema'): string {
  if (typeof schema !== 'string' || !IDENTIFIER.test(schema) || /^pg_/i.test(schema)) {
    throw new InvalidValueError(
      `${source} must be a schema name of 1-63 letters, digits or "_", not starting with a digit or ` +
        `"pg_", got ${typeof schema === 'string' ? JSON.stringify(schema) : String(schema)}`,
    );
  }
  return schema;
}

/** Quotes an identifier that `checkSchemaName` accepted. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Turns the connection option into a pool, reading the store's own URL parameters. Explicit `schema`,
 * `autoMigrate` and `preparedStatements` options win over URL parameters.
 */
export function resolveConnection(
  options: PostgresSessionStoreOptions,
  what = 'PostgresSessionStore',
): ResolvedConnection {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidValueError(
      `${what} needs options with a connection (URL, pg.Pool or pool config)`,
    );
  }
  const { connection } = options;
  // Checked before a pool exists, so bad options never leave one behind.
  const schema = options.schema === undefined ? undefined : checkSchemaName(options.schema);
  for (const name of ['autoMigrate', 'preparedStatements'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean') {
      throw new InvalidValueError(`${name} must be true or false, got ${String(options[name])}`);
    }
  }
  let resolved: ResolvedConnection;
  if (typeof connection === 'string') {
    resolved = fromUrl(connection);
  } else if (isPool(connection)) {
    resolved = {
      pool: connection,
      ownsPool: false,
      schema: 'public',
      autoMigrate: true,
      preparedStatements: true,
    };
  } else if (typeof connection === 'object' && connection !== null) {
    resolved = {
      pool: createPool(connection),
      ownsPool: true,
      schema: 'public',
      autoMigrate: true,
      preparedStatements: true,
    };
  } else {
    throw new InvalidValueError(
      `${what}: connection must be a postgres:// URL, a pg.Pool or a pg pool config, got ${connection === null ? 'null' : typeof connection}`,
    );
  }
  if (schema !== undefined) resolved.schema = schema;
  if (options.autoMigrate !== undefined) resolved.autoMigrate = options.autoMigrate;
  if (options.preparedStatements !== undefined) {
    resolved.preparedStatements = options.preparedStatements;
  }
  return resolved;
}

function isPool(value: unknown): value is Pool {
  if (value instanceof pg.Pool) return true;
  // Another copy of pg (the application's own) makes instanceof fail; a pool is what acts like one.
  const candidate = value as Partial<Pool> | null;
  return (
    typeof candidate?.connect === 'function' &&
    typeof candidate.query === 'function' &&
    typeof candidate.on === 'function'
  );
}

function createPool(config: PoolConfig): Pool {
  const withDefaults: PoolConfig = {
    connectionTimeoutMillis: DEFAULT_CONNECTION_TIMEOUT_MS,
    ...config,
  };
  // pg reads PGAPPNAME when no name is configured, and a name in a connection string overrides this
  // one, so ours is only the last resort.
  if (withDefaults.application_name === undefined && process.env.PGAPPNAME === undefined) {
    withDefaults.application_name = DEFAULT_APPLICATION_NAME;
  }
  return new pg.Pool(withDefaults);
}

function fromUrl(url: string): ResolvedConnection {
  const shown = redactUrl(url);
  if (!SCHEME.test(url)) {
    throw new InvalidStoreUrlError(
      `"${shown}" is not a Postgres URL: write postgres://user@host:5432/database?schema=mcp`,
    );
  }
  const queryStart = url.indexOf('?');
  const base = queryStart === -1 ? url : url.slice(0, queryStart);
  const params = new URLSearchParams(queryStart === -1 ? '' : url.slice(queryStart + 1));
  try {
    // pg accepts an empty host (a socket given by ?host=); URL parsing needs one to check the rest.
    new URL(base.replace('@/', '@localhost/'));
  } catch {
    throw new InvalidStoreUrlError(`"${shown}" is not a valid URL`);
  }
  for (const key of new Set(params.keys())) {
    if (!STORE_PARAMS.includes(key) && !DRIVER_PARAMS.includes(key)) {
      throw new InvalidStoreUrlError(
        `Unknown Postgres store URL parameter "${key}" in "${shown}". Known: ${[...STORE_PARAMS, ...DRIVER_PARAMS].join(', ')}`,
      );
    }
    if (params.getAll(key).length > 1) {
      throw new InvalidStoreUrlError(`URL parameter "${key}" is given twice in "${shown}"`);
    }
  }
  const schema = params.get('schema');
  const autoMigrate = booleanParam(params, 'autoMigrate');
  const preparedStatements = booleanParam(params, 'preparedStatements');
  const config: PoolConfig = {};
  const poolSize = params.get('poolSize');
  if (poolSize !== null) config.max = positiveInteger(poolSize, 'poolSize');
  const connectTimeout = params.get('connect_timeout');
  if (connectTimeout !== null) {
    config.connectionTimeoutMillis = positiveInteger(connectTimeout, 'connect_timeout') * 1000;
  }
  for (const key of STORE_PARAMS) params.delete(key);
  const rest = params.toString();
  config.connectionString = rest === '' ? base : `${base}?${rest}`;
  return {
    pool: createPool(config),
    ownsPool: true,
    schema: schema === null ? 'public' : checkSchemaNameInUrl(schema),
    autoMigrate,
    preparedStatements,
  };
}

/** A true/false URL parameter, true when absent. */
function booleanParam(params: URLSearchParams, name: string): boolean {
  const value = params.get(name);
  if (value !== null && value !== 'true' && value !== 'false') {
    throw new InvalidStoreUrlError(`${name} must be "true" or "false", got "${value}"`);
  }
  return value !== 'false';
}

function checkSchemaNameInUrl(schema: string): string {
  try {
    return checkSchemaName(schema, 'URL parameter schema');
  } catch (error) {
    throw new InvalidStoreUrlError((error as Error).message);
  }
}

function positiveInteger(value: string, name: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < 1) {
    throw new InvalidStoreUrlError(
      `URL parameter ${name} must be a positive integer, got "${value}"`,
    );
  }
  return number;
}
