import {
  assertValidId,
  assertValidOwner,
  checkImportedLogs,
  type LogEntry,
  SESSION_STATES,
  type SessionRecord,
  validateJson,
} from '@mcp-session/core/adapter';
import type { SessionCopy } from './transfer.js';

/** `format` of the header line of an export. */
export const EXPORT_FORMAT = 'mcp-session-export';
/** Version of the export format this CLI writes and reads. */
export const EXPORT_VERSION = 1;

/** First line of an export. */
export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION;
  /** When the export started, epoch milliseconds. */
  exportedAt: number;
  /** The store exported, password removed. */
  source: string;
  /** Names of the logs exported with each session (`history` unless `--log` named more). */
  logs: string[];
}

/** Every following line: one session. Empty logs are left out. */
export type ExportLine = SessionCopy;

/**
 * Structure limits for imported values: far above any manager's defaults, because an export holds what
 * some application accepted under its own limits. What is checked is that values are portable JSON.
 */
const IMPORT_LIMITS = { maxDepth: 256, maxKeys: 1_000_000, maxKeyLength: 100_000 };

const RECORD_FIELDS: readonly (keyof SessionRecord)[] = [
  'id',
  'state',
  'context',
  'metadata',
  'owner',
  'createdAt',
  'lastActivityAt',
  'expiresAt',
  'version',
  'messageCount',
];

/** The header line for an export of `source`. */
export function exportHeader(source: string, logs: readonly string[], now: number): ExportHeader {
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exportedAt: now,
    source,
    logs: [...logs],
  };
}

/** Parses and checks the header line; throws an Error saying what is wrong. */
export function parseHeader(text: string): ExportHeader {
  const value = parseJson(text);
  if (!isObject(value) || value.format !== EXPORT_FORMAT) {
    throw new Error(
      `not an mcp-session export: the first line must be the header {"format":"${EXPORT_FORMAT}",...}`,
    );
  }
  if (value.version !== EXPORT_VERSION) {
    throw new Error(
      `export format version ${JSON.stringify(value.version)} is not supported (this CLI reads version ${EXPORT_VERSION}); use a matching @mcp-session/cli`,
    );
  }
  return value as unknown as ExportHeader;
}

/** Parses and checks one session line; throws an Error naming the bad field. */
export function parseSessionLine(text: string): ExportLine {
  const value = parseJson(text);
  if (!isObject(value))
    throw new Error('a session line must be a JSON object {"record":…,"logs":…}');
  for (const key of Object.keys(value)) {
    if (key !== 'record' && key !== 'logs') throw new Error(`unexpected field "${key}"`);
  }
  const record = checkRecord(value.record);
  const logs = value.logs ?? {};
  if (!isObject(logs)) throw new Error('"logs" must be an object of arrays');
  // Names, consecutive seqs, times and plain-JSON data: what create() itself will insist on.
  checkImportedLogs(logs as Record<string, LogEntry[]>);
  return { record, logs: logs as Record<string, LogEntry[]> };
}

function checkRecord(value: unknown): SessionRecord {
  if (!isObject(value)) throw new Error('"record" must be an object');
  for (const key of Object.keys(value)) {
    if (!(RECORD_FIELDS as readonly string[]).includes(key)) {
      throw new Error(`unexpected field "record.${key}"`);
    }
  }
  for (const field of RECORD_FIELDS) {
    if (!Object.hasOwn(value, field)) throw new Error(`"record.${field}" is missing`);
  }
  assertValidId(value.id);
  if (!(SESSION_STATES as readonly unknown[]).includes(value.state)) {
    throw new Error(`"record.state" must be one of ${SESSION_STATES.join(', ')}`);
  }
  for (const field of ['context', 'metadata'] as const) {
    if (!isObject(value[field])) throw new Error(`"record.${field}" must be a JSON object`);
    checkPortable(value[field], `record.${field}`);
  }
  assertValidOwner(value.owner);
  for (const field of ['createdAt', 'lastActivityAt'] as const) {
    checkInteger(value[field], `record.${field}`, 0);
  }
  if (value.expiresAt !== null) checkInteger(value.expiresAt, 'record.expiresAt', 0);
  checkInteger(value.version, 'record.version', 1);
  checkInteger(value.messageCount, 'record.messageCount', 0);
  return value as unknown as SessionRecord;
}

function checkInteger(value: unknown, path: string, min: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new Error(`"${path}" must be an integer of at least ${min}`);
  }
}

function checkPortable(value: unknown, path: string): void {
  validateJson(value, IMPORT_LIMITS, path);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
