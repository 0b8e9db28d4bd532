import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type JsonObject,
  type Session,
  type SessionManager,
  SessionNotFoundError,
} from '@mcp-session/core';
import { type InitializeRequest, isJSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import {
  batchedInitializeResponse,
  forbiddenResponse,
  methodNotAllowedResponse,
  payloadTooLargeResponse,
  SESSION_ID_HEADER,
  sessionIdRequiredResponse,
  sessionNotFoundResponse,
  shuttingDownResponse,
} from '../protocol.js';
import type { SessionContext } from '../session-context.js';
import { readMcpMetadata } from '../session-kinds.js';
import { failureResponse, isClientFault, type Refusal, refusalOf } from './error-responses.js';
import { createNodeListener, isBodyParsed, type NodeListener } from './node-listener.js';
import {
  type HandlerSettings,
  type McpSessionHandlerOptions,
  openSessionManager,
  resolveHandlerSettings,
} from './options.js';
import { type OriginPolicy, originPolicyRefusal } from './origin-guard.js';
import type { OwnerResolver } from './owner.js';
import { PoolSaturatedError } from './pool-errors.js';
import { checkSdkCompatibility } from './rebuild.js';
import {
  declaredContentLength,
  type HandleRequestOptions,
  initializeRefusal,
  isWellFormedId,
  type McpRequest,
  preferredSessionId,
  readMcpRequest,
  requestedLogLevel,
} from './request.js';
import { type LiveSession, type PoolSlot, SessionPool, type StreamTicket } from './session-pool.js';
import { openSessionForInitialize, persistLogLevel, reactivateSession } from './stored-session.js';

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
  /** Requests answered 503 because every held session was busy (`PoolSaturatedError`). */
  saturated: number;
  /** Requests answered 429 because their owner held `maxLiveSessionsPerOwner` busy sessions. */
  ownerSessionLimited: number;
  /** Requests answered 429 because their owner had `maxOpenStreamsPerOwner` streams open. */
  ownerStreamLimited: number;
  /** Initializes answered 429 because their owner has all the stored sessions its quota allows. */
  ownerQuotaExceeded: number;
  /** Initializes answered 503 because the store holds all the sessions its quota allows. */
  totalQuotaExceeded: number;
  /** Requests answered 403 for their `Host` or `Origin` (`allowedHosts`, `allowedOrigins`). */
  forbidden: number;
}

/** A snapshot of what the handler holds. */
export interface HandlerStats {
  /** Sessions held in memory. */
  liveSessions: number;
  /** Of those, sessions with a request in progress or a stream open. */
  busySessions: number;
  /** Response bodies still streaming (GET streams and POST responses as SSE), of every owner. */
  openStreams: number;
  counters: HandlerCounters;
}

/** Refusals that point at the operator (too small a pool or quota): reported at most this often. */
const REFUSAL_REPORT_INTERVAL_MS = 60_000;

/**
 * Creates the MCP endpoint: sessions in a store, rebuilt on demand, bound to their owner. Checks once that
 * the installed SDK behaves as rebuilding needs (see `checkSdkCompatibility`), and every option before a
 * store is opened.
 * @throws SdkCompatibilityError when the SDK does not behave as rebuilding needs.
 * @throws InvalidValueError for bad options.
 */
export async function createMcpSessionHandler(
  options: McpSessionHandlerOptions,
): Promise<McpSessionHandler> {
  const settings = resolveHandlerSettings(options);
  await checkSdkCompatibility();
  const { manager, ownsManager } = await openSessionManager(options);
  return new McpSessionHandler(manager, ownsManager, settings);
}

