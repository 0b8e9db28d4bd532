import {
  assertValidId,
  InvalidValueError,
  isSessionError,
  isSessionManager,
  type JsonObject,
  type Session,
  type SessionManager,
  SessionNotFoundError,
} from '@mcp-session/core';
import { SessionContext } from '../session-context.js';
import {
  HANDLE_METADATA_KEY,
  type HandleMetadata,
  isHandleMetadata,
  MCP_METADATA_KEY,
} from '../session-kinds.js';

/**
 * Every handle starts with this. It tells a handle from an MCP session id at a glance (and lets secret
 * scanners find leaked ones), and the glue refuses a handle sent as `Mcp-Session-Id` and a session id passed
 * as a handle.
 */
export const HANDLE_PREFIX = 'h_';

/**
 * The subset of the SDKs' `AuthInfo` (1.x `extra.authInfo`, 2.x `ctx.http.authInfo`) an owner resolver may
 * read. Both SDKs' types are assignable to it.
 */
export interface HandleAuthInfo {
  /** The bearer token. */
  token?: string;
  /** The authenticated client (the default owner). */
  clientId?: string;
  /** Granted scopes. */
  scopes?: string[];
  /** Whatever your token verifier added, e.g. the user's `sub`. */
  extra?: Record<string, unknown>;
}

/**
 * Maps the caller's auth info to the principal handles are bound to, or null when the caller is not
 * authenticated (handles then cannot be minted or used). It maps, it does not authenticate.
 */
export type HandleOwnerResolver = (authInfo: HandleAuthInfo | undefined) => string | null;

/**
 * The default resolver: `authInfo.clientId`, else null — the same principal the session glue's default
 * binds MCP sessions to. With OAuth, `clientId` is the client application, not the end user; bind to the
 * user (e.g. a `sub` in `authInfo.extra`) when several users share a client.
 */
export const defaultHandleOwner: HandleOwnerResolver = (authInfo) =>
  typeof authInfo?.clientId === 'string' && authInfo.clientId !== '' ? authInfo.clientId : null;

/** Options of `StateHandles`. */
export interface StateHandlesOptions {
  /** Maps auth info to the owner (used by the tool helpers). Default: `authInfo.clientId`. */
  owner?: HandleOwnerResolver;
  /**
   * Name of the tool that mints handles (e.g. `open_state`). Tool errors for a dead or foreign handle then
   * tell the model to call it; without it they say "open a new state handle".
   */
  mintTool?: string;
}

/** What `mint` returns. */
export interface MintedHandle {
  /** The handle to give the client: `h_` followed by the session id. A bearer secret of its state. */
  handle: string;
  /** When the handle expires unless used again, epoch milliseconds (null when the manager sets no TTL). */
  expiresAt: number | null;
  /** The new handle's state, for seeding it. */
  state: HandleState;
}

/** Per-instance counters, since the `StateHandles` was created. */
export interface HandleCounters {
  /** Handles minted. */
  minted: number;
  /** Handles resolved for their owner. */
  resolved: number;
  /** Resolutions refused as unknown, expired, closed, malformed or another owner's. */
  notFound: number;
  /** Mints or resolutions refused because the caller had no owner. */
  unauthenticated: number;
}

/**
 * A state handle is unknown, expired, closed, malformed or bound to another owner — indistinguishably, so a
 * caller learns nothing about handles that are not theirs. A `SessionNotFoundError`, so code that treats
 * missing sessions alike needs no extra case.
 */
export class HandleNotFoundError extends SessionNotFoundError {
  constructor() {
    super(
      'State handle not found (unknown, expired, closed, or minted for another user). Mint a new handle.',
    );
  }
}

/**
 * Marks a `HandleOwnerRequiredError` from any copy of this package: its code, INVALID_VALUE, is shared with
 * every other bad argument, so the code alone cannot tell it apart.
 */
const OWNER_REQUIRED_MARK = Symbol.for('@mcp-session/mcp.HandleOwnerRequiredError');

/**
 * The caller has no owner: handles are bound to the authenticated user, so they are never minted for, nor
 * resolved by, an anonymous caller.
 */
