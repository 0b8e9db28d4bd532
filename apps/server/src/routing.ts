import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpSessionHandler } from '@mcp-session/mcp';
import { toNodeHandler, toWebRequest } from '@modelcontextprotocol/node';
import { isLegacyRequest, type McpHttpHandler } from '@modelcontextprotocol/server';

/** Largest POST body either era accepts, in bytes (both SDKs' default). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Most an oversize body is drained before its connection is dropped, in bytes. */
const MAX_DRAINED_BYTES = 16 * MAX_BODY_BYTES;

type NodeRequest = IncomingMessage & { body?: unknown };

/**
 * One MCP endpoint for both protocol eras. SDK 2.x's `isLegacyRequest` — the same classification its own
 * handler runs — sends 2025-era traffic (`initialize`, `Mcp-Session-Id` requests, the GET stream, DELETE)
 * to the session glue and 2026-07-28 traffic (a per-request `_meta` envelope) to the stateless v2 handler.
 *
 * The POST body is read and parsed once here: the classification needs it, and both legs take it
 * pre-parsed (the glue like an `express.json()` body, the v2 Node adapter as `parsedBody`). Everything
 * else (GET, DELETE) exists only in the session era and goes to the glue untouched, so its streams keep
 * their own Node adapter.
 */
export function dualEraListener(
  sessions: McpSessionHandler,
  modern: McpHttpHandler,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const modernNode = toNodeHandler(modern, { maxRequestBodySize: MAX_BODY_BYTES });
  return async (req: NodeRequest, res) => {
    if (req.method !== 'POST') return sessions.nodeListener(req, res);
    const text = await readBody(req);
    if (text === null) {
      return jsonRpcError(
        res,
        413,
        -32000,
        `Payload Too Large: Request body must not exceed ${MAX_BODY_BYTES} bytes`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return jsonRpcError(res, 400, -32700, 'Parse error: Invalid JSON');
    }
    if (await isLegacyRequest(await toWebRequest(req, body), body)) {
      req.body = body;
      return sessions.nodeListener(req, res);
    }
    return modernNode(req, res, body);
  };
}

/**
 * The body as UTF-8 text, or null when it exceeds the limit. An oversize body is still drained (not kept),
 * so the client finishes sending and reads the 413 instead of a broken pipe — up to a bound, past which the
 * connection is dropped.
 */
async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    else if (size > MAX_DRAINED_BYTES) {
      req.destroy();
      return null;
    }
  }
  return size > MAX_BODY_BYTES ? null : Buffer.concat(chunks).toString('utf8');
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res
    .writeHead(status, { 'content-type': 'application/json', connection: 'close' })
    .end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}
