import { isSessionError } from '@mcp-session/core';
import { jsonRpcErrorResponse } from '../protocol.js';
import { isSdkCompatibilityError } from './sdk-compat.js';

/**
 * How a request that failed is answered. Errors are recognised by brand and code (`isSessionError`), never
 * `instanceof`, so errors thrown by a second copy of core map the same way.
 */

/** Whether a request failed through the client's own fault (its params), which `onerror` does not hear of. */
export function isClientFault(error: unknown): boolean {
  return isSessionError(error, 'INVALID_VALUE') || isSessionError(error, 'PAYLOAD_TOO_LARGE');
}

/**
 * The answer to a failed request: 400 -32602 for the client's own fault, 503 with `Retry-After` while the
 * store is unavailable (never 404, which would make a client drop a live session), 500 otherwise — naming
 * the SDK mismatch when that is the cause, and nothing else of the error.
 */
export function failureResponse(error: unknown): Response {
  if (isClientFault(error)) {
    return jsonRpcErrorResponse(400, -32602, `Invalid params: ${(error as Error).message}`);
  }
  if (isSessionError(error, 'STORE_UNAVAILABLE')) {
    return jsonRpcErrorResponse(503, -32603, 'Session store unavailable; retry shortly.', {
      'retry-after': '1',
    });
  }
  if (isSdkCompatibilityError(error)) {
    return jsonRpcErrorResponse(500, -32603, error.message);
  }
  return jsonRpcErrorResponse(500, -32603, 'Internal error');
}
