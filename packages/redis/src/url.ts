import { InvalidStoreUrlError, redactUrl } from '@mcp-session/core';

/** Store options a URL query may carry. */
export interface UrlStoreOptions {
  prefix?: string;
  expiryGraceMs?: number;
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  cluster?: boolean;
}

/** What a `redis://` or `rediss://` URL says. */
export interface ParsedRedisUrl {
  tls: boolean;
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  options: UrlStoreOptions;
}

const NUMERIC_OPTIONS = ['expiryGraceMs', 'commandTimeoutMs', 'connectTimeoutMs'] as const;
const KNOWN_OPTIONS = ['prefix', ...NUMERIC_OPTIONS, 'cluster'];

/**
 * Parses `redis[s]://[[user][:password]@]host[:port][/db][?prefix=…&expiryGraceMs=…&commandTimeoutMs=…
 * &connectTimeoutMs=…&cluster=true]`. Values are checked later by the store, with the other options;
 * this only rejects what cannot be read. Messages never contain the password.
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
  if (!/^\d{0,5}$/.test(dbText)) {
    throw new InvalidStoreUrlError(
      `Redis URL "${shown}" must have a database number as its path (e.g. /0), got "/${dbText}"`,
    );
  }
  const options: UrlStoreOptions = {};
  for (const key of new Set(parsed.searchParams.keys())) {
    const values = parsed.searchParams.getAll(key);
    const value = values[0] as string;
    if (!KNOWN_OPTIONS.includes(key)) {
      throw new InvalidStoreUrlError(
        `Unknown Redis store option "${key}" in "${shown}" (known: ${KNOWN_OPTIONS.join(', ')})`,
      );
    }
    if (values.length > 1) {
      throw new InvalidStoreUrlError(`Redis store option "${key}" is given twice in "${shown}"`);
    }
    if (key === 'prefix') options.prefix = value;
    else if (key === 'cluster') {
      if (value !== 'true' && value !== 'false') {
        throw new InvalidStoreUrlError(
          `Redis store option cluster must be true or false, got "${value}" in "${shown}"`,
        );
      }
      options.cluster = value === 'true';
    } else {
      if (!/^\d+$/.test(value)) {
        throw new InvalidStoreUrlError(
          `Redis store option ${key} must be a whole number of milliseconds, got "${value}" in "${shown}"`,
        );
      }
      options[key as (typeof NUMERIC_OPTIONS)[number]] = Number(value);
    }
  }
  const result: ParsedRedisUrl = {
    tls: scheme === 'rediss',
    host,
    port,
    db: dbText === '' ? 0 : Number(dbText),
    options,
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
