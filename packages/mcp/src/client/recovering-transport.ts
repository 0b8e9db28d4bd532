import { InvalidValueError, MAX_TIMER_MS } from '@mcp-session/core';
import { Client, type ClientOptions } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  type StreamableHTTPClientTransportOptions,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike, Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  type Implementation,
  type InitializeRequest,
  type InitializeResult,
  InitializeResultSchema,
  isInitializeRequest,
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  LATEST_PROTOCOL_VERSION,
} from '@modelcontextprotocol/sdk/types.js';
import { PREFERRED_SESSION_ID_HEADERS } from '../protocol.js';

/** Options of `RecoveringClientTransport`: the SDK transport's, plus recovery settings. */
export interface RecoveringClientTransportOptions extends StreamableHTTPClientTransportOptions {
  /**
   * Start a new session but ask the server for this one back (`Mcp-Preferred-Session-Id` on the first
   * initialize). A server that holds it as resumable for the same owner hands it back, context and
   * history included; otherwise it mints a new id.
   */
  preferredSessionId?: string;
  /**
   * The initialize params to renew with. Needed only when the transport resumes an id (`sessionId`),
   * because `Client.connect()` then skips initialize and the transport never sees the client's params.
   */
  initializeParams?: InitializeRequest['params'];
  /**
   * How long a renewal waits for the server's initialize reply, milliseconds, 1 to `MAX_TIMER_MS`
   * (2147483647). Default 30,000.
   */
  renewTimeoutMs?: number;
}

/** Emitted after a dead session was replaced. */
export interface SessionRenewedEvent {
  /** The id that got 404. */
  previousSessionId: string;
  /** The id now in use. */
  sessionId: string;
  /** True when the server gave the previous session back (same id, its context and history kept). */
  resumed: boolean;
  /**
   * The server's reply to the re-initialize. `Client.getServerCapabilities()` still returns the first
   * handshake's answer; use this if the server may have changed.
   */
  result: InitializeResult;
}

type RenewedListener = (event: SessionRenewedEvent) => void;

const DEFAULT_RENEW_TIMEOUT_MS = 30_000;

/**
 * A client `Transport` around the SDK's `StreamableHTTPClientTransport` that survives a server forgetting
 * its session. When a POST that carried a session id gets 404 (the spec's "session terminated"), it drops
 * the id, re-initializes with the same client params and the dead id as `Mcp-Preferred-Session-Id`, and
 * retries that request once on the new session. Concurrent requests that hit the same 404 share one
 * renewal. A 404 on the GET stream is not treated as expiry (the SDK reports it to `onerror`); a 404 on
 * DELETE counts as success.
 *
 * Requests in flight on the dead session's streams when it died are not replayed, and server→client
 * requests of the old session are gone. The `Client` keeps the server capabilities of its first
 * handshake; a `renewed` event carries the new ones.
 */
export class RecoveringClientTransport implements Transport {
  /** Called when the transport closes (not when a renewal swaps out the dead session's transport). */
  onclose?: () => void;
  /** Called with the SDK transport's errors, the 404 that triggered a renewal included. */
  onerror?: (error: Error) => void;
  /** Called with every message from the server, except the replies to renewal handshakes. */
  onmessage?: <T extends JSONRPCMessage>(message: T) => void;

  readonly #url: URL;
  readonly #options: RecoveringClientTransportOptions;
  readonly #renewTimeoutMs: number;
  readonly #hidden = new Map<string, (message: JSONRPCMessage) => void>();
  readonly #listeners = new Set<RenewedListener>();
  #inner: StreamableHTTPClientTransport;
  #initializeParams: InitializeRequest['params'] | undefined;
  #protocolVersion: string | undefined;
  #renewal: Promise<void> | undefined;
  #renewals = 0;
  #started = false;

