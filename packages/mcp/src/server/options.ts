import {
  type Clock,
  createStore,
  InvalidValueError,
  isSessionManager,
  type SessionLimits,
  SessionManager,
  type SessionStore,
} from '@mcp-session/core';
import {
  type EventStoreLimits,
  resolveEventStoreLimits,
  type SessionEventStoreOptions,
} from '../event-store/session-event-store.js';
import type { SessionContext } from '../session-context.js';
import { defaultOwner, type OwnerResolver } from './owner.js';
import type { SessionServer, SessionTransportOptions } from './rebuild.js';

/** What the server factory gets for each session it builds a server for. */
export interface ServerFactoryContext {
  /** The MCP session id. */
  sessionId: string;
  /** The owner the session is bound to (null when unbound). */
  owner: string | null;
  /** The session's context and history, for the server's tool handlers. */
  session: SessionContext;
  /** The manager all sessions live in. */
  manager: SessionManager;
  /** True when an existing session is being rebuilt (restart, another instance), false on initialize. */
  rebuilt: boolean;
}

/**
 * Returns a new server for one session. The SDK connects a server to one transport only, so this must
 * build a fresh `McpServer` (or `Server`) on every call; register its tools inside.
 */
export type ServerFactory = (
  context: ServerFactoryContext,
) => SessionServer | Promise<SessionServer>;

/** Options of `createMcpSessionHandler`. Durations are milliseconds. */
export interface McpSessionHandlerOptions {
  /**
   * Where sessions live: a ready `SessionManager`, a `SessionStore`, or a store URL for `createStore`
   * (`sqlite:./data/sessions.db`, `redis://…`, …). A handler that opened the store or built the manager
   * closes it in `close()`; a manager you pass in stays yours.
   */
  sessions: SessionManager | SessionStore | string;
  /** Builds one server per session. */
  server: ServerFactory;
  /** Maps a request to the owner its session is bound to. Default: `authInfo.clientId`, else null. */
  owner?: OwnerResolver;
  /** Sliding idle timeout of a session in the store (manager option; not with a ready manager). Default 30 min. */
  idleTimeoutMs?: number | null;
  /** Absolute session lifetime (manager option; not with a ready manager). Default 24 h. */
  maxLifetimeMs?: number | null;
  /** Messages kept per session history (manager option; not with a ready manager). Default 100. */
  historyCap?: number;
  /** Size and structure limits (manager option; not with a ready manager). */
  limits?: Partial<SessionLimits>;
  /** Clock of the manager (manager option; not with a ready manager). Default: the wall clock. */
  clock?: Clock;
  /** Path served by the Node listener and the Express middleware, with or without a trailing slash. Default `/mcp`. */
  path?: string;
  /**
   * A held session unused for this long is dropped from memory (its transport and server closed; the
   * session stays in the store and is rebuilt on its next request). Sessions with an open stream are never
   * evicted. Default 10 minutes.
   */
  evictAfterMs?: number;
  /** Most sessions held in memory; beyond it the least recently used idle ones are evicted. Default 10,000. */
  maxLiveSessions?: number;
  /** How often expired sessions are swept from the store, or null for never. Default 60 seconds. */
  sweepIntervalMs?: number | null;
  /**
   * Resumable SSE streams (`Last-Event-ID`, on any instance): every stream's events in one log per
   * session, at most `maxEvents` (default 100) in total, each at most `maxEventBytes` (default 16 KiB;
   * larger ones are delivered but not stored), replayed for `retentionMs` (default 5 minutes) after they
   * were stored. `maxEventsPerStream` is a deprecated alias of `maxEvents`. `false` turns resumability off.
   */
  eventStore?: false | Omit<SessionEventStoreOptions, 'onError'>;
  /**
   * Largest accepted POST body in bytes; larger ones get 413 (from the dual-era listener too). Default
   * 4 MiB (the SDK's default).
   */
  maxBodyBytes?: number;
  /** Options passed to every session's SDK transport. */
  transport?: SessionTransportOptions;
  /**
   * Called with errors that are not the client's fault alone: store failures, rebuild failures, events
   * that could not be persisted, and the SDK transport's own error reports. Default: ignored.
   */
  onerror?: (error: Error, sessionId: string | undefined) => void;
}

