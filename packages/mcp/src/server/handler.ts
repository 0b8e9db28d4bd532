import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  assertValidId,
  type Clock,
  createStore,
  InvalidTransitionError,
  InvalidValueError,
  type JsonObject,
  PayloadTooLargeError,
  type Session,
  type SessionLimits,
  SessionManager,
  SessionNotFoundError,
  type SessionStore,
  StoreUnavailableError,
  VersionConflictError,
} from '@mcp-session/core';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { isInitializeRequest, isJSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import { SessionEventStore } from '../event-store/session-event-store.js';
import { isHandleMetadata } from '../handles/state-handles.js';
import { SessionContext } from '../tools/session-context.js';
import {
  jsonRpcErrorResponse,
  onResponseSettled,
  PREFERRED_SESSION_ID_HEADERS,
  readBodyText,
  SESSION_ID_HEADER,
  sessionNotFoundResponse,
} from './http.js';
import { type LiveSession, LiveSessions } from './live-sessions.js';
import { createNodeListener, type NodeListener } from './node.js';
import { defaultOwner, type OwnerResolver } from './owner.js';
import {
  checkSdkCompatibility,
  connectSessionTransport,
  ReplayAwareEventStore,
  replayInitialize,
  type SessionServer,
  type SessionTransportOptions,
} from './rebuild.js';
import { SdkCompatibilityError } from './sdk-compat.js';
import {
  isLoggingLevel,
  type McpSessionMetadata,
  readMcpMetadata,
  withMcpMetadata,
} from './session-metadata.js';

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
   * Resumable SSE streams (`Last-Event-ID`, on any instance): events kept in the session's logs, capped per
   * stream. `false` turns resumability off. Default `{ maxEventsPerStream: 100 }`.
   */
  eventStore?: false | { maxEventsPerStream?: number };
  /** Largest accepted POST body in bytes; larger ones get 413. Default 4 MiB (the SDK's default). */
  maxBodyBytes?: number;
  /** Options passed to every session's SDK transport. */
  transport?: SessionTransportOptions;
  /**
   * Called with errors that are not the client's fault alone: store failures, rebuild failures, events
   * that could not be persisted, and the SDK transport's own error reports. Default: ignored.
   */
  onerror?: (error: Error, sessionId: string | undefined) => void;
}

/** Per-handler counters, since the handler was created. */
export interface HandlerCounters {
  /** Sessions created by `initialize` (a preferred id that was honoured counts under `resumed`). */
  initialized: number;
  /** Re-initializes that got their preferred session id back. */
  resumed: number;
  /** Sessions rebuilt from the store (restart, another instance, after eviction). */
  rebuilt: number;
  /** Sessions dropped from memory for being idle or over `maxLiveSessions`. */
  evicted: number;
  /** Requests answered 404 because their session id is unknown, expired, closed or another owner's. */
  notFound: number;
  /** Sessions closed by DELETE. */
  deleted: number;
}

/** A snapshot of what the handler holds. */
export interface HandlerStats {
  /** Sessions held in memory. */
  liveSessions: number;
  /** Of those, sessions with a request in progress or a stream open. */
  busySessions: number;
  counters: HandlerCounters;
}

/** Options of `handleRequest`. */
export interface HandleRequestOptions {
  /** The authenticated caller; forwarded to tools as `extra.authInfo` and to the owner resolver. */
  authInfo?: AuthInfo;
  /** The body, when something already parsed it (Express' `express.json()`). */
  parsedBody?: unknown;
  /** The Node request, when there is one (for the owner resolver). */
  incoming?: IncomingMessage;
}

const DEFAULT_EVICT_AFTER_MS = 10 * 60_000;
const DEFAULT_MAX_LIVE_SESSIONS = 10_000;
const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
const MANAGER_OPTIONS = [
  'idleTimeoutMs',
  'maxLifetimeMs',
  'historyCap',
  'limits',
  'clock',
] as const;

/**
 * Creates the MCP endpoint: sessions in a store, rebuilt on demand, bound to their owner. Checks once that
 * the installed SDK behaves as rebuilding needs (see `checkSdkCompatibility`).
 * @throws SdkCompatibilityError when it does not.
 * @throws InvalidValueError for bad options.
 */
