import { isSessionError, type SessionManager } from '@mcp-session/core';
import type { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { type EventStoreLimits, SessionEventStore } from '../event-store/session-event-store.js';
import { SessionContext } from '../session-context.js';
import type { McpSessionMetadata } from '../session-kinds.js';
import { type CrossInstanceRoute, routeAcrossInstances } from './cross-instance.js';
import type { ServerFactory } from './options.js';
import {
  isOwnerLimitError,
  isPoolSaturatedError,
  OwnerLimitError,
  PoolSaturatedError,
} from './pool-errors.js';
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
  /** Its route to the other instances over the store's bus; null when the store has no bus. */
  readonly route: CrossInstanceRoute | null;
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
  /** Most sessions held (and being built); room is made by evicting the least recently used idle one. */
  maxLiveSessions: number;
  /** Most sessions one bound owner holds (and has being built); room is made from its own idle ones. */
  maxLiveSessionsPerOwner: number;
  /** Most open streams of one bound owner. */
  maxOpenStreamsPerOwner: number;
  /** Limits of each session's event store, or null for no event store (no resumable streams). */
  eventStore: EventStoreLimits | null;
  transportOptions: SessionTransportOptions;
  /**
   * Whether held sessions route client responses, cancellations and standalone-stream messages to the
   * other instances over the store's bus (when it has one, `capabilities.messaging`).
   */
  routeAcrossInstances: boolean;
  /** Hears errors no request can be answered with (a failed close, rebuild or idle marking). */
  report: (error: unknown, sessionId: string | undefined) => void;
}

/**
 * A place in the pool taken for a session being created or rebuilt: it counts as held, so nobody else can
 * take it, and it cannot be evicted, since it is not in the pool yet. `start` or a rebuild fills it;
 * `cancel` gives it back.
 */
export interface PoolSlot {
  readonly owner: string | null;
}

/** One open stream counted against its owner; `close()` (idempotent) stops counting it. */
export interface StreamTicket {
  close(): void;
}

/** A rebuild under way, shared by every request for its session; each holds one busy mark once it is done. */
interface Rebuild {
  readonly promise: Promise<LiveSession>;
  waiters: number;
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
 * - **Admitting** a session (created or rebuilt) first takes a slot (`reserve`): over
 *   `maxLiveSessionsPerOwner` the owner's own least recently used idle session is evicted, over
 *   `maxLiveSessions` anyone's. The session being admitted is never the one evicted: it enters the pool
 *   already busy. When nothing can be evicted, admitting fails with `OwnerLimitError` or
 *   `PoolSaturatedError` and nothing is held.
 * - **Evicting** (`evictIdle`, or to make room) closes the transport and server, counts under `evicted`,
 *   and marks the stored session idle unless another instance used it meanwhile.
 * - **Forgetting** closes the transport and server and leaves the stored session exactly as it is: for a
 *   session closed, re-initialized or gone elsewhere, and on shutdown.
 * - **Streams** of bound owners are counted (`openStream`) up to `maxOpenStreamsPerOwner`.
 */
export class SessionPool {
  readonly #options: SessionPoolOptions;
  readonly #held = new Map<string, LiveSession>();
  readonly #reserved = new Set<PoolSlot>();
  /** Held sessions plus reserved slots of each bound owner. */
  readonly #perOwner = new Map<string, number>();
  /** Open streams of each bound owner. */
  readonly #streams = new Map<string, number>();
  readonly #rebuilding = new Map<string, Rebuild>();
  #openStreams = 0;
  #rebuilt = 0;
  #evicted = 0;

  constructor(options: SessionPoolOptions) {
    this.#options = options;
  }

