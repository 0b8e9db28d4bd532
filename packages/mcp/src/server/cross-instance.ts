import type { MessageBus } from '@mcp-session/core';
import type { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { type RouteEnvelope, SessionRoute } from '../routing/session-route.js';
import type { ReplayAwareEventStore } from './rebuild.js';

/**
 * How a held session's transport reaches the instances holding the same session, over the store's bus
 * (see `routing/session-route.ts` for channels and sealing). Three kinds of traffic cross:
 *
 * - **Client responses** to server→client requests (sampling, elicitation, roots): a POST carrying one
 *   that this transport did not ask is published instead of being handed to the SDK (which would drop it
 *   as "unknown message id"); the instance that sent the request feeds it to its transport, so the waiting
 *   tool continues. The POST is answered 202 as for any response.
 * - **`notifications/cancelled`** for a request this transport is not running is published too (and
 *   still handed to the local SDK, which ignores it); the instance running it aborts the tool's signal.
 * - **Standalone-stream messages** (notifications and requests sent without a related request: logging,
 *   `list_changed`, resource updates): the SDK stores them in the event store as today, and they are then
 *   published with the event id the store gave them. Every other instance holding the session writes them
 *   to its GET stream under that same id if it holds one (the SDK writes nothing when it holds none), so a
 *   later resume with `Last-Event-ID` does not replay what was delivered live. Nobody needs to know where
 *   the GET stream is: publish-and-fallback, the event store being the fallback.
 *
 * Server→client request ids are made unique across instances: every instance's server numbers its
 * requests from 0, so a late answer to instance A's request 0 could otherwise complete instance B's
 * request 0. Each request leaves with the id `<route origin>.<its id>` (JSON-RPC ids are opaque to the
 * client) and its answer gets the original id back before the SDK sees it; an answer whose id names
 * another route is never fed to this one.
 *
 * Wrapping `send` and `onmessage` uses only the transport's public members, after `server.connect()` set
 * them.
 */
export interface CrossInstanceRoute {
  /**
   * The messages of a POST the local transport must get; publishes the responses it did not ask for (and
   * drops them) and the cancellations of requests it is not running (and keeps them).
   */
  forward(messages: unknown[]): Promise<unknown[]>;
  /** Ends the subscription. Idempotent. */
  close(): Promise<void>;
}

/**
 * Most requests remembered per direction (pending server→client requests, running client requests): an
 * abandoned one is never answered, so the oldest is forgotten beyond this.
 */
const MAX_REMEMBERED = 1024;

const keyOf = (id: RequestId | undefined): string => `${typeof id}:${String(id)}`;
const isResponse = (message: JSONRPCMessage) =>
  isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message);

/** Connects a held session's transport to its channel. Resolves once the subscription is live. */
export async function routeAcrossInstances(options: {
  bus: MessageBus;
  sessionId: string;
  storageId: string;
  owner: string | null;
  transport: WebStandardStreamableHTTPServerTransport;
  events: ReplayAwareEventStore | undefined;
  report: (error: unknown) => void;
}): Promise<CrossInstanceRoute> {
  const { transport, events, report } = options;
  /** Server→client requests this transport sent and has not seen answered: routed id → the SDK's id. */
  const pending = new Map<string, RequestId>();
  /** Client→server requests this transport is running. */
  const running = new Set<string>();

  const localSend = transport.send.bind(transport);
  const localReceive = transport.onmessage;
  if (typeof localReceive !== 'function') {
    throw new Error('The session transport has no onmessage handler: connect the server first.');
  }
  const receive: typeof localReceive = (message, extra) => {
    if (isJSONRPCRequest(message)) {
      running.add(keyOf(message.id));
      // A cancelled request never sends its response: forget the oldest rather than grow.
      if (running.size > MAX_REMEMBERED) {
        const oldest = running.values().next().value;
        if (oldest !== undefined) running.delete(oldest);
      }
    }
    if (isResponse(message) && typeof message.id === 'string') {
      const original = pending.get(message.id);
      if (original !== undefined) {
        pending.delete(message.id);
        localReceive.call(transport, { ...message, id: original }, extra);
        return;
      }
    }
    localReceive.call(transport, message, extra);
  };
  const isPending = (message: JSONRPCMessage) =>
    isResponse(message) && typeof message.id === 'string' && pending.has(message.id);

  const route = await SessionRoute.open({
    bus: options.bus,
    sessionId: options.sessionId,
    storageId: options.storageId,
    owner: options.owner,
    report,
    receive: (envelope: RouteEnvelope) => {
      const { message } = envelope;
      if (envelope.kind === 'response') {
        if (isPending(message)) receive(message);
        return;
      }
      if (envelope.kind === 'cancelled') {
        const requestId = cancelledRequestId(message);
        if (requestId !== undefined && running.has(keyOf(requestId))) receive(message);
        return;
      }
      if (isResponse(message)) return;
      // Written under the publisher's event id, never stored again; the SDK drops it without a GET stream.
      if (envelope.eventId !== undefined) events?.adopt(message, envelope.eventId);
      return localSend(message);
    },
  });

  transport.onmessage = receive;
  transport.send = async (message, sendOptions) => {
    const outgoing = routed(message);
    await localSend(outgoing, sendOptions);
    if (sendOptions?.relatedRequestId === undefined && !isResponse(outgoing)) {
      const eventId = events?.eventIdOf(outgoing);
      await route
        .publish({
          kind: 'standalone',
          message: outgoing,
          ...(eventId === undefined ? {} : { eventId }),
        })
        .catch(report);
    }
  };
  /** The message as it leaves: a request with its routed id, a cancellation naming that id. */
  const routed = (message: JSONRPCMessage): JSONRPCMessage => {
    if (isJSONRPCRequest(message)) {
      const routedId = `${route.origin}.${keyOf(message.id)}`;
      pending.set(routedId, message.id);
      if (pending.size > MAX_REMEMBERED) {
        const oldest = pending.keys().next().value;
        if (oldest !== undefined) pending.delete(oldest);
      }
      return { ...message, id: routedId };
    }
    if (isResponse(message)) {
      running.delete(keyOf(message.id));
      return message;
    }
    // The SDK cancels its own request (timeout, abort) by the id it knows; the client knows the routed one.
    const cancelled = cancelledRequestId(message);
    if (cancelled === undefined || !isJSONRPCNotification(message)) return message;
    for (const [routedId, original] of pending) {
      if (original !== cancelled) continue;
      pending.delete(routedId);
      return { ...message, params: { ...message.params, requestId: routedId } };
    }
    return message;
  };

  return {
    async forward(messages) {
      const kept: unknown[] = [];
      for (const message of messages) {
        const rpc = message as JSONRPCMessage;
        if (isResponse(rpc) && !isPending(rpc)) {
          await route.publish({ kind: 'response', message: rpc }).catch(report);
          continue;
        }
        const requestId = cancelledRequestId(rpc);
        if (requestId !== undefined && !running.has(keyOf(requestId))) {
          await route.publish({ kind: 'cancelled', message: rpc }).catch(report);
        }
        kept.push(message);
      }
      return kept;
    },
    close: () => route.close(),
  };
}

/** The `requestId` of a `notifications/cancelled`, or undefined for any other message. */
function cancelledRequestId(message: JSONRPCMessage): RequestId | undefined {
  if (!isJSONRPCNotification(message) || message.method !== 'notifications/cancelled') {
    return undefined;
  }
  const requestId = (message.params as { requestId?: unknown } | undefined)?.requestId;
  return typeof requestId === 'string' || typeof requestId === 'number' ? requestId : undefined;
}
