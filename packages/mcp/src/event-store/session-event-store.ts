import { createHash, randomBytes } from 'node:crypto';
import {
  assertPositiveInteger,
  assertValidId,
  type JsonValue,
  type SessionManager,
} from '@mcp-session/core';
import type {
  EventId,
  EventStore,
  StreamId,
} from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** Options of `SessionEventStore`. */
export interface SessionEventStoreOptions {
  /** Events kept per stream; older ones are trimmed atomically on append. Default 100. */
  maxEventsPerStream?: number;
  /**
   * Called when an event could not be persisted (store down, message over the size limit, session gone).
   * The event is still delivered live, with an id that resumes after the last persisted event, because
   * the SDK drops a response whose `storeEvent` throws.
   */
  onError?: (error: unknown) => void;
}

const DEFAULT_MAX_EVENTS_PER_STREAM = 100;
const REPLAY_PAGE = 100;
/** Streams whose last seq is remembered in memory (for ids of events that were not persisted). */
const REMEMBERED_STREAMS = 16;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const SEQ = /^(0|[1-9][0-9]{0,15})$/;
/** Room left for the encoded stream id in a log name (128 characters minus the "sse." prefix). */
const MAX_DIRECT_LOG_SUFFIX = 124;

/**
 * The SDK's `EventStore`, scoped to one session, over the session's logs in a `SessionManager`: one log
 * per SSE stream (the standalone `_GET_stream` included), capped per stream. Create one per session —
 * the SDK never tells a shared event store which session an event belongs to, and every transport uses
 * the same `_GET_stream` id, so a shared one replays one session's events into another.
 *
 * Event ids have the form `<tag>.<stream>.<seq>`: `tag` is derived from the session id (ids issued to
 * another session are refused), `stream` is the stream id in base64url, and `seq` the store-assigned
 * sequence number, so ids are unique per session and resolve to their stream without a lookup. Because
 * the events live in the session store, a client can resume with `Last-Event-ID` on another instance or
 * after a restart.
 *
 * Priming events (the SDK's empty `{}` events) are not written: their id points before the stream's
 * first event. Each request stream gets its own log, which lives as long as the session does.
 */
export class SessionEventStore implements EventStore {
  readonly #manager: SessionManager;
  readonly #sessionId: string;
  readonly #owner: string | null;
  readonly #tag: string;
  readonly #cap: number;
  readonly #onError: (error: unknown) => void;
  /** Last persisted seq per stream, newest streams last; bounded by REMEMBERED_STREAMS. */
  readonly #lastSeq = new Map<StreamId, number>();

  /**
   * @param manager where the session lives.
   * @param sessionId the MCP session id the events belong to.
   * @param owner the session's owner (null for an unbound session); every read and write presents it.
   */
  constructor(
    manager: SessionManager,
    sessionId: string,
    owner: string | null,
    options: SessionEventStoreOptions = {},
  ) {
    const cap = options.maxEventsPerStream ?? DEFAULT_MAX_EVENTS_PER_STREAM;
    assertPositiveInteger(cap, 'maxEventsPerStream');
    assertValidId(sessionId, manager.limits.maxIdLength);
    this.#manager = manager;
    this.#sessionId = sessionId;
    this.#owner = owner;
    this.#tag = sessionTag(sessionId);
    this.#cap = cap;
    this.#onError = options.onError ?? (() => {});
  }

  /** Persists one event of a stream and returns its id. Never throws (see `onError`). */
  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const stream = encodeStreamId(streamId);
    if (isPrimingEvent(message)) return this.#unpersistedId(streamId, stream);
    try {
      // What goes on the wire: drops `undefined` members, which the store rightly refuses.
      const entry = JSON.parse(JSON.stringify(message)) as JsonValue;
      const { lastSeq } = await this.#manager.appendToLog(
        this.#sessionId,
        logName(streamId, stream),
        [entry],
        { owner: this.#owner, cap: this.#cap },
      );
      this.#remember(streamId, lastSeq);
      return `${this.#tag}.${stream}.${lastSeq}`;
    } catch (error) {
      this.#onError(error);
      return this.#unpersistedId(streamId, stream);
    }
  }

  /** The stream an event id belongs to, or undefined when the id was not issued for this session. */
  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.#parse(eventId)?.streamId;
  }

  /**
   * Sends every persisted event of the id's stream that follows it, oldest first, and returns the stream
   * id. Events trimmed by the cap are gone; replay starts at the oldest one kept.
   * @throws Error when the id was not issued for this session.
   */
  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const parsed = this.#parse(lastEventId);
    if (!parsed) throw new Error('Unknown event id: it was not issued for this session');
    const { streamId, stream, seq } = parsed;
    const log = logName(streamId, stream);
    let afterSeq = seq;
    for (;;) {
      const page = await this.#manager.readLog(this.#sessionId, log, {
        owner: this.#owner,
        afterSeq,
        limit: REPLAY_PAGE,
      });
      for (const entry of page) {
        await send(`${this.#tag}.${stream}.${entry.seq}`, entry.data as unknown as JSONRPCMessage);
        afterSeq = entry.seq;
      }
      if (page.length < REPLAY_PAGE) break;
    }
    return streamId;
  }

  #parse(eventId: string): { streamId: string; stream: string; seq: number } | null {
    if (typeof eventId !== 'string') return null;
    const parts = eventId.split('.');
    if (parts.length !== 3 && parts.length !== 4) return null;
    const [tag, stream = '', seqText = ''] = parts;
    if (tag !== this.#tag || !BASE64URL.test(stream) || !SEQ.test(seqText)) return null;
    if (parts.length === 4 && !BASE64URL.test(parts[3] ?? '')) return null;
    const streamId = Buffer.from(stream, 'base64url').toString('utf8');
    // Only the canonical encoding is accepted, so one stream never has two spellings.
    if (encodeStreamId(streamId) !== stream) return null;
    const seq = Number(seqText);
    return Number.isSafeInteger(seq) ? { streamId, stream, seq } : null;
  }

  /** An id for an event that is not in the store: resuming from it replays what follows the last one that is. */
  #unpersistedId(streamId: StreamId, stream: string): EventId {
    const nonce = randomBytes(6).toString('base64url');
    return `${this.#tag}.${stream}.${this.#lastSeq.get(streamId) ?? 0}.${nonce}`;
  }

  #remember(streamId: StreamId, seq: number): void {
    this.#lastSeq.delete(streamId);
    this.#lastSeq.set(streamId, seq);
    if (this.#lastSeq.size > REMEMBERED_STREAMS) {
      const oldest = this.#lastSeq.keys().next().value;
      if (oldest !== undefined) this.#lastSeq.delete(oldest);
    }
  }
}

/** A short per-session tag, so event ids of one session are refused by another. */
function sessionTag(sessionId: string): string {
  return createHash('sha256')
    .update(`mcp-session/event-store\0${sessionId}`)
    .digest('base64url')
    .slice(0, 10);
}

function encodeStreamId(streamId: string): string {
  return Buffer.from(streamId, 'utf8').toString('base64url');
}

/**
 * The log of a stream: `sse.<base64url stream id>`, which always matches the store's log-name rule
 * (`_GET_stream` included). An id too long for that is hashed; its event ids still carry it in full.
 */
function logName(streamId: string, stream: string): string {
  if (stream.length <= MAX_DIRECT_LOG_SUFFIX) return `sse.${stream}`;
  return `sseh.${createHash('sha256').update(streamId).digest('base64url')}`;
}

function isPrimingEvent(message: JSONRPCMessage): boolean {
  return Object.keys(message).length === 0;
}