export class HandleOwnerRequiredError extends InvalidValueError {
  constructor() {
    super(
      'State handles are bound to the authenticated user, and this caller has none: put authentication in front of the MCP endpoint and map it to an owner',
      'owner',
    );
    Object.defineProperty(this, OWNER_REQUIRED_MARK, { value: true });
  }
}

/** Whether `error` is a `HandleOwnerRequiredError`, by its mark (not `instanceof`, which two copies defeat). */
export function isHandleOwnerRequiredError(error: unknown): error is HandleOwnerRequiredError {
  return (
    isSessionError(error, 'INVALID_VALUE') &&
    (error as { [OWNER_REQUIRED_MARK]?: unknown })[OWNER_REQUIRED_MARK] === true
  );
}

/**
 * Server-minted state handles for the sessionless MCP protocol (2026-07-28), over a `SessionManager`.
 *
 * A handle is a session in the manager's store, minted for an authenticated owner and marked
 * `metadata.mcpHandle`; the handle string is `h_` + the session id. So everything sessions get, handles
 * get: ≥128-bit ids hashed at rest, owner binding (another owner gets "not found"), the manager's sliding
 * idle timeout and absolute lifetime, capped history, atomic per-key context writes, sweeping, store
 * metrics, the CLI — on every store, across restarts and instances.
 *
 * The MCP session glue and handles share one store without crossing over: a handle is refused as an
 * `Mcp-Session-Id` (404) and as a preferred session id, and an MCP session id is refused as a handle.
 */
