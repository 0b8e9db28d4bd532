import type { JsonObject } from '@mcp-session/core';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type EventId,
  type EventStore,
  type StreamId,
  WebStandardStreamableHTTPServerTransport,
  type WebStandardStreamableHTTPServerTransportOptions,
} from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import {
  isJSONRPCErrorResponse,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  LATEST_PROTOCOL_VERSION,
} from '@modelcontextprotocol/sdk/types.js';
import type { LoggingLevel } from '../session-kinds.js';
import { SdkCompatibilityError } from './sdk-compat.js';

/**
 * Rebuilding a session this process does not hold — after a restart, or one another instance created —
 * without touching SDK internals: a fresh transport whose `sessionIdGenerator` returns the stored id
 * gets the session's stored `initialize` request through its public `handleRequest`. The transport runs
 * its own initialize path (sets `sessionId` and its initialized flag), the server runs its own (takes
 * the client's capabilities and version, so sampling, elicitation and roots checks work), and the reply
 * is read and dropped here. A stored logging level is restored the same way, with `logging/setLevel`.
 *
 * Every assumption this makes about SDK behaviour is checked, on the probe `checkSdkCompatibility()`
 * runs at start-up and on every rebuild; a mismatch is an `SdkCompatibilityError`.
 */

/** The server a factory returns: a high-level `McpServer` or a low-level `Server`, one per session. */
export type SessionServer = McpServer | Server;

/** Id of the replayed requests; their replies never leave this module. */
const REPLAY_INITIALIZE_ID = '__mcp_session_replay_initialize__';
const REPLAY_SET_LEVEL_ID = '__mcp_session_replay_set_level__';

/**
 * SDK transport options the handler owns, each with what to use instead. The session id and callbacks
 * belong to rebuilding; Host/Origin checks and the body limit are the handler's own, applied before a
 * request reaches a transport (and the transport's would refuse the replayed initialize, which has no
 * `Host`).
 */
export const OWNED_TRANSPORT_OPTIONS = {
  sessionIdGenerator: 'the session id is the stored session’s',
  eventStore: 'use the eventStore option',
  onsessioninitialized: 'listen to the manager’s "created" event instead',
  onsessionclosed: 'listen to the manager’s "closed" event instead',
  allowedHosts: 'use the allowedHosts option',
  allowedOrigins: 'use the allowedOrigins option',
  enableDnsRebindingProtection: 'use the allowedHosts and allowedOrigins options',
  maxRequestBodySize: 'use the maxBodyBytes option',
} as const;

/**
 * Options passed through to every session's SDK transport: all of the SDK's but those the handler owns
 * (`OWNED_TRANSPORT_OPTIONS`). An option the installed SDK does not know (`keepAliveMs` on 1.26) is
 * ignored by it.
 */
export type SessionTransportOptions = Omit<
  WebStandardStreamableHTTPServerTransportOptions,
  keyof typeof OWNED_TRANSPORT_OPTIONS
>;

/**
 * An `EventStore` that can be silenced while a rebuild replays `initialize`, so the replay's own
 * priming event and reply are not written to the session's logs.
 */
export class ReplayAwareEventStore implements EventStore {
  #muted = false;
  /** Messages another instance already stored, with the id it got (cross-instance delivery). */
  readonly #adopted = new WeakMap<object, EventId>();
  /** The id each message was stored under, for publishing it to other instances. */
  readonly #stored = new WeakMap<object, EventId>();

  constructor(readonly inner: EventStore) {}

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    if (this.#muted) return 'replay';
    const adopted = this.#adopted.get(message);
    if (adopted !== undefined) {
      this.#adopted.delete(message);
      return adopted;
    }
    const eventId = await this.inner.storeEvent(streamId, message);
    this.#stored.set(message, eventId);
    return eventId;
  }

  /** Makes the next `storeEvent` of this very message object return `eventId` and store nothing. */
  adopt(message: JSONRPCMessage, eventId: EventId): void {
    this.#adopted.set(message, eventId);
  }

  /** The id `message` (this very object) was stored under here, if it was. */
  eventIdOf(message: JSONRPCMessage): EventId | undefined {
    return this.#stored.get(message);
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.inner.getStreamIdForEventId?.(eventId);
  }

  async replayEventsAfter(
    lastEventId: EventId,
    options: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    return this.inner.replayEventsAfter(lastEventId, options);
  }

  async whileMuted<T>(work: () => Promise<T>): Promise<T> {
    this.#muted = true;
    try {
      return await work();
    } finally {
      this.#muted = false;
    }
  }
}

/** A transport for `sessionId`, connected to `server`. Callbacks are set before `connect()`, which chains them. */
export async function connectSessionTransport(options: {
  sessionId: string;
  server: SessionServer;
  eventStore: ReplayAwareEventStore | undefined;
  transportOptions: SessionTransportOptions;
  onclose: () => void;
  onerror: (error: Error) => void;
}): Promise<WebStandardStreamableHTTPServerTransport> {
  const { sessionId, server, eventStore, transportOptions } = options;
  const transport = new WebStandardStreamableHTTPServerTransport({
    ...transportOptions,
    sessionIdGenerator: () => sessionId,
    ...(eventStore ? { eventStore } : {}),
  });
  transport.onclose = options.onclose;
  transport.onerror = options.onerror;
  await server.connect(transport);
  return transport;
}

/**
 * Brings a freshly connected transport and server to the state of the stored session: replays the
 * stored `initialize` params and logging level through `handleRequest`.
 * @throws SdkCompatibilityError when the SDK did not react as described above.
 * @throws Error when the server refused the stored initialize params.
 */