  /**
   * Sessions held, of them busy ones, open streams (of every owner, unbound included), and the rebuild and
   * eviction counts since the pool was created.
   */
  stats(): { held: number; busy: number; openStreams: number; rebuilt: number; evicted: number } {
    let busy = 0;
    for (const live of this.#held.values()) if (live.busy > 0) busy++;
    return {
      held: this.#held.size,
      busy,
      openStreams: this.#openStreams,
      rebuilt: this.#rebuilt,
      evicted: this.#evicted,
    };
  }

  /** Whether the session `id` is held here for `owner` (a request for it needs no room in the pool). */
  holds(id: string, owner: string | null): boolean {
    return this.#held.get(id)?.owner === owner;
  }

  /**
   * Takes a slot for a session of `owner` about to be created or rebuilt, evicting the least recently used
   * idle session to make room: the owner's own when it is at `maxLiveSessionsPerOwner`, anyone's when the
   * pool is at `maxLiveSessions`.
   * @throws OwnerLimitError when the owner is at its limit with every session of its busy.
   * @throws PoolSaturatedError when the pool is full of busy sessions. Nothing is evicted then.
   */
  reserve(owner: string | null): PoolSlot {
    const admission = this.#admission(owner);
    if ('refusal' in admission) throw admission.refusal;
    if (admission.victim) void this.#evict(admission.victim);
    const slot: PoolSlot = { owner };
    this.#reserved.add(slot);
    if (owner !== null) this.#perOwner.set(owner, this.#ownerCount(owner) + 1);
    return slot;
  }

  /**
   * The error `reserve(owner)` would throw now, or null when it would succeed (evicting or not). Touches
   * nothing: lets a request be refused before it costs a store read.
   */
  admissionRefusal(owner: string | null): OwnerLimitError | PoolSaturatedError | null {
    const admission = this.#admission(owner);
    return 'refusal' in admission ? admission.refusal : null;
  }

  /** Gives back a slot that was not filled (the create or rebuild failed). Idempotent. */
  cancel(slot: PoolSlot): void {
    if (!this.#reserved.delete(slot)) return;
    if (slot.owner !== null) this.#decrementOwner(slot.owner);
  }

  /**
   * Counts a stream `owner` is about to open (a GET stream, a POST answered with SSE), before the SDK sees
   * the request. Unbound requests are counted in `stats()` only.
   * @throws OwnerLimitError when the owner already has `maxOpenStreamsPerOwner` open.
   */
  openStream(owner: string | null): StreamTicket {
    const { maxOpenStreamsPerOwner } = this.#options;
    const open = owner === null ? 0 : (this.#streams.get(owner) ?? 0);
    if (open >= maxOpenStreamsPerOwner) {
      throw new OwnerLimitError('openStreams', maxOpenStreamsPerOwner);
    }
    if (owner !== null) this.#streams.set(owner, open + 1);
    this.#openStreams++;
    let closed = false;
    return {
      close: () => {
        if (closed) return;
        closed = true;
        this.#openStreams--;
        if (owner === null) return;
        const left = (this.#streams.get(owner) ?? 1) - 1;
        if (left === 0) this.#streams.delete(owner);
        else this.#streams.set(owner, left);
      },
    };
  }

  /** The context of the held session `id`, or undefined when this process does not hold it. */
  contextOf(id: string): SessionContext | undefined {
    return this.#held.get(id)?.context;
  }

  /**
   * Builds the session an `initialize` just created or resumed in the store into the slot reserved for it,
   * held and marked busy; the caller serves the initialize on it, then releases it — or forgets it when
   * the SDK refused.
   * @throws whatever the factory or `connect()` threw; the slot is given back, nothing is held then.
   */
  async start(slot: PoolSlot, id: string, generation: number): Promise<LiveSession> {
    let live: LiveSession;
    try {
      ({ live } = await this.#build(id, slot.owner, generation, false));
    } catch (error) {
      this.cancel(slot);
      throw error;
    }
    live.busy = 1;
    this.#fill(slot, live);
    return live;
  }

  /**
   * The held session `id`, marked busy and most recently used. One held for an older generation or another
   * owner is forgotten first; one not held is rebuilt from `meta` into a new slot (concurrent callers share
   * one rebuild). Null when it cannot be rebuilt (the error is reported).
   * @throws OwnerLimitError or PoolSaturatedError when there is no room to rebuild it.
   */
  async acquire(
    id: string,
    owner: string | null,
    meta: McpSessionMetadata,
    url: string,
  ): Promise<LiveSession | null> {
    for (;;) {
      const held = this.#held.get(id);
      if (!held) break;
      if (held.generation === meta.generation && held.owner === owner) {
        held.busy++;
        this.#touch(held);
        return held;
      }
      await this.forget(held);
    }
    let rebuild = this.#rebuilding.get(id);
    if (!rebuild) {
      const slot = this.reserve(owner);
      rebuild = { promise: this.#rebuild(slot, id, meta, url), waiters: 0 };
      this.#rebuilding.set(id, rebuild);
    }
    rebuild.waiters++;
    try {
      return await rebuild.promise;
    } catch (error) {
      if (isPoolSaturatedError(error) || isOwnerLimitError(error)) throw error;
      this.#options.report(error, id);
      return null;
    }
  }

  /** Ends one busy mark of `acquire` or `start`, and marks the session most recently used. */
  release(live: LiveSession): void {
    live.busy = Math.max(0, live.busy - 1);
    this.#touch(live);
  }

  /**
   * Passes `response` through, releasing `live` once its body has been read, cancelled (the client went
   * away) or failed — or at once when it has none. So a session with an open stream stays busy. `stream`
   * is closed with it when the response is an event stream, at once otherwise (an error answer).
   */
  releaseWhenSettled(
    live: LiveSession,
    response: Response,
    stream: StreamTicket | null = null,
  ): Response {
    if (!isEventStream(response)) stream?.close();
    return onResponseSettled(response, () => {
      stream?.close();
      this.release(live);
    });
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
    await Promise.all(idle.map((live) => this.#evict(live)));
    return idle.length;
  }

  /** Waits for rebuilds under way, then forgets every held session (shutdown). */
  async forgetAll(): Promise<void> {
    await Promise.allSettled([...this.#rebuilding.values()].map((rebuild) => rebuild.promise));
    await Promise.all([...this.#held.values()].map((live) => this.forget(live)));
  }

  /**
   * Rebuilds the session into `slot`. On success it enters the pool holding one busy mark per request
   * waiting for it, in the same turn as the rebuild stops being shared, so no request misses its mark and
   * no eviction can come between.
   */
  async #rebuild(
    slot: PoolSlot,
    id: string,
    meta: McpSessionMetadata,
    url: string,
  ): Promise<LiveSession> {
    let live: LiveSession;
    try {
      live = await this.#buildAndReplay(id, slot.owner, meta, url);
    } catch (error) {
      this.cancel(slot);
      this.#rebuilding.delete(id);
      throw error;
    }
    live.busy = this.#rebuilding.get(id)?.waiters ?? 0;
    this.#rebuilding.delete(id);
    this.#fill(slot, live);
    this.#rebuilt++;
    return live;
  }

  /** A session rebuilt from its stored `initialize` and log level, not yet in the pool. */
  async #buildAndReplay(
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
    const holder: { live?: LiveSession; route?: CrossInstanceRoute } = {};
    const transport = await connectSessionTransport({
      sessionId: id,
      server,
      eventStore: events,
      transportOptions,
      // Fires on every close (eviction and shutdown included): drop the transport, never the session.
      onclose: () => {
        if (holder.live) this.#remove(holder.live);
        holder.route?.close().catch((error: unknown) => report(error, id));
      },
      onerror: (error) => report(error, id),
    });
    const bus = this.#options.routeAcrossInstances ? manager.store.messages : undefined;
    if (bus) {
      try {
        holder.route = await routeAcrossInstances({
          bus,
          sessionId: id,
          storageId: manager.storageId(id),
          owner,
          transport,
          events,
          report: (error) => report(error, id),
        });
      } catch (error) {
        await server.close().catch(() => {});
        throw error;
      }
    }
    holder.live = {
      id,
      owner,
      generation,
      server,
      transport,
      context,
      route: holder.route ?? null,
      lastUsedAt: manager.clock.now(),
      busy: 0,
    };
    return { live: holder.live, events };
  }

  /**
   * Puts a built session into its slot, most recently used. A session held under the same id meanwhile
   * (an older generation) is replaced and closed.
   */
  #fill(slot: PoolSlot, live: LiveSession): void {
    this.#reserved.delete(slot);
    const previous = this.#held.get(live.id);
    if (previous) {
      this.#remove(previous);
      void this.#closeServer(previous);
    }
    this.#held.set(live.id, live);
  }

  /**
   * What admitting a session of `owner` takes: nothing, evicting one idle session (the owner's own when it
   * is at its limit — which also makes room in the pool — else anyone's when the pool is full), or a
   * refusal when that session would have to be busy. Slots and held sessions never exceed the limits, so
   * one eviction always makes room.
   */
  #admission(
    owner: string | null,
  ): { victim: LiveSession | undefined } | { refusal: OwnerLimitError | PoolSaturatedError } {
    const { maxLiveSessions, maxLiveSessionsPerOwner } = this.#options;
    if (owner !== null && this.#ownerCount(owner) >= maxLiveSessionsPerOwner) {
      const victim = this.#leastRecentlyUsedIdle(owner);
      return victim
        ? { victim }
        : { refusal: new OwnerLimitError('liveSessions', maxLiveSessionsPerOwner) };
    }
    if (this.#held.size + this.#reserved.size < maxLiveSessions) return { victim: undefined };
    const victim = this.#leastRecentlyUsedIdle(undefined);
    return victim ? { victim } : { refusal: new PoolSaturatedError(maxLiveSessions) };
  }

  /**
   * The least recently used held session that is not busy — of `owner` when one is given — or undefined.
   * A scan from the old end: busy sessions there are passed over.
   */
  #leastRecentlyUsedIdle(owner: string | undefined): LiveSession | undefined {
    for (const live of this.#held.values()) {
      if (live.busy === 0 && (owner === undefined || live.owner === owner)) return live;
    }
    return undefined;
  }

  /**
   * Drops a session from the pool for being idle or to make room — at once, so the room is there when this
   * returns — then closes it and marks it idle in the store (the promise).
   */
  #evict(live: LiveSession): Promise<void> {
    if (!this.#remove(live)) return Promise.resolve();
    this.#evicted++;
    return this.#closeServer(live).then(() => this.#markIdle(live));
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
    if (live.owner !== null) this.#decrementOwner(live.owner);
    return true;
  }

  #ownerCount(owner: string): number {
    return this.#perOwner.get(owner) ?? 0;
  }

  #decrementOwner(owner: string): void {
    const left = this.#ownerCount(owner) - 1;
    if (left <= 0) this.#perOwner.delete(owner);
    else this.#perOwner.set(owner, left);
  }
}

/** Whether a response is a stream of server-sent events (its body stays open until the stream ends). */
function isEventStream(response: Response): boolean {
  return (
    response.body !== null &&
    (response.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream')
  );
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
