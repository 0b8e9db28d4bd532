import { isSessionError, StoreUnavailableError } from '@mcp-session/core';
import {
  type HandleAuthInfo,
  type HandleState,
  isHandleOwnerRequiredError,
  type MintedHandle,
  type StateHandles,
} from './state-handles.js';

/** A tool result reporting an error to the model (`isError: true`), as both SDKs define it. */
export interface HandleToolErrorResult {
  [key: string]: unknown;
  content: { type: 'text'; text: string }[];
  isError: true;
}

/** The default result of a minting tool: the handle and its expiry, as text and as structured content. */
export interface MintToolResult {
  [key: string]: unknown;
  content: { type: 'text'; text: string }[];
  structuredContent: { handle: string; expiresAt: string | null };
}

/** Text of the tool error an unauthenticated caller gets. */
export const HANDLE_AUTH_REQUIRED_MESSAGE =
  'This tool needs an authenticated user: state handles belong to the user who opened them. Connect with credentials and retry.';

/**
 * What the caller of a handle tool is told while the store is unavailable: that it may retry, and nothing
 * of the backend's own message (hosts, ports, paths, driver errors).
 */
export const STORE_UNAVAILABLE_MESSAGE = 'Session store unavailable; retry shortly.';

/**
 * The tool error for an error from handle resolution or use, or null for any other error (which the caller
 * rethrows). A missing, expired, closed or foreign handle — also one that expired or was closed while the
 * tool ran — tells the model to mint a new one; a caller without an owner is told to authenticate.
 */
export function handleToolError(
  error: unknown,
  handles: StateHandles,
): HandleToolErrorResult | null {
  if (isHandleOwnerRequiredError(error)) return toolError(HANDLE_AUTH_REQUIRED_MESSAGE);
  if (isSessionError(error, 'SESSION_NOT_FOUND')) return toolError(handles.notFoundMessage());
  return null;
}

/**
 * Resolves `handle` for the caller and runs `run` with its state. Handle errors become tool errors
 * (`handleToolError`); an unavailable store becomes a `StoreUnavailableError` with only
 * `STORE_UNAVAILABLE_MESSAGE` (the backend's error as its `cause`), which the SDK helpers answer as a
 * JSON-RPC error (`answerStoreOutagesAsRequestErrors`); anything else propagates, so the SDK reports it as
 * it reports any tool failure.
 */
export async function callWithHandle<R>(
  handles: StateHandles,
  authInfo: HandleAuthInfo | undefined,
  handle: string,
  run: (state: HandleState) => R | Promise<R>,
): Promise<R | HandleToolErrorResult> {
  try {
    const state = await handles.resolve(handle, handles.ownerOf(authInfo));
    return await run(state);
  } catch (error) {
    const result = handleToolError(error, handles);
    if (result) return result;
    throw withoutStoreDetails(error);
  }
}

/**
 * Mints a handle for the caller and runs `run` with it (default: `mintToolResult`). When `run` throws, the
 * new handle is purged, so a failed mint leaves nothing behind. An unavailable store is reported as by
 * `callWithHandle`.
 */
export async function callWithMintedHandle<R = MintToolResult>(
  handles: StateHandles,
  authInfo: HandleAuthInfo | undefined,
  run?: (minted: MintedHandle) => R | Promise<R>,
): Promise<R | MintToolResult | HandleToolErrorResult> {
  let minted: MintedHandle;
  try {
    minted = await handles.mint(handles.ownerOf(authInfo));
  } catch (error) {
    const result = handleToolError(error, handles);
    if (result) return result;
    throw withoutStoreDetails(error);
  }
  if (!run) return mintToolResult(minted);
  try {
    return await run(minted);
  } catch (error) {
    await handles.manager
      .closeSession(minted.state.id, { owner: minted.state.owner, purge: true })
      .catch(() => {});
    throw withoutStoreDetails(error);
  }
}

/**
 * A store outage as the tool's caller may see it: `STORE_UNAVAILABLE_MESSAGE`, the original as `cause`.
 * Other errors are returned as they are.
 */
function withoutStoreDetails(error: unknown): unknown {
  if (!isSessionError(error, 'STORE_UNAVAILABLE') || error.message === STORE_UNAVAILABLE_MESSAGE) {
    return error;
  }
  return new StoreUnavailableError(STORE_UNAVAILABLE_MESSAGE, { cause: error });
}

const ANSWERS_STORE_OUTAGES = Symbol.for('@mcp-session/mcp.answersStoreOutages');

/**
 * Makes `server` — an SDK 1.x or 2.x `McpServer` — answer a `tools/call` that failed because the store is
 * unavailable with a JSON-RPC error (-32603 "Session store unavailable; retry shortly.") instead of a tool
 * result: the request failed and the client may retry it; the model has nothing to learn from it.
 *
 * Both SDKs turn every error a tool throws into a tool result (`isError: true`) through
 * `McpServer.createToolError(message)`, which sees only the message; URL elicitation is the one error
 * they let through. So this wraps that method, on this instance only, to throw instead for exactly
 * `STORE_UNAVAILABLE_MESSAGE`: thrown there, the error leaves the `tools/call` handler, and the SDK
 * answers with a JSON-RPC error whose code is -32603 (the error's `code` is not a JSON-RPC number) and
 * whose message is the error's. If an SDK release drops the method, the call is a tool error carrying
 * the same message — still nothing of the backend's. Idempotent.
 */
export function answerStoreOutagesAsRequestErrors(server: object): void {
  const target = server as {
    createToolError?: (message: string) => unknown;
    [ANSWERS_STORE_OUTAGES]?: true;
  };
  const createToolError = target.createToolError;
  if (target[ANSWERS_STORE_OUTAGES] || typeof createToolError !== 'function') return;
  Object.defineProperty(target, ANSWERS_STORE_OUTAGES, { value: true });
  target.createToolError = function (this: unknown, message: string) {
    if (message === STORE_UNAVAILABLE_MESSAGE) throw new StoreUnavailableError(message);
    return createToolError.call(this, message);
  };
}

/** `{ handle, expiresAt }` (ISO 8601, or null) as JSON text and as structured content. */
export function mintToolResult(minted: Pick<MintedHandle, 'handle' | 'expiresAt'>): MintToolResult {
  const structuredContent = {
    handle: minted.handle,
    expiresAt: minted.expiresAt === null ? null : new Date(minted.expiresAt).toISOString(),
  };
  return {
    content: [{ type: 'text', text: JSON.stringify(structuredContent) }],
    structuredContent,
  };
}

/** The description of the `handle` argument the tool helpers add, naming the minting tool when known. */
export function handleArgumentDescription(handles: StateHandles): string {
  return handles.mintTool === undefined
    ? 'State handle (h_…) returned by the tool that opened it.'
    : `State handle (h_…) returned by ${handles.mintTool}.`;
}

function toolError(text: string): HandleToolErrorResult {
  return { content: [{ type: 'text', text }], isError: true };
}
