import { isSessionError, type SessionManager } from '@mcp-session/core';
import type { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { type EventStoreLimits, SessionEventStore } from '../event-store/session-event-store.js';
import { SessionContext } from '../session-context.js';
import type { McpSessionMetadata } from '../session-kinds.js';
import type { ServerFactory } from './options.js';
import {
  connectSessionTransport,
  ReplayAwareEventStore,
  replayInitialize,
  type SessionServer,
  type SessionTransportOptions,
} from './rebuild.js';

/** A session this process holds in memory: its transport and server, ready to serve requests. */
export interface LiveSession {
  readonly id: string;
  readonly owner: string | null;
  /** `metadata.mcp.generation` the transport was built for. */
  readonly generation: number;
  readonly server: SessionServer;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly context: SessionContext;
  /** Last time a request started or a response finished, epoch milliseconds (manager clock). */
  lastUsedAt: number;
  /** Requests being handled plus response bodies still streaming (an open GET stream counts). */
  busy: number;
}

/** What the pool is built from (the handler's settings). */
export interface SessionPoolOptions {
  manager: SessionManager;
  factory: ServerFactory;
  /** Unused this long (milliseconds, manager clock), a held session is evicted. */
  evictAfterMs: number;
  /** Most sessions held; beyond it the least recently used that are not busy are evicted. */
  maxLiveSessions: number;
  /** Limits of each session's event store, or null for no event store (no resumable streams). */
  eventStore: EventStoreLimits | null;
  transportOptions: SessionTransportOptions;
  /** Hears errors no request can be answered with (a failed close, rebuild or idle marking). */
  report: (error: unknown, sessionId: string | undefined) => void;
}

/**
 * The MCP sessions this process holds in memory — a server and a transport each, from the factory — kept
 * least recently used first (a `Map` keeps insertion order; using a session re-inserts it). The store is
 * the truth; the pool only caches what serving a session needs, and a session it does not hold is rebuilt
 * from the store on demand.
 *
 * - A session is **held** while it is in the pool, and **busy** while a request is being handled or a
 *   response body is still streaming (`acquire`/`start` mark it busy, `release` or `releaseWhenSettled`
 *   end that). A busy session is never evicted.
 * - **Evicting** (`evictIdle`, or `maxLiveSessions` exceeded as a session is added) closes the transport
 *   and server, counts under `evicted`, and marks the stored session idle unless another instance used it
 *   meanwhile.
 * - **Forgetting** closes the transport and server and leaves the stored session exactly as it is: for a
 *   session closed, re-initialized or gone elsewhere, and on shutdown.
 */
export class SessionPool {
  readonly #options: SessionPoolOptions;
  readonly #held = new Map<string, LiveSession>();
  readonly #rebuilding = new Map<string, Promise<LiveSession>>();
  #rebuilt = 0;
  #evicted = 0;

  constructor(options: SessionPoolOptions) {
    this.#options = options;
  }

  /** Sessions held, of them busy ones, and the rebuild and eviction counts since the pool was created. */
  stats(): { held: number; busy: number; rebuilt: number; evicted: number } {
    let busy = 0;
    for (const live of this.#held.values()) if (live.busy > 0) busy++;
    return { held: this.#held.size, busy, rebuilt: this.#rebuilt, evicted: this.#evicted };
  }

  /** The context of the held session `id`, or undefined when this process does not hold it. */
  contextOf(id: string): SessionContext | undefined {
    return this.#held.get(id)?.context;
  }

  /**
   * Builds, holds and marks busy the session an `initialize` just created or resumed in the store; the
   * caller serves the initialize on it, then releases it — or forgets it when the SDK refused.
   * @throws whatever the factory or `connect()` threw; nothing is held then.
   */
  async start(id: string, owner: string | null, generation: number): Promise<LiveSession> {
    const { live } = await this.#build(id, owner, generation, false);
    this.#admit(live);
    live.busy++;
    return live;
  }

  /**
   * The held session `id`, marked busy and most recently used. One held for an older generation or another
   * owner is forgotten first; one not held is rebuilt from `meta` (concurrent callers share one rebuild).
   * Null when it cannot be rebuilt (the error is reported) or keeps being evicted under cap pressure.
   */
  async acquire(
    id: string,
    owner: string | null,
    meta: McpSessionMetadata,
    url: string,
  ): Promise<LiveSession | null> {
    for (let attempt = 0; attempt < 3; attempt++) {
      let live = this.#held.get(id);
      if (live && (live.generation !== meta.generation || live.owner !== owner)) {
        await this.forget(live);
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
          this.#options.report(error, id);
          return null;
        }
      }
      // Evicted while this request waited (cap pressure): take another turn.
      if (this.#held.get(id) !== live) continue;
      live.busy++;
      this.#touch(live);
      return live;
    }
    return null;
  }

  /** Ends one busy mark of `acquire` or `start`, and marks the session most recently used. */
  release(live: LiveSession): void {
    live.busy = Math.max(0, live.busy - 1);
    this.#touch(live);
  }

  /**
   * Passes `response` through, releasing `live` once its body has been read, cancelled (the client went
   * away) or failed — or at once when it has none. So a session with an open stream stays busy.
   */
  releaseWhenSettled(live: LiveSession, response: Response): Response {
    return onResponseSettled(response, () => this.release(live));
  }

  /** Closes the held session's transport and server and drops it; the stored session is not touched. */
  async forget(live: LiveSession): Promise<void> {
    if (!this.#remove(live)) return;
    await this.#closeServer(live);
  }

  /** `forget` for the session held under `id`, if any — only when it is `owner`'s, when one is given. */
  async forgetId(id: string, owner?: string | null): Promise<void> {
    const live = this.#held.get(id);
    if (live && (owner === undefined || live.owner === owner)) await this.forget(live);
  }

  /** Evicts every session that is not busy and was unused for `evictAfterMs`; returns how many. */
  async evictIdle(): Promise<number> {
    const before = this.#options.manager.clock.now() - this.#options.evictAfterMs;
    const idle: LiveSession[] = [];
    for (const live of this.#held.values()) {
      if (live.busy === 0 && live.lastUsedAt <= before) idle.push(live);
    }
    await Promise.all(idle.map((live) => this.#evictAndMarkIdle(live)));
    return idle.length;
  }

  /** Waits for rebuilds under way, then forgets every held session (shutdown). */
  async forgetAll(): Promise<void> {
    await Promise.allSettled([...this.#rebuilding.values()]);
    await Promise.all([...this.#held.values()].map((live) => this.forget(live)));
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
    this.#rebuilt++;
    return live;
  }

  /** A new server (from the factory) and transport for the session, not yet in the pool. */
  async #build(
    id: string,
    owner: string | null,
    generation: number,
    rebuilt: boolean,
  ): Promise<{ live: LiveSession; events: ReplayAwareEventStore | undefined }> {
    const { manager, factory, eventStore, transportOptions, report } = this.#options;
    const context = new SessionContext(manager, id, owner);
    const server = await factory({ sessionId: id, owner, session: context, manager, rebuilt });
    const events =
      eventStore === null
        ? undefined
        : new ReplayAwareEventStore(
            new SessionEventStore(manager, id, owner, {
              ...eventStore,
              onError: (error) => report(error, id),
            }),
          );
    const holder: { live?: LiveSession } = {};
    const transport = await connectSessionTransport({
      sessionId: id,
      server,
      eventStore: events,
      transportOptions,
      // Fires on every close (eviction and shutdown included): drop the transport, never the session.
      onclose: () => {
        if (holder.live) this.#remove(holder.live);
      },
      onerror: (error) => report(error, id),
    });
    holder.live = {
      id,
      owner,
      generation,
      server,
      transport,
      context,
      lastUsedAt: manager.clock.now(),
      busy: 0,
    };
    return { live: holder.live, events };
  }

  /** Puts a session in the pool, then evicts the least recently used ones that are not busy beyond the cap. */
  #admit(live: LiveSession): void {
    this.#held.delete(live.id);
    this.#held.set(live.id, live);
    const excess = this.#held.size - this.#options.maxLiveSessions;
    if (excess <= 0) return;
    const victims: LiveSession[] = [];
    for (const candidate of this.#held.values()) {
      if (victims.length >= excess) break;
      if (candidate.busy === 0) victims.push(candidate);
    }
    for (const victim of victims) void this.#evictAndMarkIdle(victim);
  }

  /** Drops a session from the pool for being idle or over the cap, and marks it idle in the store. */
  async #evictAndMarkIdle(live: LiveSession): Promise<void> {
    if (!this.#remove(live)) return;
    this.#evicted++;
    await this.#closeServer(live);
    await this.#markIdle(live);
  }

  /**
   * Marks an evicted session idle in the store, unless another instance used it within `evictAfterMs`.
   * Eviction is not activity: the session is peeked, and the transition leaves the expiry where it is.
   */
  async #markIdle(live: LiveSession): Promise<void> {
    const { manager, evictAfterMs, report } = this.#options;
    try {
      const now = manager.clock.now();
      const session = await manager.peekSession(live.id, { owner: live.owner });
      if (session?.state !== 'active' || session.owner !== live.owner) return;
      if (now - session.lastActivityAt < evictAfterMs) return;
      await manager.transitionState(live.id, 'idle', { owner: live.owner, recordActivity: false });
    } catch (error) {
      // Another request or instance changed the session meanwhile: it is not idle, nothing to do.
      const changed =
        isSessionError(error, 'VERSION_CONFLICT') ||
        isSessionError(error, 'SESSION_NOT_FOUND') ||
        isSessionError(error, 'INVALID_TRANSITION');
      if (!changed) report(error, live.id);
    }
  }

  async #closeServer(live: LiveSession): Promise<void> {
    await live.server.close().catch((error: unknown) => this.#options.report(error, live.id));
  }

  /** Marks a held session as just used (most recently used). */
  #touch(live: LiveSession): void {
    live.lastUsedAt = this.#options.manager.clock.now();
    if (this.#held.get(live.id) === live) {
      this.#held.delete(live.id);
      this.#held.set(live.id, live);
    }
  }

  /** Removes the entry if it is still this session object (a newer one for the same id stays). */
  #remove(live: LiveSession): boolean {
    if (this.#held.get(live.id) !== live) return false;
    this.#held.delete(live.id);
    return true;
  }
}

/**
 * Passes a response through unchanged, calling `settle` exactly once when its body has been fully read,
 * cancelled or failed — or at once when it has no body.
 */
function onResponseSettled(response: Response, settle: () => void): Response {
  if (!response.body) {
    settle();
    return response;
  }
  const reader = response.body.getReader();
  let settled = false;
  const settleOnce = () => {
    if (settled) return;
    settled = true;
    settle();
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          settleOnce();
          controller.close();
        } else {
          controller.enqueue(chunk.value);
        }
      } catch (error) {
        settleOnce();
        controller.error(error);
      }
    },
    cancel(reason) {
      settleOnce();
      return reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