export async function createMcpSessionHandler(
  options: McpSessionHandlerOptions,
): Promise<McpSessionHandler> {
  if (typeof options?.server !== 'function') {
    throw new InvalidValueError('createMcpSessionHandler needs a server factory', 'server');
  }
  await checkSdkCompatibility();
  const { sessions } = options;
  if (sessions instanceof SessionManager) {
    const given = MANAGER_OPTIONS.filter((name) => options[name] !== undefined);
    if (given.length > 0) {
      throw new InvalidValueError(
        `${given.join(', ')} configure a manager the handler builds; set them on the SessionManager you pass instead`,
      );
    }
    return new McpSessionHandler(sessions, false, options);
  }
  const store = typeof sessions === 'string' ? await createStore(sessions) : sessions;
  if (!store || typeof store.get !== 'function') {
    throw new InvalidValueError(
      'sessions must be a SessionManager, a SessionStore or a store URL',
      'sessions',
    );
  }
  const manager = new SessionManager({
    store,
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
    ...(options.maxLifetimeMs === undefined ? {} : { maxLifetimeMs: options.maxLifetimeMs }),
    ...(options.historyCap === undefined ? {} : { historyCap: options.historyCap }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  return new McpSessionHandler(manager, true, options);
}

/**
 * The MCP endpoint (protocol 2025-11-25, SDK 1.x). Use `handleRequest` with web-standard requests,
 * `nodeListener` with `node:http`, or `middleware()` with Express. Create it with
 * `createMcpSessionHandler`.
 *
 * - `initialize` creates a session bound to the caller's owner (or resumes the preferred id, when it is
 *   resumable and the caller's) and persists what rebuilding needs in `metadata.mcp`.
 * - Any other request is checked against the store first: an unknown, expired, closed or other-owner id
 *   gets 404 (-32001) before the SDK sees it; a missing id gets 400. A session not held here is rebuilt.
 * - DELETE closes the session in the store (a tombstone: later requests get 404).
 */
export class McpSessionHandler {
  /** The manager sessions live in. */
  readonly manager: SessionManager;
  /** Path the Node listener and middleware serve (also with a trailing slash). */
  readonly path: string;
  /** `(req, res)` listener for `http.createServer`: serves `path` and answers 404 elsewhere. */
  readonly nodeListener: NodeListener;

  readonly #ownsManager: boolean;
  readonly #factory: ServerFactory;
  readonly #owner: OwnerResolver;
  readonly #evictAfterMs: number;
  readonly #maxLiveSessions: number;
  readonly #maxEventsPerStream: number | null;
  readonly #maxBodyBytes: number;
  readonly #transportOptions: SessionTransportOptions;
  readonly #onerror: (error: Error, sessionId: string | undefined) => void;
  readonly #live = new LiveSessions();
  readonly #rebuilding = new Map<string, Promise<LiveSession>>();
  readonly #counters: HandlerCounters = {
    initialized: 0,
    resumed: 0,
    rebuilt: 0,
    evicted: 0,
    notFound: 0,
    deleted: 0,
  };
  readonly #timers: NodeJS.Timeout[] = [];
  #closed = false;

  /** @internal Use `createMcpSessionHandler`, which also checks the SDK. */
  constructor(manager: SessionManager, ownsManager: boolean, options: McpSessionHandlerOptions) {
    this.manager = manager;
    this.#ownsManager = ownsManager;
    this.#factory = options.server;
    this.#owner = options.owner ?? defaultOwner;
    this.path = normalizePath(options.path ?? '/mcp');
    this.#evictAfterMs = positive(options.evictAfterMs ?? DEFAULT_EVICT_AFTER_MS, 'evictAfterMs');
    this.#maxLiveSessions = positive(
      options.maxLiveSessions ?? DEFAULT_MAX_LIVE_SESSIONS,
      'maxLiveSessions',
    );
    this.#maxBodyBytes = positive(options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, 'maxBodyBytes');
    this.#maxEventsPerStream =
      options.eventStore === false
        ? null
        : positive(options.eventStore?.maxEventsPerStream ?? 100, 'eventStore.maxEventsPerStream');
    this.#transportOptions = { ...options.transport };
    this.#onerror = options.onerror ?? (() => {});
    this.nodeListener = createNodeListener(this.path, (request, handleOptions) =>
      this.handleRequest(request, handleOptions),
    );

    const evictEvery = Math.max(1_000, Math.min(Math.floor(this.#evictAfterMs / 2), 60_000));
    this.#timers.push(setInterval(() => void this.evictIdle(), evictEvery));
    const sweepEvery =
      options.sweepIntervalMs === undefined ? DEFAULT_SWEEP_INTERVAL_MS : options.sweepIntervalMs;
    if (sweepEvery !== null) {
      this.#timers.push(
        setInterval(() => void this.sweep(), positive(sweepEvery, 'sweepIntervalMs')),
      );
    }
    for (const timer of this.#timers) timer.unref();
  }

  /**
   * Express-style middleware: serves `path` (and `path/`) and calls `next()` for anything else. Works
   * with or without `express.json()` in front of it.
   */
  middleware(): (
    req: IncomingMessage,
    res: ServerResponse,
    next: (error?: unknown) => void,
  ) => void {
    return (req, res, next) => {
      void this.nodeListener(req, res, next);
    };
  }

  /** Serves one web-standard request (any path: routing is the caller's). Never throws. */
  async handleRequest(request: Request, options: HandleRequestOptions = {}): Promise<Response> {
    let sessionId: string | undefined;
    try {
      sessionId = request.headers.get(SESSION_ID_HEADER) ?? undefined;
      return await this.#handle(request, options);
    } catch (error) {
      return this.#failure(error, sessionId);
    }
  }

  /**
   * The session of a request handler's `extra` (tools, prompts, resources), for its context and history.
   * @throws SessionNotFoundError when the request does not belong to a session held here.
   */
  sessionOf(extra: { sessionId?: string | undefined }): SessionContext {
    const live = extra?.sessionId === undefined ? undefined : this.#live.get(extra.sessionId);
    if (!live)
      throw new SessionNotFoundError('This request does not belong to a live MCP session.');
    return live.context;
  }

  /** What the handler holds, and its counters. */
  stats(): HandlerStats {
    const all = this.#live.all();
    return {
      liveSessions: all.length,
      busySessions: all.filter((session) => session.busy > 0).length,
      counters: { ...this.#counters },
    };
  }

  /**
   * Drops sessions unused for `evictAfterMs` (per the manager's clock) from memory and marks them idle in
   * the store when no instance has used them meanwhile. Runs on a timer; call it to evict at once.
   * Returns how many were evicted.
   */
  async evictIdle(): Promise<number> {
    const idle = this.#live.idleSince(this.manager.clock.now() - this.#evictAfterMs);
    await Promise.all(idle.map((session) => this.#evict(session, true)));
    return idle.length;
  }

  /** Deletes expired sessions from the store (runs every `sweepIntervalMs`). Returns the count. */
  async sweep(): Promise<number> {
    try {
      return await this.manager.sweepExpired();
    } catch (error) {
      this.#report(error, undefined);
      return 0;
    }
  }

  /**
   * Stops serving: closes every held transport and server (open streams end) but keeps every session in
   * the store, so another instance, or this one restarted, continues them. Closes the manager and its
   * store only when the handler created them. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    await Promise.allSettled([...this.#rebuilding.values()]);
    await Promise.all(this.#live.all().map((session) => this.#evict(session, false)));
    if (this.#ownsManager) await this.manager.close();
  }

  // ── request flow ─────────────────────────────────────────────────────────────────────────────────

  async #handle(request: Request, options: HandleRequestOptions): Promise<Response> {
    const { method } = request;
    if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
      return jsonRpcErrorResponse(405, -32000, 'Method not allowed.', {
        allow: 'GET, POST, DELETE',
      });
    }
    if (this.#closed) {
      return jsonRpcErrorResponse(503, -32000, 'Server is shutting down; retry shortly.');
    }
    const owner = await this.#owner({
      request,
      authInfo: options.authInfo,
      incoming: options.incoming,
    });

    let body: unknown;
    if (method === 'POST') {
      if (options.parsedBody !== undefined) {
        body = options.parsedBody;
      } else {
        const read = await readBodyText(request, this.#maxBodyBytes);
        if (!read.ok) {
          return jsonRpcErrorResponse(
            413,
            -32000,
            `Payload Too Large: Request body must not exceed ${this.#maxBodyBytes} bytes`,
          );
        }
        try {
          body = JSON.parse(read.text);
        } catch {
          return jsonRpcErrorResponse(400, -32700, 'Parse error: Invalid JSON');
        }
      }
    }
    const messages: unknown[] = method !== 'POST' ? [] : Array.isArray(body) ? body : [body];
    const initialize = messages.find(isInitializeRequest);

    const sessionId = request.headers.get(SESSION_ID_HEADER) || null;
    if (sessionId === null) {
      if (!initialize) {
        return jsonRpcErrorResponse(400, -32000, 'Bad Request: Mcp-Session-Id header is required');
      }
      if (messages.length > 1) {
        return jsonRpcErrorResponse(
          400,
          -32600,
          'Invalid Request: Only one initialization request is allowed',
        );
      }
      return this.#initialize(request, initialize, owner, options);
    }

    // Dead, foreign and malformed ids are answered here, so the SDK's own 400 paths never see them.
    if (!this.#isWellFormedId(sessionId)) return this.#notFound();
    const session = await this.manager.getSession(sessionId, { owner });
    if (!session || session.owner !== owner) {
      // Gone for its owner (expired, closed elsewhere): free the transport. Another owner presenting the
      // id must not disturb the owner's live session.
      await this.#drop(sessionId, owner);
      return this.#notFound();
    }
    if (method === 'DELETE') {
      await this.manager.closeSession(sessionId, { owner });
      await this.#drop(sessionId);
      this.#counters.deleted++;
      return new Response(null, { status: 200 });
    }
    const meta = readMcpMetadata(session.metadata);
    if (!meta) {
      // Not created by this glue (a state handle, or a session of an incompatible release): nothing to
      // rebuild from. For an old session, the 404 makes a recovering client re-initialize with this id as
      // its preferred id, which brings the session back; a handle is never resumed (see #initialize).
      return this.#notFound();
    }
    const live = await this.#acquire(sessionId, owner, meta, request.url);
    if (!live) return this.#notFound();
    try {
      if (session.state === 'idle') await this.#reactivate(sessionId, owner);
      await this.#persistLogLevel(messages, session, meta, owner);
      const response = await live.transport.handleRequest(
        request,
        method === 'POST'
          ? { parsedBody: body, authInfo: options.authInfo }
          : { authInfo: options.authInfo },
      );
      return onResponseSettled(response, () => this.#release(live));
    } catch (error) {
      this.#release(live);
      throw error;
    }
  }

  async #initialize(
    request: Request,
    message: { params: Record<string, unknown> },
    owner: string | null,
    options: HandleRequestOptions,
  ): Promise<Response> {
    const initialize = message.params as JsonObject;
    const fresh: McpSessionMetadata = { format: 1, generation: 1, initialize, logLevel: null };
    const preferred = await this.#resumablePreferredId(request.headers, owner);
    let session: Session;
    let resumed = false;
    if (preferred === null) {
      session = await this.manager.createSession({ owner, metadata: withMcpMetadata({}, fresh) });
    } else {
      const result = await this.manager.resumeSession(preferred, {
        owner,
        metadata: withMcpMetadata({}, fresh),
      });
      session = result.session;
      resumed = result.resumed;
      if (resumed) {
        const previous = readMcpMetadata(session.metadata);
        const generation = (previous?.generation ?? 0) + 1;
        session = await this.manager.updateSession(
          session.id,
          { metadata: withMcpMetadata(session.metadata, { ...fresh, generation }) },
          { owner },
        );
        await this.#drop(session.id);
      }
    }
    const generation = readMcpMetadata(session.metadata)?.generation ?? 1;
    let live: LiveSession;
    try {
      ({ live } = await this.#build(session.id, owner, generation, false));
    } catch (error) {
      if (!resumed) await this.manager.closeSession(session.id, { owner, purge: true });
      throw error;
    }
    this.#admit(live);
    live.busy++;
    let response: Response;
    try {
      response = await live.transport.handleRequest(request, {
        parsedBody: message,
        authInfo: options.authInfo,
      });
    } catch (error) {
      this.#release(live);
      await this.#abandon(live, resumed);
      throw error;
    }
    if (response.status !== 200) {
      this.#release(live);
      await this.#abandon(live, resumed);
      return response;
    }
    if (resumed) this.#counters.resumed++;
    else this.#counters.initialized++;
    return onResponseSettled(response, () => this.#release(live));
  }

  /**
   * The preferred session id of a re-initialize, or null when there is none or it names a state handle: a
   * handle shares the store but must never turn into an MCP session (resuming would overwrite its metadata).
   */
  async #resumablePreferredId(headers: Headers, owner: string | null): Promise<string | null> {
    const preferred = preferredSessionId(headers);
    if (preferred === null || !this.#isWellFormedId(preferred)) return preferred;
    const record = await this.manager.store.get(this.manager.storageId(preferred), {
      now: this.manager.clock.now(),
      owner,
    });
    return record && isHandleMetadata(record.metadata) ? null : preferred;
  }

  /** Undoes an initialize the SDK refused: a new session is purged, a resumed one is left as it was. */
  async #abandon(live: LiveSession, resumed: boolean): Promise<void> {
    await this.#evict(live, false);
    if (!resumed) {
      await this.manager
        .closeSession(live.id, { owner: live.owner, purge: true })
        .catch((error: unknown) => this.#report(error, live.id));
    }
  }

  /** The held session for `id`, rebuilt when needed, marked busy. Null when it cannot be rebuilt. */
  async #acquire(
    id: string,
    owner: string | null,
    meta: McpSessionMetadata,
    url: string,
  ): Promise<LiveSession | null> {
    for (let attempt = 0; attempt < 3; attempt++) {
      let live = this.#live.get(id);
      if (live && (live.generation !== meta.generation || live.owner !== owner)) {
        await this.#evict(live, false);
        live = undefined;
      }
      if (!live) {
        let pending = this.#rebuilding.get(id);
        if (!pending) {
          pending = this.#rebuild(id, owner, meta, url).finally(() => this.#rebuilding.delete(id));
          this.#rebuilding.set(id, pending);
        }
        try {
          live = await pending;
        } catch (error) {
          this.#report(error, id);
          return null;
        }
      }
      // Evicted while this request waited (cap pressure): take another turn.
      if (this.#live.get(id) !== live) continue;
      live.busy++;
      this.#live.touch(live, this.manager.clock.now());
      return live;
    }
    return null;
  }

  async #rebuild(
    id: string,
    owner: string | null,
    meta: McpSessionMetadata,
    url: string,
  ): Promise<LiveSession> {
    const { live, events } = await this.#build(id, owner, meta.generation, true);
    const replay = () =>
      replayInitialize(live.transport, live.server, {
        sessionId: id,
        initialize: meta.initialize,
        logLevel: meta.logLevel,
        url,
      });
    try {
      await (events ? events.whileMuted(replay) : replay());
    } catch (error) {
      await live.server.close().catch(() => {});
      throw error;
    }
    this.#admit(live);
    this.#counters.rebuilt++;
    return live;
  }

  /** A new server and transport for the session (not yet admitted to the live map). */
  async #build(
    id: string,
    owner: string | null,
    generation: number,
    rebuilt: boolean,
  ): Promise<{ live: LiveSession; events: ReplayAwareEventStore | undefined }> {
    const context = new SessionContext(this.manager, id, owner);
    const server = await this.#factory({
      sessionId: id,
      owner,
      session: context,
      manager: this.manager,
      rebuilt,
    });
    const events =
      this.#maxEventsPerStream === null
        ? undefined
        : new ReplayAwareEventStore(
            new SessionEventStore(this.manager, id, owner, {
              maxEventsPerStream: this.#maxEventsPerStream,
              onError: (error) => this.#report(error, id),
            }),
          );
    const holder: { live?: LiveSession } = {};
    const transport = await connectSessionTransport({
      sessionId: id,
      server,
      eventStore: events,
      transportOptions: this.#transportOptions,
      // Fires on every close (eviction and shutdown included): forget the transport, never the session.
      onclose: () => {
        if (holder.live) this.#live.remove(holder.live);
      },
      onerror: (error) => this.#report(error, id),
    });
    holder.live = {
      id,
      owner,
      generation,
      server,
      transport,
      context,
      lastUsedAt: this.manager.clock.now(),
      busy: 0,
    };
    return { live: holder.live, events };
  }

  /** Adds a session to the live map and evicts the least recently used idle ones beyond the cap. */
  #admit(live: LiveSession): void {
    this.#live.add(live);
    const excess = this.#live.size - this.#maxLiveSessions;
    if (excess > 0) {
      for (const victim of this.#live.leastRecentlyUsed(excess)) void this.#evict(victim, true);
    }
  }

  #release(live: LiveSession): void {
    live.busy = Math.max(0, live.busy - 1);
    this.#live.touch(live, this.manager.clock.now());
  }

  /** Closes a held session's transport and server. The stored session is never closed here. */
  async #evict(live: LiveSession, markIdle: boolean): Promise<void> {
    if (!this.#live.remove(live)) return;
    if (markIdle) this.#counters.evicted++;
    await live.server.close().catch((error: unknown) => this.#report(error, live.id));
    if (markIdle) await this.#markIdle(live);
  }

  /** Closes the held transport of `id`, if any (only when it belongs to `owner`, when one is given). */
  async #drop(id: string, owner?: string | null): Promise<void> {
    const live = this.#live.get(id);
    if (live && (owner === undefined || live.owner === owner)) await this.#evict(live, false);
  }

  /**
   * Marks an evicted session idle in the store, unless another instance used it within `evictAfterMs`.
   * Eviction is not activity, so the transition leaves the expiry where it is.
   */
  async #markIdle(live: LiveSession): Promise<void> {
    const { manager } = this;
    try {
      const now = manager.clock.now();
      const record = await manager.store.get(manager.storageId(live.id), {
        now,
        owner: live.owner,
      });
      if (record?.state !== 'active' || record.owner !== live.owner) return;
      if (now - record.lastActivityAt < this.#evictAfterMs) return;
      await manager.transitionState(live.id, 'idle', { owner: live.owner, recordActivity: false });
    } catch (error) {
      // Another request or instance changed the session meanwhile: it is not idle, nothing to do.
      const changed =
        error instanceof VersionConflictError ||
        error instanceof SessionNotFoundError ||
        error instanceof InvalidTransitionError;
      if (!changed) {
        this.#report(error, live.id);
      }
    }
  }

  async #reactivate(id: string, owner: string | null): Promise<void> {
    try {
      await this.manager.transitionState(id, 'active', { owner });
    } catch (error) {
      // Another request or instance moved it first; the session is still servable.
      if (!(error instanceof VersionConflictError)) this.#report(error, id);
    }
  }

  /** Persists the level of a `logging/setLevel` in the body before the SDK applies it. */
  async #persistLogLevel(
    messages: unknown[],
    session: Session,
    meta: McpSessionMetadata,
    owner: string | null,
  ): Promise<void> {
    let level: McpSessionMetadata['logLevel'] = null;
    for (const message of messages) {
      if (!isJSONRPCRequest(message) || message.method !== 'logging/setLevel') continue;
      const candidate = message.params?.level;
      if (isLoggingLevel(candidate)) level = candidate;
    }
    if (level === null || level === meta.logLevel) return;
    try {
      await this.manager.updateSession(
        session.id,
        { metadata: withMcpMetadata(session.metadata, { ...meta, logLevel: level }) },
        { owner },
      );
    } catch (error) {
      // The level still applies on this instance; only a rebuild elsewhere would miss it.
      this.#report(error, session.id);
    }
  }

  #notFound(): Response {
    this.#counters.notFound++;
    return sessionNotFoundResponse();
  }

  #isWellFormedId(id: string): boolean {
    try {
      assertValidId(id, this.manager.limits.maxIdLength);
      return true;
    } catch {
      return false;
    }
  }

  #failure(error: unknown, sessionId: string | undefined): Response {
    if (error instanceof InvalidValueError || error instanceof PayloadTooLargeError) {
      return jsonRpcErrorResponse(400, -32602, `Invalid params: ${error.message}`);
    }
    this.#report(error, sessionId);
    if (error instanceof StoreUnavailableError) {
      return jsonRpcErrorResponse(503, -32603, 'Session store unavailable; retry shortly.', {
        'retry-after': '1',
      });
    }
    if (error instanceof SdkCompatibilityError) {
      return jsonRpcErrorResponse(500, -32603, error.message);
    }
    return jsonRpcErrorResponse(500, -32603, 'Internal error');
  }

  #report(error: unknown, sessionId: string | undefined): void {
    try {
      this.#onerror(error instanceof Error ? error : new Error(String(error)), sessionId);
    } catch {
      // A throwing error listener must not break request handling.
    }
  }
}

function preferredSessionId(headers: Headers): string | null {
  for (const name of PREFERRED_SESSION_ID_HEADERS) {
    const value = headers.get(name);
    if (value !== null && value !== '') return value;
  }
  return null;
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
