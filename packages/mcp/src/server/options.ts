import {
  type Clock,
  createStore,
  InvalidValueError,
  isSessionManager,
  MAX_TIMER_MS,
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
import { type OriginPolicy, resolveOriginPolicy } from './origin-guard.js';
import { defaultOwner, type OwnerResolver } from './owner.js';
import {
  OWNED_TRANSPORT_OPTIONS,
  type SessionServer,
  type SessionTransportOptions,
} from './rebuild.js';

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
  /**
   * Most sessions held in memory. Admitting one more evicts the least recently used idle one; when every
   * held session is busy (a request in progress or a stream open) the request gets 503 with `Retry-After`
   * (`PoolSaturatedError`), never 404. Default 10,000.
   */
  maxLiveSessions?: number;
  /**
   * Most sessions one owner holds in memory. Over it, that owner's least recently used idle session is
   * evicted; when all of them are busy the request gets 429 (`OwnerLimitError`). Unbound sessions (owner
   * null) count only toward `maxLiveSessions`. Default 100.
   */
  maxLiveSessionsPerOwner?: number;
  /**
   * Most open streams of one owner: GET streams and POST responses streamed as SSE, until their body ends.
   * One more gets 429 (`OwnerLimitError`) before the SDK sees the request. Unbound requests are not
   * limited. Default 100.
   */
  maxOpenStreamsPerOwner?: number;
  /**
   * `Host` headers served: host names (any port) or `host:port`, or `'*'` for any. Others get 403. A public
   * deployment must set it to the names it is reached by. Default: `localhost`, `127.0.0.1` and `[::1]`.
   */
  allowedHosts?: '*' | readonly string[];
  /**
   * `Origin` headers accepted besides those with a loopback host (`http://localhost:5173`…), or `'*'` for
   * any: origins such as `https://app.example.com`. A request without `Origin` (not from a browser)
   * passes; any other gets 403. Default: none besides loopback.
   */
  allowedOrigins?: '*' | readonly string[];
  /**
   * How often expired sessions are swept from the store, or null for never; 1 to `MAX_TIMER_MS`
   * (2147483647) milliseconds. Default 60 seconds.
   */
  sweepIntervalMs?: number | null;
  /**
   * Resumable SSE streams (`Last-Event-ID`, on any instance): every stream's events in one log per
   * session, at most `maxEvents` (default 100) in total, each at most `maxEventBytes` (default 16 KiB;
   * larger ones are delivered but not stored), replayed for `retentionMs` (default 5 minutes) after they
   * were stored. `maxEventsPerStream` is a deprecated alias of `maxEvents`. `false` turns resumability off.
   */
  eventStore?: false | Omit<SessionEventStoreOptions, 'onError'>;
  /**
   * Largest accepted POST body in bytes; larger ones get 413 (from the dual-era listener too). A declared
   * `Content-Length` over it is answered before any of the body is read, and the connection closed.
   * Default 4 MiB (the SDK's default).
   */
  maxBodyBytes?: number;
  /**
   * Routes server→client traffic between the instances sharing the store, over its message bus
   * (`capabilities.messaging`): client responses and cancellations reach the instance holding the request,
   * standalone-stream messages the instance holding the GET stream. Ignored (as if false) on a store without
   * a bus. Default true.
   */
  routeAcrossInstances?: boolean;
  /**
   * Options passed to every session's SDK transport (`WebStandardStreamableHTTPServerTransport`), except
   * those the handler owns: the session id, event store and session callbacks, Host/Origin checks
   * (`allowedHosts`, `allowedOrigins` above) and the body limit (`maxBodyBytes`).
   */
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
  maxLiveSessionsPerOwner: number;
  maxOpenStreamsPerOwner: number;
  originPolicy: OriginPolicy;
  /** Null when resumable streams are off. */
  eventStore: EventStoreLimits | null;
  maxBodyBytes: number;
  routeAcrossInstances: boolean;
  /** Null when the handler never sweeps. */
  sweepIntervalMs: number | null;
  transportOptions: SessionTransportOptions;
  onerror: (error: Error, sessionId: string | undefined) => void;
}

const DEFAULT_PATH = '/mcp';
const DEFAULT_EVICT_AFTER_MS = 10 * 60_000;
const DEFAULT_MAX_LIVE_SESSIONS = 10_000;
const DEFAULT_MAX_LIVE_SESSIONS_PER_OWNER = 100;
const DEFAULT_MAX_OPEN_STREAMS_PER_OWNER = 100;
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
    maxLiveSessionsPerOwner: positive(
      options.maxLiveSessionsPerOwner ?? DEFAULT_MAX_LIVE_SESSIONS_PER_OWNER,
      'maxLiveSessionsPerOwner',
    ),
    maxOpenStreamsPerOwner: positive(
      options.maxOpenStreamsPerOwner ?? DEFAULT_MAX_OPEN_STREAMS_PER_OWNER,
      'maxOpenStreamsPerOwner',
    ),
    originPolicy: resolveOriginPolicy(options.allowedHosts, options.allowedOrigins),
    maxBodyBytes: positive(options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, 'maxBodyBytes'),
    routeAcrossInstances: flag(options.routeAcrossInstances ?? true, 'routeAcrossInstances'),
    eventStore:
      options.eventStore === false
        ? null
        : resolveEventStoreLimits(options.eventStore, 'eventStore.'),
    sweepIntervalMs:
      sweepIntervalMs === null ? null : timerDelay(sweepIntervalMs, 'sweepIntervalMs'),
    transportOptions: transportOptions(options.transport),
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

/**
 * The SDK transport options to pass through.
 * @throws InvalidValueError for an option the handler owns, naming the handler option to use instead.
 */
function transportOptions(given: SessionTransportOptions | undefined): SessionTransportOptions {
  const options = { ...given };
  for (const [name, instead] of Object.entries(OWNED_TRANSPORT_OPTIONS)) {
    if ((options as Record<string, unknown>)[name] !== undefined) {
      throw new InvalidValueError(
        `transport.${name} is set by the handler; ${instead}`,
        `transport.${name}`,
      );
    }
  }
  return options;
}

function normalizePath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new InvalidValueError(`path must start with "/", got ${JSON.stringify(path)}`, 'path');
  }
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** A delay that becomes a timer: Node fires one longer than `MAX_TIMER_MS` after 1 ms, so it is refused. */
function timerDelay(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_TIMER_MS) {
    throw new InvalidValueError(
      `${name} must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS} (a longer timer would fire after 1 ms), got ${String(value)}`,
      name,
    );
  }
  return value;
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidValueError(`${name} must be a positive integer, got ${String(value)}`, name);
  }
  return value;
}

function flag(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') {
    throw new InvalidValueError(`${name} must be true or false, got ${typeof value}`, name);
  }
  return value;
}
