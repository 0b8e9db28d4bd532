import { isSessionError } from '@mcp-session/core';
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
 * (`handleToolError`); anything else propagates, so the SDK reports it as it reports any tool failure.
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
    throw error;
  }
}

/**
 * Mints a handle for the caller and runs `run` with it (default: `mintToolResult`). When `run` throws, the
 * new handle is purged, so a failed mint leaves nothing behind.
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
    throw error;
  }
  if (!run) return mintToolResult(minted);
  try {
    return await run(minted);
  } catch (error) {
    await handles.manager
      .closeSession(minted.state.id, { owner: minted.state.owner, purge: true })
      .catch(() => {});
    throw error;
  }
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
