import type { IncomingMessage } from 'node:http';
import { assertValidId } from '@mcp-session/core';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import {
  type InitializeRequest,
  isInitializeRequest,
  isJSONRPCRequest,
} from '@modelcontextprotocol/sdk/types.js';
import {
  invalidMessageResponse,
  MAX_JSON_DEPTH,
  nestedTooDeepResponse,
  notAcceptableResponse,
  PREFERRED_SESSION_ID_HEADERS,
  parseErrorResponse,
  payloadTooLargeResponse,
  SESSION_ID_HEADER,
  unsupportedMediaTypeResponse,
} from '../protocol.js';
import { isLoggingLevel, type LoggingLevel } from '../session-kinds.js';

/** Options of `handleRequest`. */
export interface HandleRequestOptions {
  /** The authenticated caller; forwarded to tools as `extra.authInfo` and to the owner resolver. */
  authInfo?: AuthInfo;
  /** The body, when something already parsed it (Express' `express.json()`). */
  parsedBody?: unknown;
  /** The Node request, when there is one (for the owner resolver). */
  incoming?: IncomingMessage;
}

/** What the handler routes on: the request's session id and JSON-RPC messages. */
export interface McpRequest {
  /** `Mcp-Session-Id`, or null when absent or empty. */
  sessionId: string | null;
  /** The POST body as the SDK transport gets it (one message or a batch); undefined for GET and DELETE. */
  body: unknown;
  /** The body's messages (a batch flattened); empty for GET and DELETE. */
  messages: unknown[];
  /** The `initialize` request among them, if any. */
  initialize: InitializeRequest | undefined;
}

/**
 * Reads what the handler routes on. A POST body comes from `parsedBody` when given, else is read under
 * `maxBodyBytes` and parsed.
 * @returns the request, or the error response for a body that is too large (413), not JSON (400 -32700)
 * or nested deeper than `MAX_JSON_DEPTH` (400 -32600).
 */
export async function readMcpRequest(
  request: Request,
  parsedBody: unknown,
  maxBodyBytes: number,
): Promise<{ ok: true; request: McpRequest } | { ok: false; response: Response }> {
  let body: unknown;
  if (request.method === 'POST') {
    if (parsedBody !== undefined) {
      body = parsedBody;
    } else {
      const read = await readBodyText(request, maxBodyBytes);
      if (read === null) return { ok: false, response: payloadTooLargeResponse(maxBodyBytes) };
      const parsed = parseJson(read);
      if (!parsed.ok) return { ok: false, response: parseErrorResponse() };
      body = parsed.value;
    }
    if (isNestedDeeperThan(body, MAX_JSON_DEPTH)) {
      return { ok: false, response: nestedTooDeepResponse() };
    }
  }
  const messages: unknown[] = request.method !== 'POST' ? [] : Array.isArray(body) ? body : [body];
  return {
    ok: true,
    request: {
      sessionId: request.headers.get(SESSION_ID_HEADER) || null,
      body,
      messages,
      initialize: messages.find(isInitializeRequest),
    },
  };
}

/**
 * The answer the SDK transport would refuse an `initialize` with — 406 when Accept lacks
 * `application/json` or `text/event-stream`, 415 when the body is not `application/json`, 400 -32700 when
 * it is not a JSON-RPC request — or null. Checked before a session is created, so a refused initialize
 * writes nothing. The checks are the SDK's (Accept by substring, Content-Type by media type).
 */
export function initializeRefusal(request: Request, message: unknown): Response | null {
  const accept = request.headers.get('accept') ?? '';
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
    return notAcceptableResponse();
  }
  const mediaType = (request.headers.get('content-type') ?? '').split(';', 1)[0]?.trim();
  if (mediaType?.toLowerCase() !== 'application/json') return unsupportedMediaTypeResponse();
  if (!isJSONRPCRequest(message)) return invalidMessageResponse();
  return null;
}

/**
 * Whether a parsed JSON value has objects or arrays nested more than `maxDepth` deep (a top-level object
 * is depth 1). Walks with its own stack: the value is hostile until this says otherwise, and recursing
 * over it is what overflowed the call stack.
 */
export function isNestedDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: { value: object; depth: number }[] = [];
  if (typeof value === 'object' && value !== null) pending.push({ value, depth: 1 });
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next.depth > maxDepth) return true;
    for (const child of Object.values(next.value)) {
      if (typeof child === 'object' && child !== null) {
        pending.push({ value: child, depth: next.depth + 1 });
      }
    }
  }
  return false;
}

/** The `Content-Length` a Node request declares, or null when it declares none (a chunked body). */
export function declaredContentLength(req: IncomingMessage): number | null {
  const header = req.headers['content-length'];
  if (header === undefined) return null;
  const length = Number(header);
  return Number.isFinite(length) ? length : null;
}

/** The session id a re-initialize asks for (either header spelling), or null. */
export function preferredSessionId(headers: Headers): string | null {
  for (const name of PREFERRED_SESSION_ID_HEADERS) {
    const value = headers.get(name);
    if (value !== null && value !== '') return value;
  }
  return null;
}

/** Whether a header value can be a session id at all (visible ASCII, not too long). */
export function isWellFormedId(id: string, maxIdLength: number): boolean {
  try {
    assertValidId(id, maxIdLength);
    return true;
  } catch {
    return false;
  }
}

/** The level the last valid `logging/setLevel` among the messages asks for, or null when none does. */
export function requestedLogLevel(messages: readonly unknown[]): LoggingLevel | null {
  let level: LoggingLevel | null = null;
  for (const message of messages) {
    if (!isJSONRPCRequest(message) || message.method !== 'logging/setLevel') continue;
    const candidate = message.params?.level;
    if (isLoggingLevel(candidate)) level = candidate;
  }
  return level;
}

/** `JSON.parse` as a result instead of an exception. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/**
 * Reads a web request's body as UTF-8 text, or null once it exceeds `maxBytes` (the stream is cancelled:
 * the web-standard side has no connection to keep).
 */
export async function readBodyText(request: Request, maxBytes: number): Promise<string | null> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await request.body?.cancel().catch(() => {});
    return null;
  }
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads a Node request's body as UTF-8 text, or null when it exceeds `maxBytes`. An oversize body is still
 * drained (not kept), so the client finishes sending and reads the 413 instead of a broken pipe — up to
 * `maxDrainedBytes`, past which the connection is destroyed.
 */
export async function readNodeBodyText(
  req: IncomingMessage,
  maxBytes: number,
  maxDrainedBytes: number,
): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size <= maxBytes) chunks.push(chunk);
    else if (size > maxDrainedBytes) {
      req.destroy();
      return null;
    }
  }
  return size > maxBytes ? null : Buffer.concat(chunks).toString('utf8');
}
