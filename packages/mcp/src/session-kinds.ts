import type { JsonObject } from '@mcp-session/core';

/**
 * Two kinds of session share one store, each marked in its `metadata`: an MCP session of the 2025 protocol
 * (`metadata.mcp`, written by the session handler) and a state handle of the 2026 protocol
 * (`metadata.mcpHandle`, written by `StateHandles`). Each side serves only its own kind, so neither id can
 * be used as the other. Both markers live here, beneath the server and the handles, which never import
 * each other.
 */

// ── MCP sessions (protocol 2025-11-25) ───────────────────────────────────────────────────────────────

/** Key of the session's `metadata` under which the MCP glue keeps what it needs to rebuild a session. */
export const MCP_METADATA_KEY = 'mcp';

/** Logging levels of `logging/setLevel`, lowest severity first (RFC 5424 names, as MCP uses them). */
export const LOGGING_LEVELS = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
] as const;

/** One of `LOGGING_LEVELS`. */
export type LoggingLevel = (typeof LOGGING_LEVELS)[number];

/** What is persisted in `metadata.mcp` of every session the glue creates. */
export interface McpSessionMetadata {
  /** Shape version of this record, so a later release can migrate it. */
  format: 1;
  /**
   * Incremented on every initialize of the session (a fresh one, or a preferred-id resume). An
   * instance holding a transport built for an older generation drops it and rebuilds.
   */
  generation: number;
  /** The client's `initialize` params: protocolVersion, capabilities, clientInfo (and `_meta`). */
  initialize: JsonObject;
  /** The level of the last `logging/setLevel`, or null when the client never set one. */
  logLevel: LoggingLevel | null;
}

/** Reads `metadata.mcp`, or null when it is absent or not in a shape this release understands. */
export function readMcpMetadata(metadata: JsonObject): McpSessionMetadata | null {
  const value = metadata[MCP_METADATA_KEY];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { format, generation, initialize, logLevel } = value;
  if (format !== 1 || typeof generation !== 'number' || !Number.isSafeInteger(generation)) {
    return null;
  }
  if (typeof initialize !== 'object' || initialize === null || Array.isArray(initialize)) {
    return null;
  }
  if (typeof initialize.protocolVersion !== 'string') return null;
  if (logLevel !== null && !isLoggingLevel(logLevel)) return null;
  return { format, generation, initialize, logLevel };
}

/** The session metadata with `metadata.mcp` replaced; other keys (the application's) are kept. */
export function withMcpMetadata(metadata: JsonObject, mcp: McpSessionMetadata): JsonObject {
  return { ...metadata, [MCP_METADATA_KEY]: { ...mcp } };
}

/** Whether a value is a valid `logging/setLevel` level. */
export function isLoggingLevel(value: unknown): value is LoggingLevel {
  return typeof value === 'string' && (LOGGING_LEVELS as readonly string[]).includes(value);
}

// ── State handles (protocol 2026-07-28) ──────────────────────────────────────────────────────────────

/**
 * Key of the session's `metadata` that marks a session as a state handle. A handle resolves only to a
 * session carrying it, and the MCP session glue never serves or resumes a session carrying it.
 */
export const HANDLE_METADATA_KEY = 'mcpHandle';

/** What `metadata.mcpHandle` holds. */
export interface HandleMetadata {
  /** Shape version of this marker, so a later release can migrate it. */
  format: 1;
}

/** Whether a session's metadata marks it as a state handle. */
export function isHandleMetadata(metadata: JsonObject): boolean {
  const value = metadata[HANDLE_METADATA_KEY];
  return typeof value === 'object' && value !== null && !Array.isArray(value) && value.format === 1;
}