  constructor(url: URL | string, options: RecoveringClientTransportOptions = {}) {
    this.#url = new URL(url);
    this.#options = options;
    this.#renewTimeoutMs = options.renewTimeoutMs ?? DEFAULT_RENEW_TIMEOUT_MS;
    // Node fires a timer longer than MAX_TIMER_MS after 1 ms: every renewal would time out at once.
    if (
      !Number.isSafeInteger(this.#renewTimeoutMs) ||
      this.#renewTimeoutMs < 1 ||
      this.#renewTimeoutMs > MAX_TIMER_MS
    ) {
      throw new InvalidValueError(
        `renewTimeoutMs must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, got ${String(this.#renewTimeoutMs)}`,
        'renewTimeoutMs',
      );
    }
    this.#initializeParams = options.initializeParams;
    this.#inner = this.#make(options.sessionId, options.preferredSessionId);
  }

  /** The session id in use (changes after a renewal), or undefined before initialize. */
  get sessionId(): string | undefined {
    return this.#inner.sessionId;
  }

  /** The negotiated protocol version, once known. */
  get protocolVersion(): string | undefined {
    return this.#inner.protocolVersion;
  }

  /** Sets the protocol version header to send (the `Client` calls it after initialize). */
  setProtocolVersion(version: string): void {
    this.#protocolVersion = version;
    this.#inner.setProtocolVersion(version);
  }

  /** Subscribes to `renewed`; returns the function that unsubscribes. */
  on(event: 'renewed', listener: RenewedListener): () => void {
    if (event !== 'renewed') throw new TypeError(`Unknown event ${String(event)}`);
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Starts the transport (the `Client` calls it in `connect()`). */
  async start(): Promise<void> {
    this.#started = true;
    await this.#inner.start();
  }

  /** Closes the transport and its streams; the session stays open on the server (see `terminateSession`). */
  async close(): Promise<void> {
    await this.#inner.close();
  }

  /**
   * Sends a message. A request or notification that gets 404 on a session id is sent once more on a
   * renewed session; a reply to a request of the dead session is dropped with it.
   */
  async send(
    message: JSONRPCMessage,
    options?: { resumptionToken?: string; onresumptiontoken?: (token: string) => void },
  ): Promise<void> {
    if (isInitializeRequest(message)) this.#initializeParams = message.params;
    else if (this.#renewal) await this.#renewal.catch(() => {});
    const inner = this.#inner;
    const sentWith = inner.sessionId;
    try {
      await inner.send(message, options);
    } catch (error) {
      const expired =
        statusOf(error) === 404 &&
        sentWith !== undefined &&
        !isInitializeRequest(message) &&
        options?.resumptionToken === undefined &&
        this.#initializeParams !== undefined;
      if (expired) {
        await this.#renew(sentWith);
      } else if (inner !== this.#inner) {
        // A renewal swapped the transport while this request was on the old one (which it aborted).
      } else {
        throw error;
      }
      // A reply to a request of the dead session has nobody left to receive it.
      if (!isJSONRPCRequest(message) && !isJSONRPCNotification(message)) return;
      await this.#inner.send(message, options);
    }
  }

  /**
   * Ends the session with DELETE. A 404 means the server had already forgotten it: that is success too,
   * and the transport then has no session id.
   */
  async terminateSession(): Promise<void> {
    try {
      await this.#inner.terminateSession();
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
      const old = this.#inner;
      this.#inner = this.#make(undefined, undefined);
      if (this.#started) await this.#inner.start();
      await old.close().catch(() => {});
    }
  }

  /** Resumes an SSE stream from `lastEventId` (the SDK transport's `resumeStream`). */
  async resumeStream(
    lastEventId: string,
    options?: { onresumptiontoken?: (token: string) => void },
  ): Promise<void> {
    await this.#inner.resumeStream(lastEventId, options);
  }

  #make(
    sessionId: string | undefined,
    preferredId: string | undefined,
  ): StreamableHTTPClientTransport {
    const {
      sessionId: _resumed,
      preferredSessionId: _p,
      initializeParams: _i,
      renewTimeoutMs: _r,
      ...sdk
    } = this.#options;
    const base: FetchLike = sdk.fetch ?? ((url, init) => fetch(url, init));
    const fetchWithPreference: FetchLike = (url, init) => {
      if (preferredId !== undefined && init?.method === 'POST' && isInitializeBody(init.body)) {
        const headers = new Headers(init.headers);
        headers.set(PREFERRED_SESSION_ID_HEADERS[0], preferredId);
        return base(url, { ...init, headers });
      }
      return base(url, init);
    };
    const inner = new StreamableHTTPClientTransport(this.#url, {
      ...sdk,
      ...(sessionId === undefined ? {} : { sessionId }),
      fetch: fetchWithPreference,
    });
    inner.onmessage = (message: JSONRPCMessage) => {
      if (
        (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) &&
        typeof message.id === 'string'
      ) {
        const waiter = this.#hidden.get(message.id);
        if (waiter) {
          this.#hidden.delete(message.id);
          waiter(message);
          return;
        }
      }
      this.onmessage?.(message);
    };
    inner.onerror = (error) => this.onerror?.(error);
    // A transport swapped out by a renewal closes silently; only the current one's close is the app's.
    inner.onclose = () => {
      if (inner === this.#inner) this.onclose?.();
    };
    if (this.#protocolVersion !== undefined) inner.setProtocolVersion(this.#protocolVersion);
    return inner;
  }

  /** Replaces the dead session; concurrent callers share one renewal. */
  #renew(deadId: string): Promise<void> {
    if (this.#renewal) return this.#renewal;
    if (this.#inner.sessionId !== deadId) return Promise.resolve(); // someone already renewed it
    this.#renewal = this.#renewOnce(deadId).finally(() => {
      this.#renewal = undefined;
    });
    return this.#renewal;
  }

  async #renewOnce(deadId: string): Promise<void> {
    const params = this.#initializeParams;
    if (params === undefined) throw new Error('Cannot renew a session without initialize params');
    const next = this.#make(undefined, deadId);
    await next.start();
    const id = `mcp-session-renew-${++this.#renewals}`;
    let timer: NodeJS.Timeout | undefined;
    let reply: JSONRPCMessage;
    try {
      const replied = new Promise<JSONRPCMessage>((resolve, reject) => {
        this.#hidden.set(id, resolve);
        timer = setTimeout(
          () =>
            reject(
              new Error(`Session renewal got no initialize reply in ${this.#renewTimeoutMs} ms`),
            ),
          this.#renewTimeoutMs,
        );
      });
      await next.send({ jsonrpc: '2.0', id, method: 'initialize', params });
      reply = await replied;
    } catch (error) {
      this.#hidden.delete(id);
      await next.close().catch(() => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
    if (isJSONRPCErrorResponse(reply)) {
      await next.close().catch(() => {});
      throw new Error(`Session renewal failed: ${reply.error.message}`);
    }
    const parsed = InitializeResultSchema.safeParse(
      isJSONRPCResultResponse(reply) ? reply.result : null,
    );
    if (!parsed.success) {
      await next.close().catch(() => {});
      throw new Error('Session renewal failed: the initialize reply is not an InitializeResult');
    }
    const result = parsed.data;
    next.setProtocolVersion(result.protocolVersion);
    this.#protocolVersion = result.protocolVersion;
    const old = this.#inner;
    this.#inner = next;
    await next.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await old.close().catch(() => {});
    const sessionId = next.sessionId ?? '';
    const event: SessionRenewedEvent = {
      previousSessionId: deadId,
      sessionId,
      resumed: sessionId === deadId,
      result,
    };
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onerror?.(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }
}

/** Options of `connectRecoveringClient`. */
export interface ConnectRecoveringClientOptions {
  /** Name and version the client reports. */
  clientInfo: Implementation;
  /** Options of the SDK `Client` (capabilities, …). */
  clientOptions?: ClientOptions;
  /** Options of the transport (resume an id with `sessionId`, ask for one with `preferredSessionId`, …). */
  transport?: RecoveringClientTransportOptions;
}

/**
 * Builds an SDK `Client` on a `RecoveringClientTransport` and connects it. When `transport.sessionId` is
 * given, the client continues that session without initializing, and can still renew it because the
 * initialize params are derived from `clientInfo` and `clientOptions.capabilities`.
 */
export async function connectRecoveringClient(
  url: URL | string,
  options: ConnectRecoveringClientOptions,
): Promise<{ client: Client; transport: RecoveringClientTransport }> {
  const transport = new RecoveringClientTransport(url, {
    initializeParams: {
      protocolVersion: LATEST_PROTOCOL_VERSION,
      capabilities: options.clientOptions?.capabilities ?? {},
      clientInfo: options.clientInfo,
    },
    ...options.transport,
  });
  const client = new Client(options.clientInfo, options.clientOptions);
  await client.connect(transport);
  return { client, transport };
}

function statusOf(error: unknown): number | undefined {
  // StreamableHTTPError carries the HTTP status as `code`; duck-typed so two SDK copies still match.
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function isInitializeBody(body: unknown): boolean {
  if (typeof body !== 'string' || !body.includes('"initialize"')) return false;
  try {
    const parsed: unknown = JSON.parse(body);
    return (Array.isArray(parsed) ? parsed : [parsed]).some(isInitializeRequest);
  } catch {
    return false;
  }
}
