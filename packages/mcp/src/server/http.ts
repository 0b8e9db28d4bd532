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

/** The result of reading a request body under a size limit. */
export type BodyReadResult = { ok: true; text: string } | { ok: false; tooLarge: true };

/** Reads the body as UTF-8 text, stopping (and cancelling the stream) once it exceeds `maxBytes`. */
export async function readBodyText(request: Request, maxBytes: number): Promise<BodyReadResult> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await request.body?.cancel().catch(() => {});
    return { ok: false, tooLarge: true };
  }
  if (!request.body) return { ok: true, text: '' };
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      return { ok: false, tooLarge: true };
    }
    chunks.push(value);
  }
  return { ok: true, text: Buffer.concat(chunks).toString('utf8') };
}

/**
 * Passes a response through unchanged, calling `release` exactly once when its body has been fully
 * read, cancelled (the client went away) or failed — or at once when it has no body. This is how the
 * handler knows a session still has an open stream and must not be evicted.
 */
export function onResponseSettled(response: Response, release: () => void): Response {
  if (!response.body) {
    release();
    return response;
  }
  const reader = response.body.getReader();
  let settled = false;
  const settle = () => {
    if (settled) return;
    settled = true;
    release();
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          settle();
          controller.close();
        } else {
          controller.enqueue(chunk.value);
        }
      } catch (error) {
        settle();
        controller.error(error);
      }
    },
    cancel(reason) {
      settle();
      return reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