export class StateHandles {
  /** The manager handles live in. */
  readonly manager: SessionManager;
  /** Name of the minting tool used in tool error messages, if given. */
  readonly mintTool: string | undefined;
  readonly #owner: HandleOwnerResolver;
  readonly #counters: HandleCounters = {
    minted: 0,
    resolved: 0,
    notFound: 0,
    unauthenticated: 0,
  };

  /**
   * @throws InvalidValueError when `manager` is not a `SessionManager` or an option is malformed.
   */
  constructor(manager: SessionManager, options: StateHandlesOptions = {}) {
    if (!isSessionManager(manager)) {
      throw new InvalidValueError('StateHandles needs a SessionManager', 'manager');
    }
    if (options.owner !== undefined && typeof options.owner !== 'function') {
      throw new InvalidValueError('owner must be a function (authInfo) => string | null', 'owner');
    }
    if (
      options.mintTool !== undefined &&
      (typeof options.mintTool !== 'string' || options.mintTool.trim() === '')
    ) {
      throw new InvalidValueError('mintTool must be a non-empty tool name', 'mintTool');
    }
    this.manager = manager;
    this.mintTool = options.mintTool;
    this.#owner = options.owner ?? defaultHandleOwner;
  }

  /** The owner of a caller with this auth info (null: not authenticated). */
  ownerOf(authInfo: HandleAuthInfo | undefined): string | null {
    const owner = this.#owner(authInfo);
    return typeof owner === 'string' && owner !== '' ? owner : null;
  }

  /**
   * Mints a handle bound to `owner`, with optional initial context and application metadata.
   * @throws HandleOwnerRequiredError when `owner` is null or empty (nothing is written).
   * @throws InvalidValueError for context or metadata that is not plain JSON within the limits, or
   *   metadata using a reserved key (`mcp`, `mcpHandle`).
   */
  async mint(
    owner: string | null | undefined,
    options: { context?: JsonObject; metadata?: JsonObject } = {},
  ): Promise<MintedHandle> {
    const bound = this.#requireOwner(owner);
    const metadata = options.metadata ?? {};
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new InvalidValueError('metadata must be a JSON object', 'metadata');
    }
    for (const reserved of [HANDLE_METADATA_KEY, MCP_METADATA_KEY]) {
      if (Object.hasOwn(metadata, reserved)) {
        throw new InvalidValueError(`metadata.${reserved} is reserved for mcp-session`, 'metadata');
      }
    }
    const marker: HandleMetadata = { format: 1 };
    const session = await this.manager.createSession({
      owner: bound,
      ...(options.context === undefined ? {} : { context: options.context }),
      metadata: { ...metadata, [HANDLE_METADATA_KEY]: { ...marker } },
    });
    this.#counters.minted++;
    const handle = `${HANDLE_PREFIX}${session.id}`;
    return {
      handle,
      expiresAt: session.expiresAt,
      state: new HandleState(this.manager, session, handle),
    };
  }

  /**
   * The state behind `handle`, for `owner`. Using a handle counts as activity: it slides its idle expiry
   * (throttled for reads, as for sessions).
   * @throws HandleNotFoundError when the handle is unknown, expired, closed, malformed, not a handle (an MCP
   *   session id, say) or another owner's.
   * @throws HandleOwnerRequiredError when `owner` is null or empty.
   * @throws InvalidValueError when `handle` is not a string.
   */
  async resolve(handle: string, owner: string | null | undefined): Promise<HandleState> {
    if (typeof handle !== 'string') {
      throw new InvalidValueError('A state handle must be a string', 'handle');
    }
    const bound = this.#requireOwner(owner);
    const id = this.#sessionIdOf(handle);
    let session: Session | null = null;
    if (id !== null) {
      try {
        session = await this.manager.requireSession(id, { owner: bound });
      } catch (error) {
        if (!isSessionError(error, 'SESSION_NOT_FOUND')) throw error;
      }
    }
    if (!session || session.owner !== bound || !isHandleMetadata(session.metadata)) {
      this.#counters.notFound++;
      throw new HandleNotFoundError();
    }
    this.#counters.resolved++;
    return new HandleState(this.manager, session, handle);
  }

  /**
   * Closes a handle for its owner: it becomes a tombstone that resolves to "not found", and is swept with
   * the manager's closed-retention. Returns false when there was no live handle of this owner to close.
   * @throws HandleOwnerRequiredError when `owner` is null or empty.
   */
  async close(handle: string, owner: string | null | undefined): Promise<boolean> {
    try {
      return await (await this.resolve(handle, owner)).close();
    } catch (error) {
      if (isSessionError(error, 'SESSION_NOT_FOUND')) return false;
      throw error;
    }
  }

  /** Whether a string has the shape of a handle (`h_` + a valid session id). Says nothing about liveness. */
  isWellFormed(handle: unknown): handle is string {
    return typeof handle === 'string' && this.#sessionIdOf(handle) !== null;
  }

  /** The tool error text for a dead or foreign handle, naming the minting tool when known. */
  notFoundMessage(): string {
    const next =
      this.mintTool === undefined
        ? 'Open a new state handle and retry with it.'
        : `Call ${this.mintTool} to get a new handle and retry with it.`;
    return `State handle not found: it is unknown, expired, closed, or belongs to another user. ${next}`;
  }

  /** Counters since this instance was created. */
  stats(): HandleCounters {
    return { ...this.#counters };
  }

  #requireOwner(owner: string | null | undefined): string {
    if (typeof owner === 'string' && owner !== '') return owner;
    if (owner === null || owner === undefined || owner === '') {
      this.#counters.unauthenticated++;
      throw new HandleOwnerRequiredError();
    }
    throw new InvalidValueError('owner must be a string', 'owner');
  }

  #sessionIdOf(handle: string): string | null {
    if (!handle.startsWith(HANDLE_PREFIX)) return null;
    const id = handle.slice(HANDLE_PREFIX.length);
    try {
      assertValidId(id, this.manager.limits.maxIdLength);
      return id;
    } catch {
      return null;
    }
  }
}

/**
 * One handle's state, as a tool handler sees it: the context and history of `SessionContext`, always read
 * and written with the handle's owner presented, plus `close()`. Every write is one atomic store call.
 */
export class HandleState extends SessionContext {
  /** The handle string (what the client passes). */
  readonly handle: string;
  /** When the handle expires, as of minting or resolving, epoch milliseconds (null: no TTL). Each use slides it. */
  readonly expiresAt: number | null;
  declare readonly owner: string;

  /** @internal Use `StateHandles.mint` or `StateHandles.resolve`. */
  constructor(manager: SessionManager, session: Session, handle: string) {
    super(manager, session.id, session.owner);
    this.handle = handle;
    this.expiresAt = session.expiresAt;
  }

  /**
   * Closes the handle: later uses get "not found". Returns false when it was already gone.
   */
  async close(): Promise<boolean> {
    return this.manager.closeSession(this.id, { owner: this.owner });
  }
}