/** The handler's options with defaults applied and numbers checked: what the handler runs on. */
export interface HandlerSettings {
  factory: ServerFactory;
  owner: OwnerResolver;
  /** Normalized: starts with `/`, no trailing slash (except `/` itself). */
  path: string;
  evictAfterMs: number;
  maxLiveSessions: number;
  /** Null when resumable streams are off. */
  eventStore: EventStoreLimits | null;
  maxBodyBytes: number;
  /** Null when the handler never sweeps. */
  sweepIntervalMs: number | null;
  transportOptions: SessionTransportOptions;
  onerror: (error: Error, sessionId: string | undefined) => void;
}

const DEFAULT_PATH = '/mcp';
const DEFAULT_EVICT_AFTER_MS = 10 * 60_000;
const DEFAULT_MAX_LIVE_SESSIONS = 10_000;
const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Options that configure a manager the handler builds; meaningless next to a ready one. */
const MANAGER_OPTIONS = [
  'idleTimeoutMs',
  'maxLifetimeMs',
  'historyCap',
  'limits',
  'clock',
] as const;

/**
 * Applies the defaults and checks every handler option, before anything is opened.
 * @throws InvalidValueError naming the first bad option.
 */
export function resolveHandlerSettings(options: McpSessionHandlerOptions): HandlerSettings {
  if (typeof options?.server !== 'function') {
    throw new InvalidValueError('createMcpSessionHandler needs a server factory', 'server');
  }
  const sweepIntervalMs =
    options.sweepIntervalMs === undefined ? DEFAULT_SWEEP_INTERVAL_MS : options.sweepIntervalMs;
  return {
    factory: options.server,
    owner: options.owner ?? defaultOwner,
    path: normalizePath(options.path ?? DEFAULT_PATH),
    evictAfterMs: positive(options.evictAfterMs ?? DEFAULT_EVICT_AFTER_MS, 'evictAfterMs'),
    maxLiveSessions: positive(
      options.maxLiveSessions ?? DEFAULT_MAX_LIVE_SESSIONS,
      'maxLiveSessions',
    ),
    maxBodyBytes: positive(options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, 'maxBodyBytes'),
    eventStore:
      options.eventStore === false
        ? null
        : resolveEventStoreLimits(options.eventStore, 'eventStore.'),
    sweepIntervalMs: sweepIntervalMs === null ? null : positive(sweepIntervalMs, 'sweepIntervalMs'),
    transportOptions: { ...options.transport },
    onerror: options.onerror ?? (() => {}),
  };
}

/**
 * The manager of `options.sessions`: the one given, or one built over the given store or a store opened
 * from the URL. `ownsManager` says whether the handler must close it.
 * @throws InvalidValueError for manager options next to a ready manager, or `sessions` of no known kind.
 */
export async function openSessionManager(
  options: McpSessionHandlerOptions,
): Promise<{ manager: SessionManager; ownsManager: boolean }> {
  const { sessions } = options;
  if (isSessionManager(sessions)) {
    const given = MANAGER_OPTIONS.filter((name) => options[name] !== undefined);
    if (given.length > 0) {
      throw new InvalidValueError(
        `${given.join(', ')} configure a manager the handler builds; set them on the SessionManager you pass instead`,
      );
    }
    return { manager: sessions, ownsManager: false };
  }
  const opened = typeof sessions === 'string' ? await createStore(sessions) : undefined;
  const store = opened ?? sessions;
  if (!store || typeof (store as Partial<SessionStore>).get !== 'function') {
    throw new InvalidValueError(
      'sessions must be a SessionManager, a SessionStore or a store URL',
      'sessions',
    );
  }
  try {
    const manager = new SessionManager({
      store: store as SessionStore,
      ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
      ...(options.maxLifetimeMs === undefined ? {} : { maxLifetimeMs: options.maxLifetimeMs }),
      ...(options.historyCap === undefined ? {} : { historyCap: options.historyCap }),
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    return { manager, ownsManager: true };
  } catch (error) {
    // A store opened from the URL is nobody else's: leaving it open would leak its connection or file.
    await opened?.close().catch(() => {});
    throw error;
  }
}

function normalizePath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new InvalidValueError(`path must start with "/", got ${JSON.stringify(path)}`, 'path');
  }
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidValueError(`${name} must be a positive integer, got ${String(value)}`, name);
  }
  return value;
}
