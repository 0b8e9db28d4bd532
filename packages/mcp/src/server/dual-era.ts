import type { IncomingMessage, ServerResponse } from 'node:http';
import { type FetchLikeMcpHandler, toNodeHandler, toWebRequest } from '@modelcontextprotocol/node';
import { isLegacyRequest } from '@modelcontextprotocol/server';
import {
  jsonRpcErrorResponse,
  MAX_JSON_DEPTH,
  nestedTooDeepResponse,
  notAnEndpointResponse,
  parseErrorResponse,
  payloadTooLargeResponse,
} from '../protocol.js';
import type { McpSessionHandler } from './handler.js';
import {
  answerUnread,
  DRAIN_FACTOR,
  matchesPath,
  type NodeListener,
  writeResponse,
} from './node-listener.js';
import { isNestedDeeperThan, parseJson, readNodeBodyText } from './request.js';

/**
 * `@mcp-session/mcp/dual-era`: both MCP protocol eras on one endpoint. Its own entry, because it loads SDK
 * 2.x (`@modelcontextprotocol/server` and `@modelcontextprotocol/node`), which an SDK 1.x-only app never
 * installs.
 */

/** Options of `createDualEraListener`. */
export interface DualEraListenerOptions {
  /**
   * The 2025-11-25 leg: MCP sessions (`createMcpSessionHandler`). Its `path`, `maxBodyBytes`,
   * `allowedHosts` and `allowedOrigins` apply to both legs.
   */
  sessions: McpSessionHandler;
  /**
   * The 2026-07-28 leg: an SDK 2.x handler, e.g. `createMcpHandler(factory, { legacy: 'reject' })` from
   * `@modelcontextprotocol/server` with `StateHandles` tools.
   */
  modern: FetchLikeMcpHandler;
}

type NodeRequest = IncomingMessage & { body?: unknown; originalUrl?: string };

/**
 * A `node:http` listener serving both protocol eras on the session handler's `path` (and `path/`). Each
 * POST body is read once, under `sessions.maxBodyBytes`, and classified with SDK 2.x's `isLegacyRequest` —
 * the same classification its own handler runs: 2025-era traffic (`initialize`, requests with
 * `Mcp-Session-Id`, batches without the 2026 `_meta` envelope) goes to the session handler, everything else
 * to `modern`, both with the body pre-parsed. GET (the SSE stream) and DELETE exist only in the session era
 * and go to the session handler untouched.
 *
 * Before anything is read, a `Host` or `Origin` the session handler does not allow gets 403, and a POST
 * declaring a body over the limit gets 413 — both closing the connection, whatever of the body is unsent.
 * A body without a declared length that grows over the limit gets 413 after being drained (up to 16
 * times the limit, past which the connection is dropped), so the client reads the answer instead of a
 * broken pipe; a body that is not JSON gets 400 -32700, one nested deeper than 64 levels 400 -32600.
 * Behind `express.json()` the parsed body is used. Another path gets 404, or `next()` when given
 * (Express). Every answer of its own has a JSON-RPC error body. Put authentication in front: `req.auth`
 * reaches both legs. Closing stays with the two handlers.
 */
export function createDualEraListener(options: DualEraListenerOptions): NodeListener {
  const { sessions, modern } = options;
  const maxBodyBytes = sessions.maxBodyBytes;
  const modernNode = toNodeHandler(modern, { maxRequestBodySize: maxBodyBytes });
  const serve = async (req: NodeRequest, res: ServerResponse): Promise<void> => {
    const refused = sessions.screenNodeRequest(req);
    if (refused) return answerUnread(req, res, refused, DRAIN_FACTOR * maxBodyBytes);
    if (req.method !== 'POST') return sessions.nodeListener(req, res);
    let body: unknown;
    if (req.body !== undefined && req.readableEnded) {
      body = req.body;
    } else {
      const text = await readNodeBodyText(req, maxBodyBytes, DRAIN_FACTOR * maxBodyBytes);
      if (text === null) {
        return writeResponse(res, payloadTooLargeResponse(maxBodyBytes, { connection: 'close' }));
      }
      const parsed = parseJson(text);
      if (!parsed.ok) return writeResponse(res, parseErrorResponse({ connection: 'close' }));
      body = parsed.value;
    }
    // Classifying serializes the body again, recursively: a deep one would overflow the stack.
    if (isNestedDeeperThan(body, MAX_JSON_DEPTH))
      return writeResponse(res, nestedTooDeepResponse());
    if (await isLegacyRequest(await toWebRequest(req, body), body)) {
      // The session handler takes it like a body `express.json()` parsed.
      req.body = body;
      return sessions.nodeListener(req, res);
    }
    return modernNode(req, res, body);
  };
  return async (req: NodeRequest, res, next) => {
    if (!matchesPath(req.originalUrl ?? req.url ?? '/', sessions.path)) {
      if (next) return next();
      return writeResponse(res, notAnEndpointResponse());
    }
    try {
      await serve(req, res);
    } catch (error) {
      // The client going away mid-body is no server error; anything else is, and still gets an answer.
      if (res.destroyed) return;
      sessions.reportError(error);
      if (res.headersSent) res.destroy();
      else await writeResponse(res, jsonRpcErrorResponse(500, -32603, 'Internal error'));
    }
  };
}
