import {
  InvalidStoreUrlError,
  InvalidValueError,
  MAX_TIMER_MS,
  parsePathUrl,
  readUrlOptions,
} from '@mcp-session/core/adapter';
import { DEFAULT_MESSAGE_POLL_INTERVAL_MS, DEFAULT_MESSAGE_RETENTION_MS } from './message-bus.js';

/** Something the store noticed and repaired, or that needs a human. */
export interface FileStoreWarning {
  /**
   * - `QUARANTINED`: a corrupt record or log was moved to `<directory>/quarantine/`; the session now reads
   *   as absent. Inspect the files there, then delete them.
   * - `LOG_REPAIRED`: an uncommitted tail left by a writer that died mid-append was cut off a log.
   * - `STALE_LOCK_BROKEN`: a lock left by a dead process (or older than `staleLockMs`) was removed.
   * - `LOCK_LOST`: another process broke a lock this one still held, because it was held longer than
   *   `staleLockMs`. Raise `staleLockMs` if the disk is that slow.
   */
  code: 'QUARANTINED' | 'LOG_REPAIRED' | 'STALE_LOCK_BROKEN' | 'LOCK_LOST';
  /** What happened, for people. */
  message: string;
  /** The file or directory concerned. */
  path: string;
}

/** Options of `FileSessionStore.open`. */
export interface FileSessionStoreOptions {
  /**
   * Flush every write (log, record, directory) to the disk before acknowledging it. Default true.
   * Without it, a process crash still loses nothing (writes are atomic renames and appends), but a
   * power cut or kernel crash may lose the last writes.
   */
  fsync?: boolean;
  /**
   * How long an operation waits for a session lock held by another process, in milliseconds (1 to
   * `MAX_TIMER_MS`), before failing with `StoreUnavailableError`. Default 10 000.
   */
  lockTimeoutMs?: number;
  /**
   * Age in milliseconds after which a session lock counts as abandoned even though its holder's pid
   * is alive (a hung process, or a pid reused after a crash). Locks of dead processes on this machine are
   * broken at once. Must exceed the longest write the disk can stall for. Default 30 000, from 1 000 to
   * `MAX_TIMER_MS`.
   */
  staleLockMs?: number;
  /** Receives every warning. Default: `console.warn`. */
  onWarning?: (warning: FileStoreWarning) => void;
  /**
   * Open an existing store only: the directory must exist and hold a store (its marker file,
   * `mcp-session-store.json`). Nothing is created; otherwise `StoreUnavailableError` says what is
   * missing. Default false (a missing directory is created).
   */
  mustExist?: boolean;
  /**
   * How often a process with message subscriptions reads the message files, in milliseconds, from 1 to
   * `MAX_TIMER_MS`: the bus's latency bound. Default 50. The timer runs only while something is
   * subscribed, unref'd.
   */
  messagePollIntervalMs?: number;
  /**
   * How long message files are kept, in milliseconds, from 1 to `MAX_TIMER_MS`: a subscriber whose
   * process stalls longer misses what was published meanwhile. Default 60 000.
   */
  messageRetentionMs?: number;
}

/** Options with defaults applied. */
export interface ResolvedOptions {
  fsync: boolean;
  lockTimeoutMs: number;
  staleLockMs: number;
  onWarning: (warning: FileStoreWarning) => void;
  mustExist: boolean;
  messagePollIntervalMs: number;
  messageRetentionMs: number;
}

const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
const DEFAULT_STALE_LOCK_MS = 30_000;
const MIN_STALE_LOCK_MS = 1_000;

const KNOWN_OPTIONS = [
  'fsync',
  'lockTimeoutMs',
  'staleLockMs',
  'onWarning',
  'mustExist',
  'messagePollIntervalMs',
  'messageRetentionMs',
];

