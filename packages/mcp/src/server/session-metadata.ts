import type { JsonObject } from '@mcp-session/core';

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
