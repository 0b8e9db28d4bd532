import {
  InvalidStoreUrlError,
  MAX_TIMER_MS,
  readUrlOptions,
  redactUrl,
  type UrlOptionSpec,
  type UrlOptions,
} from '@mcp-session/core/adapter';
import { PREFIX_PATTERN, PREFIX_RULE } from './keys.js';

/**
 * The store options a URL query may carry, and what each accepts. The constructor holds options given
 * in code to the same bounds.
 */
export const URL_OPTIONS = {
  prefix: { type: 'string', pattern: PREFIX_PATTERN, description: PREFIX_RULE },
  expiryGraceMs: { type: 'integer', min: 0, unit: 'milliseconds' },
  commandTimeoutMs: { type: 'integer', min: 1, max: MAX_TIMER_MS, unit: 'milliseconds' },
  connectTimeoutMs: { type: 'integer', min: 1, max: MAX_TIMER_MS, unit: 'milliseconds' },
  cluster: { type: 'boolean' },
} as const satisfies Record<string, UrlOptionSpec>;

/** Store options read from a URL query. */
export type UrlStoreOptions = UrlOptions<typeof URL_OPTIONS>;

/** What a `redis://` or `rediss://` URL says. */
export interface ParsedRedisUrl {
  tls: boolean;
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  options: UrlStoreOptions;
  /** The URL with its password redacted, for messages. */
  shown: string;
}

/**
 * Parses `redis[s]://[[user][:password]@]host[:port][/db][?prefix=…&expiryGraceMs=…&commandTimeoutMs=…
 * &connectTimeoutMs=…&cluster=true]`, checking every query option (`readUrlOptions`, `URL_OPTIONS`).
 * @throws InvalidStoreUrlError saying what is wrong; messages never contain the password.
 */
export function parseRedisUrl(url: string): ParsedRedisUrl {
  const shown = redactUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidStoreUrlError(
      `"${shown}" is not a valid Redis URL; write it as redis://[user:password@]host[:port][/db][?prefix=…]`,
    );
  }
  const scheme = parsed.protocol.slice(0, -1).toLowerCase();
  if (scheme !== 'redis' && scheme !== 'rediss') {
    throw new InvalidStoreUrlError(
      `"${shown}" is not a Redis URL: the scheme must be redis: or rediss: (TLS)`,
    );
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new InvalidStoreUrlError(`Redis URL "${shown}" has no host`);
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const dbText = parsed.pathname.replace(/^\//, '');
  // Decimal digits only: no sign, "0x", exponent or trailing path. Whether the server has the database is
  // for it to say: RedisSessionStore.open asks it.
  if (!/^[0-9]{0,9}$/.test(dbText)) {
    throw new InvalidStoreUrlError(
      `Redis URL "${shown}" must have a database number as its path (decimal digits, e.g. /0), got "/${dbText}"`,
    );
  }
  if (parsed.searchParams.has('db')) {
    throw new InvalidStoreUrlError(
      `Redis URL "${shown}" names its database with ?db=; give it as the path instead, e.g. redis://host:6379/3`,
    );
  }
  const { options } = readUrlOptions(parsed.searchParams, URL_OPTIONS, {
    store: 'Redis',
    shownUrl: shown,
  });
  const result: ParsedRedisUrl = {
    tls: scheme === 'rediss',
    host,
    port,
    db: dbText === '' ? 0 : Number(dbText),
    options,
    shown,
  };
  if (parsed.username !== '') result.username = decode(parsed.username, 'user name', shown);
  if (parsed.password !== '') result.password = decode(parsed.password, 'password', shown);
  return result;
}

function decode(text: string, what: string, shown: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new InvalidStoreUrlError(`Redis URL "${shown}" has a malformed %-escape in its ${what}`);
  }
}