/** The query options of a `file:` URL, read the same way as every store's. */
const URL_OPTIONS = {
  fsync: { type: 'boolean' },
  lockTimeoutMs: { type: 'integer', min: 1, max: MAX_TIMER_MS, unit: 'milliseconds' },
  staleLockMs: { type: 'integer', min: MIN_STALE_LOCK_MS, max: MAX_TIMER_MS, unit: 'milliseconds' },
  messagePollIntervalMs: { type: 'integer', min: 1, max: MAX_TIMER_MS, unit: 'milliseconds' },
  messageRetentionMs: { type: 'integer', min: 1, max: MAX_TIMER_MS, unit: 'milliseconds' },
} as const;

function printWarning(warning: FileStoreWarning): void {
  console.warn(`[@mcp-session/file] ${warning.code}: ${warning.message} (${warning.path})`);
}

/**
 * Checks options and applies defaults.
 * @throws InvalidValueError naming the option and what it accepts.
 */
export function resolveOptions(options: FileSessionStoreOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidValueError('FileSessionStore options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.includes(key)) {
      throw new InvalidValueError(
        `Unknown FileSessionStore option "${key}" (known: ${KNOWN_OPTIONS.join(', ')})`,
      );
    }
  }
  const { fsync = true, onWarning = printWarning, mustExist = false } = options;
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const staleLockMs = options.staleLockMs ?? DEFAULT_STALE_LOCK_MS;
  if (typeof fsync !== 'boolean') {
    throw new InvalidValueError(`fsync must be true or false, got ${describe(fsync)}`);
  }
  if (!isMilliseconds(lockTimeoutMs, 1)) {
    throw new InvalidValueError(
      `lockTimeoutMs must be a positive integer of at most ${MAX_TIMER_MS} (milliseconds), got ${describe(lockTimeoutMs)}`,
    );
  }
  if (!isMilliseconds(staleLockMs, MIN_STALE_LOCK_MS)) {
    throw new InvalidValueError(
      `staleLockMs must be an integer of at least ${MIN_STALE_LOCK_MS} and at most ${MAX_TIMER_MS} (milliseconds), got ${describe(staleLockMs)}`,
    );
  }
  if (typeof onWarning !== 'function') {
    throw new InvalidValueError(`onWarning must be a function, got ${describe(onWarning)}`);
  }
  if (typeof mustExist !== 'boolean') {
    throw new InvalidValueError(`mustExist must be true or false, got ${describe(mustExist)}`);
  }
  const messagePollIntervalMs = options.messagePollIntervalMs ?? DEFAULT_MESSAGE_POLL_INTERVAL_MS;
  const messageRetentionMs = options.messageRetentionMs ?? DEFAULT_MESSAGE_RETENTION_MS;
  for (const [name, value] of [
    ['messagePollIntervalMs', messagePollIntervalMs],
    ['messageRetentionMs', messageRetentionMs],
  ] as const) {
    if (!isMilliseconds(value, 1)) {
      throw new InvalidValueError(
        `${name} must be a positive integer of at most ${MAX_TIMER_MS} (milliseconds), got ${describe(value)}`,
      );
    }
  }
  return {
    fsync,
    lockTimeoutMs,
    staleLockMs,
    onWarning,
    mustExist,
    messagePollIntervalMs,
    messageRetentionMs,
  };
}

/**
 * Splits a `file:` URL into the directory and options: `file:./data/sessions`,
 * `file:///var/lib/sessions?fsync=false&lockTimeoutMs=5000`. Relative paths stay relative to the
 * working directory.
 * @throws InvalidStoreUrlError for another scheme, a host, a missing path, or an unknown, repeated or
 *   malformed option.
 */
export function parseFileStoreUrl(url: string): {
  directory: string;
  options: FileSessionStoreOptions;
} {
  const { scheme, path, params } = parsePathUrl(url);
  if (scheme !== 'file') {
    throw new InvalidStoreUrlError(
      `The file store opens "file:" URLs, e.g. "file:./data/sessions"; got "${scheme}:"`,
    );
  }
  const { options } = readUrlOptions(params, URL_OPTIONS, { store: 'file', shownUrl: url });
  return { directory: path, options };
}

function isMilliseconds(value: unknown, min: number): value is number {
  return (
    typeof value === 'number' &&
    Number.isSafeInteger(value) &&
    value >= min &&
    value <= MAX_TIMER_MS
  );
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  return String(value);
}
