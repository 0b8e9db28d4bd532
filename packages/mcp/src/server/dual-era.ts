import type { IncomingMessage, ServerResponse } from 'node:http';
import { type FetchLikeMcpHandler, toNodeHandler, toWebRequest } from '@modelcontextprotocol/node';
import { isLegacyRequest } from '@modelcontextprotocol/server';
import { parseErrorResponse, payloadTooLargeResponse } from '../protocol.js';
import type { McpSessionHandler } from './handler.js';
import { matchesPath, type NodeListener } from './node-listener.js';
import { parseJson, readNodeBodyText } from './request.js';

/**
 * `@mcp-session/mcp/dual-era`: both MCP protocol eras on one endpoint. Its own entry, because it loads SDK
 * 2.x (`@modelcontextprotocol/server` and `@modelcontextprotocol/node`), which an SDK 1.x-only app never
 * installs.
 */

/** Options of `createDualEraListener`. */
export interface DualEraListenerOptions {
  /** The 2025-11-25 leg: MCP sessions (`createMcpSessionHandler`). Its `path` and `maxBodyBytes` apply. */
  sessions: McpSessionHandler;
  /**
   * The 2026-07-28 leg: an SDK 2.x handler, e.g. `createMcpHandler(factory, { legacy: 'reject' })` from
   * `@modelcontextprotocol/server` with `StateHandles` tools.
   */
  modern: FetchLikeMcpHandler;
}

/** Most of an oversize body read (and dropped) before the connection is cut, as a multiple of the limit. */
const DRAIN_FACTOR = 16;

type NodeRequest = IncomingMessage & { body?: unknown; originalUrl?: string };

/**
 * A `node:http` listener serving both protocol eras on the session handler's `path` (and `path/`). Each
 * POST body is read once, under `sessions.maxBodyBytes`, and classified with SDK 2.x's `isLegacyRequest` —
 * the same classification its own handler runs: 2025-era traffic (`initialize`, requests with
 * `Mcp-Session-Id`, batches without the 2026 `_meta` envelope) goes to the session handler, everything else
 * to `modern`, both with the body pre-parsed. GET (the SSE stream) and DELETE exist only in the session era
 * and go to the session handler untouched.
 *
 * A body over the limit gets 413 after being drained (up to 16 times the limit, past which the connection
 * is dropped), so the client reads the answer instead of a broken pipe; a body that is not JSON gets 400
 * -32700. Behind `express.json()` the parsed body is used. Another path gets 404, or `next()` when given
 * (Express). Put authentication in front: `req.auth` reaches both legs. Closing stays with the two
 * handlers.
 */
export function createDualEraListener(options: DualEraListenerOptions): NodeListener {
  const { sessions, modern } = options;
  const maxBodyBytes = sessions.maxBodyBytes;
  const modernNode = toNodeHandler(modern, { maxRequestBodySize: maxBodyBytes });
  return async (req: NodeRequest, res, next) => {
    if (!matchesPath(req.originalUrl ?? req.url ?? '/', sessions.path)) {
      if (next) return next();
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
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
    if (await isLegacyRequest(await toWebRequest(req, body), body)) {
      // The session handler takes it like a body `express.json()` parsed.
      req.body = body;
      return sessions.nodeListener(req, res);
    }
    return modernNode(req, res, body);
  };
}

/** Writes a small, fully buffered response (the error answers above) to Node. */
async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const text = await response.text();
  if (res.destroyed) return;
  res.writeHead(response.status, Object.fromEntries(response.headers)).end(text);
}
