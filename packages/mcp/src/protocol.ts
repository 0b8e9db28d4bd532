/**
 * The MCP protocol's names and numbers this package speaks (2025-11-25 session era), and the JSON-RPC error
 * answers built from them. Server and client both stand on this file; it loads no SDK.
 */

/** Header that carries the MCP session id (lower case, as `Headers` normalizes it). */
export const SESSION_ID_HEADER = 'mcp-session-id';

/**
 * Header a client sends with a re-initialize to ask for its previous session back. The second spelling
 * is the one in the original proposal; both are accepted.
 */
export const PREFERRED_SESSION_ID_HEADERS = [
  'mcp-preferred-session-id',
  'mcp-prefered-session-id',
] as const;

/** JSON-RPC error code the SDK and the spec use for "Session not found". */
export const SESSION_NOT_FOUND_CODE = -32001;

/** A JSON-RPC error response with `id: null`, as the SDK transport writes them. */
export function jsonRpcErrorResponse(
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** 404 with -32001: what an unknown, expired, closed or other-owner session id gets, indistinguishably. */
export function sessionNotFoundResponse(): Response {
  return jsonRpcErrorResponse(404, SESSION_NOT_FOUND_CODE, 'Session not found');
}

/** 400 for a request other than `initialize` that carries no session id. */
export function sessionIdRequiredResponse(): Response {
  return jsonRpcErrorResponse(400, -32000, 'Bad Request: Mcp-Session-Id header is required');
}

/** 400 for an `initialize` batched with other messages. */
export function batchedInitializeResponse(): Response {
  return jsonRpcErrorResponse(
    400,
    -32600,
    'Invalid Request: Only one initialization request is allowed',
  );
}

/** 405 for a method other than GET, POST and DELETE. */
export function methodNotAllowedResponse(): Response {
  return jsonRpcErrorResponse(405, -32000, 'Method not allowed.', { allow: 'GET, POST, DELETE' });
}

/** 413 for a POST body over the limit, worded as the SDK transport words it. */
export function payloadTooLargeResponse(
  maxBodyBytes: number,
  headers: Record<string, string> = {},
): Response {
  return jsonRpcErrorResponse(
    413,
    -32000,
    `Payload Too Large: Request body must not exceed ${maxBodyBytes} bytes`,
    headers,
  );
}

/** 400 -32700 for a POST body that is not JSON. */
export function parseErrorResponse(headers: Record<string, string> = {}): Response {
  return jsonRpcErrorResponse(400, -32700, 'Parse error: Invalid JSON', headers);
}

/** 503 while a server shuts down: the session lives on in the store, so the client should retry. */
export function shuttingDownResponse(): Response {
  return jsonRpcErrorResponse(503, -32000, 'Server is shutting down; retry shortly.');
}

/** Deepest JSON nesting a request body may have (an object or array counts one level). */
export const MAX_JSON_DEPTH = 64;

/** 400 -32600 for a body nested deeper than `MAX_JSON_DEPTH`, refused before anything walks it recursively. */
export function nestedTooDeepResponse(headers: Record<string, string> = {}): Response {
  return jsonRpcErrorResponse(
    400,
    -32600,
    `Invalid Request: JSON must not be nested deeper than ${MAX_JSON_DEPTH} levels`,
    headers,
  );
}

/** 404 for a path that is not the MCP endpoint (not -32001: no session is meant). */
export function notAnEndpointResponse(): Response {
  return jsonRpcErrorResponse(404, -32000, 'Not Found: this path is not an MCP endpoint');
}

/** 403 for a request whose Host or Origin is not allowed; `message` names the option that allows it. */
export function forbiddenResponse(message: string): Response {
  return jsonRpcErrorResponse(403, -32000, `Forbidden: ${message}`, { connection: 'close' });
}

/** 406 for an `initialize` whose Accept lacks a type the transport answers with, worded as the SDK words it. */
export function notAcceptableResponse(): Response {
  return jsonRpcErrorResponse(
    406,
    -32000,
    'Not Acceptable: Client must accept both application/json and text/event-stream',
  );
}

/** 415 for an `initialize` that is not `application/json`, worded as the SDK words it. */
export function unsupportedMediaTypeResponse(): Response {
  return jsonRpcErrorResponse(
    415,
    -32000,
    'Unsupported Media Type: Content-Type must be application/json',
  );
}

/** 400 -32700 for a body that is JSON but not a JSON-RPC message, worded as the SDK words it. */
export function invalidMessageResponse(): Response {
  return jsonRpcErrorResponse(400, -32700, 'Parse error: Invalid JSON-RPC message');
}
