import { createHash, randomBytes } from 'node:crypto';
import {
  assertPositiveInteger,
  assertValidId,
  InvalidValueError,
  type SessionManager,
} from '@mcp-session/core';
import type {
  EventId,
  EventStore,
  StreamId,
} from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { EventSeal, sealedEntryBytes } from './sealed-entry.js';
import { UnreadableEventsError } from './unreadable-events-error.js';

/** Options of `SessionEventStore`. Durations are milliseconds. */
export interface SessionEventStoreOptions {
  /**
   * Events kept per session, across all its streams (the GET stream and every POST answered with SSE).
   * Storing one more trims the oldest, of whichever stream, in the same atomic append. Default 100.
   */
  maxEvents?: number;
  /** @deprecated Since the log became one per session, an alias of `maxEvents`. */
  maxEventsPerStream?: number;
  /**
   * Largest event stored: bytes of its stored entry's JSON, the sealed event (≈ 4/3 of the JSON of the
   * message and its stream id, plus 52 bytes; by default events up to 12,249 bytes of JSON are stored).
   * A larger event is delivered live but not stored, so it is not replayed. Default 16 KiB.
   */
  maxEventBytes?: number;
  /** How long after it was stored an event is replayed; older ones are skipped. Default 5 minutes. */
  retentionMs?: number;
  /**
   * Called when an event could not be persisted (store down, message over the manager's size limit,
   * session gone) — the event is still delivered live, with an id that resumes after the last persisted
   * event of its stream, because the SDK drops a response whose `storeEvent` throws — and, with an
   * `UnreadableEventsError` (code `EVENTS_UNREADABLE`), when a replay skipped entries that did not open.
   */
  onError?: (error: unknown) => void;
}

/** The event store's limits, resolved: what a handler passes to every session's store. */
export interface EventStoreLimits {
  maxEvents: number;
  maxEventBytes: number;
  retentionMs: number;
}

/** Defaults of `SessionEventStoreOptions`: at most 100 × 16 KiB ≈ 1.6 MiB of events per session. */
const DEFAULT_LIMITS: Readonly<EventStoreLimits> = Object.freeze({
  maxEvents: 100,
  maxEventBytes: 16 * 1024,
  retentionMs: 5 * 60_000,
});

/** The session's one event log. Logs of the former per-stream design (`sse.<stream>`) are never read. */
const EVENT_LOG = 'sse';
const REPLAY_PAGE = 100;
/** Streams whose last seq is remembered in memory (for ids of events that were not persisted). */
const REMEMBERED_STREAMS = 16;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const SEQ = /^(0|[1-9][0-9]{0,15})$/;

/** One event, as sealed into its entry: the stream it was sent on and the message. */
interface StoredEvent {
  s: StreamId;
  m: JSONRPCMessage;
}

/**
 * Resolves and checks the limits of an event store, naming options under `prefix` in errors
 * (`eventStore.` for the handler's option).
 * @throws InvalidValueError for a limit that is not a positive integer, or `maxEvents` and its deprecated
 * alias `maxEventsPerStream` both given with different values.
 */
export function resolveEventStoreLimits(
  options: Omit<SessionEventStoreOptions, 'onError'> = {},
  prefix = '',
): EventStoreLimits {
  if (typeof options !== 'object' || options === null) {
    const name = prefix.replace(/\.$/, '') || 'options';
    throw new InvalidValueError(
      `${name} must be an object of limits${prefix ? ' or false' : ''}`,
      name,
    );
  }
  const { maxEvents, maxEventsPerStream } = options;
  if (
    maxEvents !== undefined &&
    maxEventsPerStream !== undefined &&
    maxEvents !== maxEventsPerStream
  ) {
    throw new InvalidValueError(
      `${prefix}maxEventsPerStream is a deprecated alias of ${prefix}maxEvents; give only maxEvents`,
      `${prefix}maxEventsPerStream`,
    );
  }
  // Errors name the option the caller wrote.
  const [capName, cap] =
    maxEvents === undefined && maxEventsPerStream !== undefined
      ? ['maxEventsPerStream', maxEventsPerStream]
      : ['maxEvents', maxEvents ?? DEFAULT_LIMITS.maxEvents];
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_LIMITS.maxEventBytes;
  const retentionMs = options.retentionMs ?? DEFAULT_LIMITS.retentionMs;
  assertPositiveInteger(cap, `${prefix}${capName}`);
  assertPositiveInteger(maxEventBytes, `${prefix}maxEventBytes`);
  assertPositiveInteger(retentionMs, `${prefix}retentionMs`);
  return { maxEvents: cap, maxEventBytes, retentionMs };
}

/**
 * The SDK's `EventStore`, scoped to one session, over one log of that session in a `SessionManager`. Create
 * one per session — the SDK never tells a shared event store which session an event belongs to, and every
 * transport uses the same `_GET_stream` id, so a shared one replays one session's events into another.
 *
 * Every stream of the session (the standalone `_GET_stream` and each POST answered with SSE) writes to
 * the same log, `sse`, capped at `maxEvents` in total: the session's events never take more than
 * `maxEvents × maxEventBytes` bytes of the store, however many requests it serves. Each entry is the
 * event `{ s: streamId, m: message }` sealed with a key derived from the session id (see
 * `sealed-entry.ts`), so the store holds nothing of it in clear. Replay reads that log after the id's
 * seq, opens each entry stored within `retentionMs`, and sends only the id's stream's events; an entry
 * that does not open (altered, another session's, unsealed) is skipped and reported to `onError`.
 * Entries trimmed by the cap are deleted by the store; the rest go with the session.
 *
 * Event ids have the form `<tag>.<stream>.<seq>`: `tag` is derived from the session id (ids issued to
 * another session are refused), `stream` is the stream id in base64url, and `seq` the log's sequence
 * number, so ids are unique per session and resolve to their stream without a lookup. Because the events
 * live in the session store, a client can resume with `Last-Event-ID` on another instance or after a
 * restart.
 *
 * Priming events (the SDK's empty `{}` events) are not written: their id points before the stream's
 * first event.
 */