export async function replayInitialize(
  transport: WebStandardStreamableHTTPServerTransport,
  server: SessionServer,
  stored: { sessionId: string; initialize: JsonObject; logLevel: LoggingLevel | null; url: string },
): Promise<void> {
  const post = async (body: JSONRPCMessage, withSession: boolean) => {
    const headers: Record<string, string> = {
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
    };
    if (withSession) headers['mcp-session-id'] = stored.sessionId;
    const response = await transport.handleRequest(
      new Request(stored.url, { method: 'POST', headers, body: JSON.stringify(body) }),
    );
    return { status: response.status, text: await response.text() };
  };

  const init = await post(
    {
      jsonrpc: '2.0',
      id: REPLAY_INITIALIZE_ID,
      method: 'initialize',
      params: stored.initialize as never,
    },
    false,
  );
  if (init.status !== 200) {
    throw new SdkCompatibilityError(
      `a replayed initialize was answered with HTTP ${init.status}: ${init.text.slice(0, 200)}`,
    );
  }
  const reply = findReply(init.text, REPLAY_INITIALIZE_ID);
  if (!reply) {
    throw new SdkCompatibilityError('a replayed initialize got no JSON-RPC reply on its stream');
  }
  if (isJSONRPCErrorResponse(reply)) {
    throw new Error(
      `The server refused the stored initialize params of the session: ${reply.error.message}`,
    );
  }
  if (transport.sessionId !== stored.sessionId) {
    throw new SdkCompatibilityError(
      'the transport did not take its session id from sessionIdGenerator on initialize',
    );
  }
  const protocol = lowLevel(server);
  if (protocol.getClientCapabilities() === undefined || protocol.getClientVersion() === undefined) {
    throw new SdkCompatibilityError(
      'the server did not take the client capabilities and version from a replayed initialize',
    );
  }

  if (stored.logLevel !== null) {
    const setLevel = await post(
      {
        jsonrpc: '2.0',
        id: REPLAY_SET_LEVEL_ID,
        method: 'logging/setLevel',
        params: { level: stored.logLevel },
      },
      true,
    );
    if (setLevel.status !== 200 || !findReply(setLevel.text, REPLAY_SET_LEVEL_ID)) {
      throw new SdkCompatibilityError(
        `a replayed logging/setLevel was answered with HTTP ${setLevel.status}: ${setLevel.text.slice(0, 200)}`,
      );
    }
    // A server without the logging capability answers -32601; the level then never mattered.
  }
}

/** The low-level `Server` behind an `McpServer` (or the server itself). */
export function lowLevel(server: SessionServer): Server {
  return 'server' in server && server.server instanceof Object ? server.server : (server as Server);
}

/**
 * The reply with `id` among the `data:` lines of an SSE body, or in a JSON body (when the transport
 * answers with JSON).
 */
function findReply(body: string, id: string): JSONRPCMessage | undefined {
  const candidates: string[] = [];
  for (const line of body.split('\n')) {
    if (line.startsWith('data:')) candidates.push(line.slice(5).trim());
  }
  if (candidates.length === 0) candidates.push(body);
  for (const candidate of candidates) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(candidate);
    } catch {
      continue;
    }
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      if (
        (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) &&
        message.id === id
      ) {
        return message;
      }
    }
  }
  return undefined;
}

let compatibility: Promise<void> | undefined;

/**
 * Rebuilds a probe session on an in-memory transport and checks every SDK behaviour rebuilding relies
 * on. Runs once per process (the handler awaits it when it is created); later calls return the same
 * result.
 * @throws SdkCompatibilityError naming what changed and the supported SDK range.
 */
export function checkSdkCompatibility(): Promise<void> {
  compatibility ??= probe();
  return compatibility;
}

async function probe(): Promise<void> {
  if (typeof WebStandardStreamableHTTPServerTransport !== 'function') {
    throw new SdkCompatibilityError('WebStandardStreamableHTTPServerTransport is missing');
  }
  const sessionId = 'mcp-session-compatibility-probe';
  const server = new Server(
    { name: 'mcp-session-probe', version: '0.0.0' },
    { capabilities: { logging: {} } },
  );
  const transport = await connectSessionTransport({
    sessionId,
    server,
    eventStore: undefined,
    transportOptions: {},
    onclose: () => {},
    onerror: () => {},
  });
  try {
    await replayInitialize(transport, server, {
      sessionId,
      initialize: {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        capabilities: { roots: { listChanged: true }, elicitation: {} },
        clientInfo: { name: 'mcp-session-probe-client', version: '0.0.0' },
      },
      logLevel: 'error',
      url: 'http://127.0.0.1/mcp',
    });
    if (server.getClientCapabilities()?.roots?.listChanged !== true) {
      throw new SdkCompatibilityError('replayed client capabilities did not reach the server');
    }
    // The rebuilt transport must now accept ordinary requests of the session.
    const ping = await transport.handleRequest(
      new Request('http://127.0.0.1/mcp', {
        method: 'POST',
        headers: {
          accept: 'application/json, text/event-stream',
          'content-type': 'application/json',
          'mcp-session-id': sessionId,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 'probe-ping', method: 'ping' }),
      }),
    );
    const text = await ping.text();
    const reply = findReply(text, 'probe-ping');
    if (ping.status !== 200 || !reply || !isJSONRPCResultResponse(reply)) {
      throw new SdkCompatibilityError(
        `a rebuilt transport answered a request with HTTP ${ping.status}: ${text.slice(0, 200)}`,
      );
    }
  } finally {
    await server.close();
  }
}
