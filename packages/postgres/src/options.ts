import {
  InvalidStoreUrlError,
  InvalidValueError,
  MAX_TIMER_MS,
  readUrlOptions,
  redactUrl,
  type UrlOptionSpec,
} from '@mcp-session/core/adapter';
import pg, { type Pool, type PoolConfig } from 'pg';

/** Options of `PostgresSessionStore`. */
export interface PostgresSessionStoreOptions {
  /**
   * Where the sessions live:
   * - a `postgres://` or `postgresql://` URL; besides the driver's own parameters it may carry this
   *   store's `schema`, `autoMigrate`, `preparedStatements`, `poolSize` and `connect_timeout` (seconds).
   *   Any other parameter, or one given twice, is refused with `InvalidStoreUrlError`;
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
  /**
   * Open an existing store only: the schema must exist and hold this store's tables at the current
   * migration. Nothing is created or migrated (it overrides `autoMigrate`); otherwise the first operation
   * (and `PostgresSessionStore.open`) fails with `StoreUnavailableError` saying what is missing. Default
   * false.
   */
  mustExist?: boolean;
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

/** Query parameters handed through to the `pg` driver. */
const DRIVER_PARAMS = [
  'application_name',
  'fallback_application_name',
  'options',
  'client_encoding',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
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

/**
 * Driver parameters pg hands the server as milliseconds after `parseInt`, which reads `0x10` as 0 (no
 * timeout), `1e3` as 1 and `5s` as 5: only decimal digits are let through, up to the server's limit.
 */
const DRIVER_DURATIONS = [
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
];
const MAX_SERVER_TIMEOUT_MS = 2_147_483_647;

const SCHEME = /^(postgres|postgresql):\/\//i;
/**
 * A plain identifier (1-63 characters) outside the system schemas: `information_schema`, and every `pg_`
 * name Postgres reserves for itself (`pg_catalog`, `pg_toast`, the temporary `pg_temp_N` and
 * `pg_toast_temp_N`). Tables there would sit among the catalog's, or vanish with the session.
 */
const SCHEMA_NAME = /^(?!pg_|information_schema$)[A-Za-z_][A-Za-z0-9_]{0,62}$/i;
const SCHEMA_NAME_RULE =
  'a schema name of 1-63 letters, digits or "_", not starting with a digit, and not a system schema ("information_schema" or any "pg_" name)';

/** Query parameters this store reads from a URL itself. */
const URL_OPTIONS = {
  schema: { type: 'string', pattern: SCHEMA_NAME, description: SCHEMA_NAME_RULE },
  autoMigrate: { type: 'boolean' },
  preparedStatements: { type: 'boolean' },
  poolSize: { type: 'integer', min: 1 },
  // Seconds, which pg waits for with a timer of connect_timeout × 1000 ms: at most MAX_TIMER_MS.
  connect_timeout: {
    type: 'integer',
    min: 1,
    max: Math.floor(MAX_TIMER_MS / 1000),
    unit: 'seconds',
  },
  // pg's own timer per query (0: none). pg would take "0x10" as 16 and fire a longer one after 1 ms.
  query_timeout: { type: 'integer', min: 0, max: MAX_TIMER_MS, unit: 'milliseconds' },
} as const satisfies Record<string, UrlOptionSpec>;

/** Checks a schema name and returns it; it is always double-quoted in SQL. */
export function checkSchemaName(schema: unknown): string {
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new InvalidValueError(
      `schema must be ${SCHEMA_NAME_RULE}, got ${typeof schema === 'string' ? JSON.stringify(schema) : String(schema)}`,
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
  for (const name of ['autoMigrate', 'preparedStatements', 'mustExist'] as const) {
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
  const shownUrl = redactUrl(url);
  if (!SCHEME.test(url)) {
    throw new InvalidStoreUrlError(
      `"${shownUrl}" is not a Postgres URL: write postgres://user@host:5432/database?schema=mcp`,
    );
  }
  const queryStart = url.indexOf('?');
  const base = queryStart === -1 ? url : url.slice(0, queryStart);
  try {
    // pg accepts an empty host (a socket given by ?host=); URL parsing needs one to check the rest.
    new URL(base.replace('@/', '@localhost/'));
  } catch {
    throw new InvalidStoreUrlError(`"${shownUrl}" is not a valid URL`);
  }
  const { options, rest } = readUrlOptions(
    new URLSearchParams(queryStart === -1 ? '' : url.slice(queryStart + 1)),
    URL_OPTIONS,
    { store: 'Postgres', shownUrl, passThrough: DRIVER_PARAMS },
  );
  const port = rest.get('port');
  // Node would connect to port 16 for "0x10".
  if (
    port !== null &&
    !(/^[0-9]{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65_535)
  ) {
    throw new InvalidStoreUrlError(
      `Postgres store option port must be a whole number from 1 to 65535, got ${JSON.stringify(port)} in "${shownUrl}"`,
    );
  }
  for (const name of DRIVER_DURATIONS) {
    const value = rest.get(name);
    if (value !== null && !(/^[0-9]+$/.test(value) && Number(value) <= MAX_SERVER_TIMEOUT_MS)) {
      throw new InvalidStoreUrlError(
        `Postgres store option ${name} must be a whole number of milliseconds from 0 to ${MAX_SERVER_TIMEOUT_MS} (no unit: pg would read "5s" as 5), got ${JSON.stringify(value)} in "${shownUrl}"`,
      );
    }
  }
  const config: PoolConfig = {};
  if (options.poolSize !== undefined) config.max = options.poolSize;
  if (options.connect_timeout !== undefined) {
    config.connectionTimeoutMillis = options.connect_timeout * 1000;
  }
  if (options.query_timeout !== undefined) config.query_timeout = options.query_timeout;
  const driverParams = rest.toString();
  config.connectionString = driverParams === '' ? base : `${base}?${driverParams}`;
  return {
    pool: createPool(config),
    ownsPool: true,
    schema: options.schema ?? 'public',
    autoMigrate: options.autoMigrate ?? true,
    preparedStatements: options.preparedStatements ?? true,
  };
}
