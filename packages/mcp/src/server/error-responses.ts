import { isSessionError, type QuotaExceededError } from '@mcp-session/core';
import { jsonRpcErrorResponse } from '../protocol.js';
import { isOwnerLimitError, isPoolSaturatedError } from './pool-errors.js';
import { isSdkCompatibilityError } from './sdk-compat.js';

/**
 * How a request that failed is answered. Errors are recognised by brand and code (`isSessionError`), never
 * `instanceof`, so errors thrown by a second copy of core map the same way.
 */

/** `Retry-After` of a 503 while the store is unavailable, in seconds. */
export const STORE_UNAVAILABLE_RETRY_AFTER_SECONDS = 1;
/** `Retry-After` of a refusal for load (pool saturated, owner at a limit in this process), in seconds. */
export const BUSY_RETRY_AFTER_SECONDS = 5;
/** `Retry-After` of a refusal for a stored-session quota: sessions expire or close slowly, in seconds. */
export const QUOTA_RETRY_AFTER_SECONDS = 30;

/** Whether a request failed through the client's own fault (its params), which `onerror` does not hear of. */
export function isClientFault(error: unknown): boolean {
  return isSessionError(error, 'INVALID_VALUE') || isSessionError(error, 'PAYLOAD_TOO_LARGE');
}

/**
 * What a request was refused for, when it was refused for a limit rather than failed: the key of its
 * handler counter. Refusals are answered (503, 429) and counted, not reported one by one.
 */
export type Refusal =
  | 'saturated'
  | 'ownerSessionLimited'
  | 'ownerStreamLimited'
  | 'ownerQuotaExceeded'
  | 'totalQuotaExceeded';

/** The refusal `error` stands for, or null when it is a failure. */
export function refusalOf(error: unknown): Refusal | null {
  if (isPoolSaturatedError(error)) return 'saturated';
  if (isOwnerLimitError(error)) {
    return error.what === 'liveSessions' ? 'ownerSessionLimited' : 'ownerStreamLimited';
  }
  if (isSessionError(error, 'QUOTA_EXCEEDED')) {
    return (error as QuotaExceededError).scope === 'owner'
      ? 'ownerQuotaExceeded'
      : 'totalQuotaExceeded';
  }
  return null;
}

/**
 * The answer to a failed or refused request, always with a JSON-RPC error body:
 * - 400 -32602 for the client's own fault;
 * - 503 with `Retry-After` while the store is unavailable, when the pool is saturated (`PoolSaturatedError`)
 *   and when the store holds all the sessions it may (`QuotaExceededError`, scope `total`) — never 404,
 *   which would make a client drop a live session;
 * - 429 with `Retry-After` for an owner at a limit: held sessions or streams in this process
 *   (`OwnerLimitError`), stored sessions (`QuotaExceededError`, scope `owner`), with what to do;
 * - 500 otherwise, naming the SDK mismatch when that is the cause, and nothing else of the error.
 */
export function failureResponse(error: unknown): Response {
  if (isClientFault(error)) {
    return jsonRpcErrorResponse(400, -32602, `Invalid params: ${(error as Error).message}`);
  }
  if (isSessionError(error, 'STORE_UNAVAILABLE')) {
    return jsonRpcErrorResponse(503, -32603, 'Session store unavailable; retry shortly.', {
      'retry-after': String(STORE_UNAVAILABLE_RETRY_AFTER_SECONDS),
    });
  }
  switch (refusalOf(error)) {
    case 'saturated':
      return jsonRpcErrorResponse(
        503,
        -32000,
        'Server busy: no live session is free; retry shortly.',
        {
          'retry-after': String(BUSY_RETRY_AFTER_SECONDS),
        },
      );
    case 'ownerSessionLimited':
    case 'ownerStreamLimited':
      return jsonRpcErrorResponse(429, -32000, (error as Error).message, {
        'retry-after': String(BUSY_RETRY_AFTER_SECONDS),
      });
    case 'ownerQuotaExceeded':
      return jsonRpcErrorResponse(429, -32000, (error as Error).message, {
        'retry-after': String(QUOTA_RETRY_AFTER_SECONDS),
      });
    case 'totalQuotaExceeded':
      return jsonRpcErrorResponse(
        503,
        -32000,
        'Server busy: the session store is full; retry later.',
        { 'retry-after': String(QUOTA_RETRY_AFTER_SECONDS) },
      );
    case null:
      break;
  }
  if (isSdkCompatibilityError(error)) {
    return jsonRpcErrorResponse(500, -32603, error.message);
  }
  return jsonRpcErrorResponse(500, -32603, 'Internal error');
}