/**
 * The MCP endpoint (protocol 2025-11-25, SDK 1.x). Use `handleRequest` with web-standard requests,
 * `nodeListener` with `node:http`, or `middleware()` with Express; `createDualEraListener` (from
 * `@mcp-session/mcp/dual-era`) puts it and a 2026 handler on one endpoint. Create it with
 * `createMcpSessionHandler`.
 *
 * This class is the routing. What it reads and writes of a stored session is in `stored-session.ts`; the
 * sessions it holds in memory are the `SessionPool`'s (`session-pool.ts`).
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
  /** Largest POST body accepted, in bytes; the dual-era listener reads bodies under the same bound. */
  readonly maxBodyBytes: number;
  /** `(req, res)` listener for `http.createServer`: serves `path` and answers 404 elsewhere. */
  readonly nodeListener: NodeListener;

  readonly #ownsManager: boolean;
  readonly #owner: OwnerResolver;
  readonly #onerror: (error: Error, sessionId: string | undefined) => void;
  readonly #pool: SessionPool;
  readonly #originPolicy: OriginPolicy;
  readonly #maxLiveSessions: number;
  /** Whether POSTs are answered with JSON: then only GET streams count as open streams. */
  readonly #jsonResponses: boolean;
  readonly #counters = {
    initialized: 0,
    resumed: 0,
    notFound: 0,
    deleted: 0,
    saturated: 0,
    ownerSessionLimited: 0,
    ownerStreamLimited: 0,
    ownerQuotaExceeded: 0,
    totalQuotaExceeded: 0,
    forbidden: 0,
  };
  /** Per refusal reported to `onerror`: when it last was (manager clock), and how many came since. */
  readonly #refusalReports = new Map<Refusal, { reportedAt: number; unreported: number }>();
  readonly #timers: NodeJS.Timeout[] = [];
  #closed = false;
  /** Hands an error to `onerror`, which must not break request handling by throwing. */
  readonly #report = (error: unknown, sessionId: string | undefined): void => {
    try {
      this.#onerror(error instanceof Error ? error : new Error(String(error)), sessionId);
    } catch {
      // A throwing error listener must not break request handling.
    }
  };

  /** @internal Use `createMcpSessionHandler`, which checks the options and the SDK. */
  constructor(manager: SessionManager, ownsManager: boolean, settings: HandlerSettings) {
    this.manager = manager;
    this.#ownsManager = ownsManager;
    this.#owner = settings.owner;
    this.#onerror = settings.onerror;
    this.path = settings.path;
    this.maxBodyBytes = settings.maxBodyBytes;
    this.#originPolicy = settings.originPolicy;
    this.#maxLiveSessions = settings.maxLiveSessions;
    this.#jsonResponses = settings.transportOptions.enableJsonResponse === true;
    this.#pool = new SessionPool({
      manager,
      factory: settings.factory,
      evictAfterMs: settings.evictAfterMs,
      maxLiveSessions: settings.maxLiveSessions,
      maxLiveSessionsPerOwner: settings.maxLiveSessionsPerOwner,
      maxOpenStreamsPerOwner: settings.maxOpenStreamsPerOwner,
      eventStore: settings.eventStore,
      transportOptions: settings.transportOptions,
      routeAcrossInstances: settings.routeAcrossInstances,
      report: this.#report,
    });
    this.nodeListener = createNodeListener(
      this.path,
      (req) => this.screenNodeRequest(req),
      (request, handleOptions) => this.handleRequest(request, handleOptions),
      this.maxBodyBytes,
    );

    const evictEvery = Math.max(1_000, Math.min(Math.floor(settings.evictAfterMs / 2), 60_000));
    this.#timers.push(setInterval(() => void this.evictIdle(), evictEvery));
    if (settings.sweepIntervalMs !== null) {
      this.#timers.push(setInterval(() => void this.sweep(), settings.sweepIntervalMs));
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
      return await this.#route(request, options);
    } catch (error) {
      const refusal = refusalOf(error);
      if (refusal) this.#countRefusal(refusal, error);
      else if (!isClientFault(error)) this.#report(error, sessionId);
      return failureResponse(error);
    }
  }

  /**
   * @internal The node listeners' first look at a request, before a byte of its body is read: 403 for a
   * `Host` or `Origin` that is not allowed, 413 for a POST that declares a body over `maxBodyBytes`. Both
   * close the connection, so a client cannot hold it by never sending the body it announced. Null to
   * serve the request.
   */
  screenNodeRequest(req: IncomingMessage): Response | null {
    const host = req.headers.host ?? headerValue(req.headers[':authority']);
    const refused = this.#refuseForeign(host, req.headers.origin);
    if (refused) return refused;
    if (req.method === 'POST' && !isBodyParsed(req)) {
      const length = declaredContentLength(req);
      if (length !== null && length > this.maxBodyBytes) {
        return payloadTooLargeResponse(this.maxBodyBytes, { connection: 'close' });
      }
    }
    return null;
  }

  /** @internal Hands an error no request can be answered with to `onerror` (the dual-era listener's). */
  reportError(error: unknown): void {
    this.#report(error, undefined);
  }

  /**
   * The session of a request handler's `extra` (tools, prompts, resources), for its context and history.
   * @throws SessionNotFoundError when the request does not belong to a session held here.
   */
  sessionOf(extra: { sessionId?: string | undefined }): SessionContext {
    const context =
      extra?.sessionId === undefined ? undefined : this.#pool.contextOf(extra.sessionId);
    if (!context) {
      throw new SessionNotFoundError('This request does not belong to a live MCP session.');
    }
    return context;
  }

  /** What the handler holds, and its counters. */
  stats(): HandlerStats {
    const { held, busy, openStreams, rebuilt, evicted } = this.#pool.stats();
    return {
      liveSessions: held,
      busySessions: busy,
      openStreams,
      counters: { ...this.#counters, rebuilt, evicted },
    };
  }

  /**
   * Drops sessions unused for `evictAfterMs` (per the manager's clock) from memory and marks them idle in
   * the store when no instance has used them meanwhile. Runs on a timer; call it to evict at once.
   * Returns how many were evicted.
   */
  async evictIdle(): Promise<number> {
    return this.#pool.evictIdle();
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
    await this.#pool.forgetAll();
    if (this.#ownsManager) await this.manager.close();
  }

  /** Sends a request to initialize, DELETE or serve — or answers it here when it cannot go anywhere. */
  async #route(request: Request, options: HandleRequestOptions): Promise<Response> {
    const foreign = this.#refuseForeign(
      request.headers.get('host') ?? new URL(request.url).host,
      request.headers.get('origin') ?? undefined,
    );
    if (foreign) return foreign;
    const { method } = request;
    if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
      return methodNotAllowedResponse();
    }
    if (this.#closed) {
      return shuttingDownResponse();
    }
    const owner = await this.#owner({
      request,
      authInfo: options.authInfo,
      incoming: options.incoming,
    });
    const read = await readMcpRequest(request, options.parsedBody, this.maxBodyBytes);
    if (!read.ok) return read.response;
    const mcp = read.request;

    const { sessionId } = mcp;
    if (sessionId === null) {
      if (!mcp.initialize) return sessionIdRequiredResponse();
      if (mcp.messages.length > 1) return batchedInitializeResponse();
      return this.#initialize(request, mcp.initialize, owner, options);
    }

    // Dead, foreign and malformed ids are answered here, so the SDK's own 400 paths never see them.
    if (!isWellFormedId(sessionId, this.manager.limits.maxIdLength)) return this.#notFound();
    if (method === 'DELETE') return this.#delete(sessionId, owner);
    // Refused for load before the store is read: a saturated server spends nothing on the request.
    const stream = this.#opensStream(method, mcp) ? this.#pool.openStream(owner) : null;
    try {
      if (!this.#pool.holds(sessionId, owner)) {
        const refusal = this.#pool.admissionRefusal(owner);
        if (refusal) throw refusal;
      }
      const session = await this.manager.getSession(sessionId, { owner });
      if (!session || session.owner !== owner) {
        stream?.close();
        await this.#forgetGone(sessionId, owner);
        return this.#notFound();
      }
      return await this.#serve(request, session, mcp, owner, options, stream);
    } catch (error) {
      stream?.close();
      throw error;
    }
  }

  async #delete(sessionId: string, owner: string | null): Promise<Response> {
    const session = await this.manager.getSession(sessionId, { owner });
    if (!session || session.owner !== owner) {
      await this.#forgetGone(sessionId, owner);
      return this.#notFound();
    }
    await this.manager.closeSession(sessionId, { owner });
    await this.#pool.forgetId(sessionId);
    this.#counters.deleted++;
    return new Response(null, { status: 200 });
  }

  /**
   * Frees the transport of a session gone for its owner (expired, closed elsewhere). Another owner
   * presenting the id must not disturb the owner's live session.
   */
  async #forgetGone(sessionId: string, owner: string | null): Promise<void> {
    await this.#pool.forgetId(sessionId, owner);
  }

  /**
   * Serves a request of a live session on its held transport, rebuilding it when this process has none.
   * Takes over `stream`: it stays open with a streaming response, and is closed on every other outcome.
   */
  async #serve(
    request: Request,
    session: Session,
    mcp: McpRequest,
    owner: string | null,
    options: HandleRequestOptions,
    stream: StreamTicket | null,
  ): Promise<Response> {
    const meta = readMcpMetadata(session.metadata);
    if (!meta) {
      // Not created by this glue (a state handle, or a session of an incompatible release): nothing to
      // rebuild from. For an old session, the 404 makes a recovering client re-initialize with this id as
      // its preferred id, which brings the session back; a handle is never resumed (stored-session.ts).
      stream?.close();
      return this.#notFound();
    }
    const live = await this.#pool.acquire(session.id, owner, meta, request.url);
    if (!live) {
      stream?.close();
      return this.#notFound();
    }
    try {
      if (session.state === 'idle') {
        await reactivateSession(this.manager, session.id, owner, this.#report);
      }
      const level = requestedLogLevel(mcp.messages);
      await persistLogLevel(this.manager, session, meta, level, this.#report);
      let body = mcp.body;
      if (request.method === 'POST' && live.route) {
        // Responses to requests another instance sent go there; with nothing left, the POST is done.
        const kept = await live.route.forward(mcp.messages);
        if (kept.length === 0) {
          this.#pool.release(live);
          stream?.close();
          return new Response(null, { status: 202 });
        }
        if (kept.length < mcp.messages.length) body = Array.isArray(mcp.body) ? kept : kept[0];
      }
      const response = await live.transport.handleRequest(
        request,
        request.method === 'POST'
          ? { parsedBody: body, authInfo: options.authInfo }
          : { authInfo: options.authInfo },
      );
      return this.#pool.releaseWhenSettled(live, response, stream);
    } catch (error) {
      this.#pool.release(live);
      throw error;
    }
  }

  async #initialize(
    request: Request,
    message: InitializeRequest,
    owner: string | null,
    options: HandleRequestOptions,
  ): Promise<Response> {
    // Whatever the SDK or the limits would refuse is refused before a session is created or resumed.
    const refused = initializeRefusal(request, message);
    if (refused) return refused;
    const stream = this.#jsonResponses ? null : this.#pool.openStream(owner);
    let slot: PoolSlot | null = null;
    try {
      slot = this.#pool.reserve(owner);
      const { session, resumed } = await openSessionForInitialize(
        this.manager,
        message.params as JsonObject,
        owner,
        preferredSessionId(request.headers),
      );
      // Re-initialized: a transport held for the previous generation must not serve it.
      if (resumed) await this.#pool.forgetId(session.id);
      const generation = readMcpMetadata(session.metadata)?.generation ?? 1;
      let live: LiveSession;
      try {
        live = await this.#pool.start(slot, session.id, generation);
      } catch (error) {
        if (!resumed) await this.manager.closeSession(session.id, { owner, purge: true });
        throw error;
      }
      let response: Response;
      try {
        response = await live.transport.handleRequest(request, {
          parsedBody: message,
          authInfo: options.authInfo,
        });
      } catch (error) {
        await this.#undoInitialize(live, resumed);
        throw error;
      }
      if (response.status !== 200) {
        // A refusal the checks above do not foresee (a future SDK's).
        await this.#undoInitialize(live, resumed);
        stream?.close();
        return response;
      }
      if (resumed) this.#counters.resumed++;
      else this.#counters.initialized++;
      return this.#pool.releaseWhenSettled(live, response, stream);
    } catch (error) {
      stream?.close();
      if (slot) this.#pool.cancel(slot);
      throw error;
    }
  }

  /**
   * Undoes an initialize the SDK refused: the transport is forgotten; a new session is purged, a resumed
   * one is left as it was.
   */
  async #undoInitialize(live: LiveSession, resumed: boolean): Promise<void> {
    this.#pool.release(live);
    await this.#pool.forget(live);
    if (!resumed) {
      await this.manager
        .closeSession(live.id, { owner: live.owner, purge: true })
        .catch((error: unknown) => this.#report(error, live.id));
    }
  }

  #notFound(): Response {
    this.#counters.notFound++;
    return sessionNotFoundResponse();
  }

  /** Whether serving the request opens a stream: a GET stream, or a POST with requests answered as SSE. */
  #opensStream(method: 'GET' | 'POST', mcp: McpRequest): boolean {
    if (method === 'GET') return true;
    return !this.#jsonResponses && mcp.messages.some(isJSONRPCRequest);
  }

  /** 403 for a `Host` or `Origin` the options do not allow (counted), or null. */
  #refuseForeign(host: string | undefined, origin: string | undefined): Response | null {
    const refusal = originPolicyRefusal(this.#originPolicy, host, origin);
    if (refusal === null) return null;
    this.#counters.forbidden++;
    return forbiddenResponse(refusal);
  }

  /**
   * Counts a refusal. Those that point at the operator — the pool or the store is full — also reach
   * `onerror`, at most once a minute (manager clock) with the number refused since the last report: a
   * flood of refusals must not become a flood of log lines.
   */
  #countRefusal(refusal: Refusal, error: unknown): void {
    this.#counters[refusal]++;
    if (refusal !== 'saturated' && refusal !== 'totalQuotaExceeded') return;
    const now = this.manager.clock.now();
    const report = this.#refusalReports.get(refusal) ?? {
      reportedAt: Number.NEGATIVE_INFINITY,
      unreported: 0,
    };
    report.unreported++;
    this.#refusalReports.set(refusal, report);
    if (now - report.reportedAt < REFUSAL_REPORT_INTERVAL_MS) return;
    const refused = report.unreported;
    report.reportedAt = now;
    report.unreported = 0;
    this.#report(
      refusal === 'saturated'
        ? new PoolSaturatedError(this.#maxLiveSessions, refused)
        : new Error(
            `${(error as Error).message} ${refused} initialize request(s) answered 503 since the last ` +
              'report. Raise the manager’s maxSessions, or close sessions that are no longer used.',
          ),
      undefined,
    );
  }
}

/** One value of a Node header that may repeat. */
function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