export class SessionEventStore implements EventStore {
  readonly #manager: SessionManager;
  readonly #sessionId: string;
  readonly #owner: string | null;
  readonly #tag: string;
  readonly #seal: EventSeal;
  readonly #limits: EventStoreLimits;
  readonly #onError: (error: unknown) => void;
  /** Last persisted (or replayed) seq per stream, newest streams last; bounded by REMEMBERED_STREAMS. */
  readonly #lastSeq = new Map<StreamId, number>();

  /**
   * @param manager where the session lives.
   * @param sessionId the MCP session id the events belong to.
   * @param owner the session's owner (null for an unbound session); every read and write presents it.
   * @throws InvalidValueError for a bad session id or limit (see `resolveEventStoreLimits`).
   */
  constructor(
    manager: SessionManager,
    sessionId: string,
    owner: string | null,
    options: SessionEventStoreOptions = {},
  ) {
    this.#limits = resolveEventStoreLimits(options);
    assertValidId(sessionId, manager.limits.maxIdLength);
    this.#manager = manager;
    this.#sessionId = sessionId;
    this.#owner = owner;
    this.#tag = sessionTag(sessionId);
    this.#seal = new EventSeal(sessionId, this.#tag);
    this.#onError = options.onError ?? (() => {});
  }

  /**
   * Persists one event of a stream and returns its id. An event over `maxEventBytes` is not persisted:
   * it gets an id that resumes after the last persisted event of its stream. Never throws (see `onError`).
   */
  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const stream = encodeStreamId(streamId);
    if (isPrimingEvent(message)) return this.#unpersistedId(streamId, stream);
    try {
      // What goes on the wire: drops `undefined` members, as a replay must.
      const plaintext = Buffer.from(
        JSON.stringify({ s: streamId, m: message } satisfies StoredEvent),
        'utf8',
      );
      if (sealedEntryBytes(plaintext.length) > this.#limits.maxEventBytes) {
        return this.#unpersistedId(streamId, stream);
      }
      const { lastSeq } = await this.#manager.appendToLog(
        this.#sessionId,
        EVENT_LOG,
        [this.#seal.seal(plaintext)],
        { owner: this.#owner, cap: this.#limits.maxEvents },
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
   * Sends every event of the id's stream that follows it and is still kept (not trimmed by the cap,
   * stored at most `retentionMs` ago), oldest first, and returns the stream id. Events of other streams
   * in the session's log are skipped, and so are entries that do not open, which one
   * `UnreadableEventsError` to `onError` names.
   * @throws Error when the id was not issued for this session.
   */
  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const parsed = this.#parse(lastEventId);
    if (!parsed) throw new Error('Unknown event id: it was not issued for this session');
    const { streamId, stream, seq } = parsed;
    const oldestReplayed = this.#manager.clock.now() - this.#limits.retentionMs;
    let afterSeq = seq;
    let sent = seq;
    const failedSeqs: number[] = [];
    const unsealedSeqs: number[] = [];
    for (;;) {
      // The cap bounds the log, so this reads at most maxEvents entries whatever the stream.
      const page = await this.#manager.readLog(this.#sessionId, EVENT_LOG, {
        owner: this.#owner,
        afterSeq,
        limit: REPLAY_PAGE,
      });
      for (const entry of page) {
        afterSeq = entry.seq;
        if (entry.at < oldestReplayed) continue;
        // The stream id is sealed too, so every entry in the window is opened to find the stream's.
        const opened = this.#seal.open(entry.data);
        if (!opened.opened) {
          (opened.reason === 'unsealed' ? unsealedSeqs : failedSeqs).push(entry.seq);
          continue;
        }
        // Authentic: this format's JSON of a `StoredEvent`, as `storeEvent` wrote it.
        const event = JSON.parse(opened.plaintext.toString('utf8')) as StoredEvent;
        if (event.s !== streamId) continue;
        await send(`${this.#tag}.${stream}.${entry.seq}`, event.m);
        sent = entry.seq;
      }
      if (page.length < REPLAY_PAGE) break;
    }
    if (failedSeqs.length > 0 || unsealedSeqs.length > 0) {
      this.#onError(new UnreadableEventsError(failedSeqs, unsealedSeqs));
    }
    // An unpersisted event sent next on this stream must not resume from before what was just replayed.
    if (sent > (this.#lastSeq.get(streamId) ?? 0)) this.#remember(streamId, sent);
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

  /**
   * An id for an event that is not in the store: resuming from it replays what follows the last event of
   * its stream that is. Only seqs this store saw complete count, so an append still in flight on the
   * same stream (a higher seq) is replayed rather than skipped.
   */
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

/**
 * A short per-session tag, so event ids of one session are refused by another. The domain string names
 * the shared-log design: ids of the former per-stream logs carry another tag and are refused, not misread
 * as seqs of the shared log.
 */
function sessionTag(sessionId: string): string {
  return createHash('sha256')
    .update(`mcp-session/event-store/session-log\0${sessionId}`)
    .digest('base64url')
    .slice(0, 10);
}

function encodeStreamId(streamId: string): string {
  return Buffer.from(streamId, 'utf8').toString('base64url');
}

function isPrimingEvent(message: JSONRPCMessage): boolean {
  return Object.keys(message).length === 0;
}
