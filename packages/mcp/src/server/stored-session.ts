import {
  isSessionError,
  type JsonObject,
  type Session,
  type SessionManager,
} from '@mcp-session/core';
import {
  isHandleMetadata,
  type LoggingLevel,
  type McpSessionMetadata,
  readMcpMetadata,
  withMcpMetadata,
} from '../session-kinds.js';
import { isWellFormedId } from './request.js';

/**
 * What the handler reads and writes of an MCP session in the store — always through the `SessionManager`,
 * which owns ids, hashing and the store API.
 */

/**
 * The stored session an `initialize` opens: the preferred id resumed when the manager holds it as
 * resumable for this owner (its `metadata.mcp` replaced and its generation bumped, so other instances drop
 * their transports), else a new session. A state handle's id is never resumed.
 */
export async function openSessionForInitialize(
  manager: SessionManager,
  initialize: JsonObject,
  owner: string | null,
  preferred: string | null,
): Promise<{ session: Session; resumed: boolean }> {
  const fresh: McpSessionMetadata = { format: 1, generation: 1, initialize, logLevel: null };
  const resumable = await resumablePreferredId(manager, preferred, owner);
  if (resumable === null) {
    const session = await manager.createSession({ owner, metadata: withMcpMetadata({}, fresh) });
    return { session, resumed: false };
  }
  const result = await manager.resumeSession(resumable, {
    owner,
    metadata: withMcpMetadata({}, fresh),
  });
  if (!result.resumed) return result;
  const generation = (readMcpMetadata(result.session.metadata)?.generation ?? 0) + 1;
  const session = await manager.updateSession(
    result.session.id,
    { metadata: withMcpMetadata(result.session.metadata, { ...fresh, generation }) },
    { owner },
  );
  return { session, resumed: true };
}

/**
 * The preferred id, or null when there is none or it names a state handle: a handle shares the store but
 * must never turn into an MCP session (resuming would overwrite its metadata). Looking is not using: the
 * session is peeked, so no activity is recorded. A malformed id is left to `resumeSession`, which mints a
 * new one for it.
 */
async function resumablePreferredId(
  manager: SessionManager,
  preferred: string | null,
  owner: string | null,
): Promise<string | null> {
  if (preferred === null || !isWellFormedId(preferred, manager.limits.maxIdLength)) {
    return preferred;
  }
  const session = await manager.peekSession(preferred, { owner });
  return session && isHandleMetadata(session.metadata) ? null : preferred;
}

/** Moves an idle session back to active as a request arrives; losing that race to another request is fine. */
export async function reactivateSession(
  manager: SessionManager,
  id: string,
  owner: string | null,
  report: (error: unknown, sessionId: string) => void,
): Promise<void> {
  try {
    await manager.transitionState(id, 'active', { owner });
  } catch (error) {
    // Another request or instance moved it first; the session is still servable.
    if (!isSessionError(error, 'VERSION_CONFLICT')) report(error, id);
  }
}

/**
 * Persists the level of a `logging/setLevel` before the SDK applies it, so a rebuild restores it. A
 * failure is reported, not thrown: the level still applies on this instance.
 */
export async function persistLogLevel(
  manager: SessionManager,
  session: Session,
  meta: McpSessionMetadata,
  level: LoggingLevel | null,
  report: (error: unknown, sessionId: string) => void,
): Promise<void> {
  if (level === null || level === meta.logLevel) return;
  try {
    await manager.updateSession(
      session.id,
      { metadata: withMcpMetadata(session.metadata, { ...meta, logLevel: level }) },
      { owner: session.owner },
    );
  } catch (error) {
    // Only a rebuild elsewhere would miss the level.
    report(error, session.id);
  }
}
