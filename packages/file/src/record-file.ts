import { type JsonObject, SESSION_STATES, type SessionRecord } from '@mcp-session/core/adapter';
import { digest, FORMAT_VERSION } from './layout.js';

/**
 * Bookkeeping of one log, kept in the record file. Because it lives there, the record's atomic
 * replacement commits an append: entries, seqs, trimming, `version` and `messageCount` all at once.
 */
export interface LogMeta {
  /** The log's current file is `<log>.<incarnation>-<generation>.jsonl`; a compaction writes the next one. */
  generation: number;
  /** Seq of the first line of the current file. */
  baseSeq: number;
  /** Oldest visible seq: the cap is enforced by reading from here, lines before it are dead. */
  firstSeq: number;
  /** Seq the next appended entry gets. Never decreases, so seqs are never reused. */
  nextSeq: number;
  /** Committed length of the file in bytes. Anything after it was never committed and is cut off. */
  bytes: number;
}

/** Everything a record file holds. */
export interface RecordFile {
  session: SessionRecord;
  /** Random tag of this incarnation of the id; part of every log file name. */
  incarnation: string;
  logs: Map<string, LogMeta>;
}

/** A file that does not hold what this store writes: hand-edited, truncated, or from elsewhere. */
export class CorruptFileError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'CorruptFileError';
  }
}

/**
 * The text of a record file (one line of JSON). The session's fields are written in a fixed order, the
 * ones the guards look at first and `metadata` and `context` last, so `parseRecordHead` can decide
 * expiry and owner from the start of the file without reading the payload. JSON readers ignore the order,
 * so files written this way stay format 1, and earlier versions of this package read them unchanged.
 */
export function serializeRecordFile(file: RecordFile): string {
  const { session } = file;
  return `${JSON.stringify({
    format: FORMAT_VERSION,
    session: {
      id: session.id,
      state: session.state,
      owner: session.owner,
      createdAt: session.createdAt,
      lastActivityAt: session.lastActivityAt,
      expiresAt: session.expiresAt,
      version: session.version,
      messageCount: session.messageCount,
      metadata: session.metadata,
      context: session.context,
    },
    incarnation: file.incarnation,
    // fromEntries defines own properties, so a log named "__proto__" stays an ordinary key.
    logs: Object.fromEntries(file.logs),
  })}\n`;
}

/**
 * Parses and checks a record file. It must be the record of `expectedHash` (the digest of its own id),
 * with every field well-formed; anything else is a `CorruptFileError`.
 */
export function parseRecordFile(text: string, path: string, expectedHash: string): RecordFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CorruptFileError(path, `not JSON (${(error as Error).message})`);
  }
  const corrupt = (reason: string) => new CorruptFileError(path, reason);
  if (!isObject(parsed)) throw corrupt('not a JSON object');
  if (parsed.format !== FORMAT_VERSION) throw corrupt(`unknown format ${String(parsed.format)}`);
  const problem = sessionProblem(parsed.session);
  if (problem !== null) throw corrupt(`session ${problem}`);
  const session = parsed.session as unknown as SessionRecord;
  if (digest(session.id) !== expectedHash) throw corrupt('holds the record of another id');
  if (typeof parsed.incarnation !== 'string' || !/^[0-9a-f]{12}$/.test(parsed.incarnation)) {
    throw corrupt('incarnation is missing or malformed');
  }
  if (!isObject(parsed.logs)) throw corrupt('logs is not an object');
  const logs = new Map<string, LogMeta>();
  for (const [name, meta] of Object.entries(parsed.logs)) {
    if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(name) || !isLogMeta(meta)) {
      throw corrupt(`log "${name}" has malformed bookkeeping`);
    }
    logs.set(name, meta);
  }
  return { session, incarnation: parsed.incarnation, logs };
}

/** The fields of a record the expiry and owner guards look at, read from the start of its file. */
export type RecordHead = Pick<SessionRecord, 'id' | 'owner' | 'expiresAt'>;

/** What ends the head: the key after the guarded fields (a key, since JSON strings escape every `"`). */
const HEAD_END = Buffer.from(',"metadata":');

/**
 * How many bytes from the start of a record file hold its head: the format, then the session's id (at
 * most 256 characters), state, owner (at most 1024), times and counters, JSON-escaped (up to six bytes a
 * character). A head not found in them is read with the rest of the file.
 */
export const HEAD_BYTES = 16 * 1024;

/**
 * Reads the guarded fields from the first bytes of a record file, as `serializeRecordFile` orders them,
 * without touching what follows (metadata, context, log bookkeeping). Returns null when `start` does not
 * begin with such a head — a record written by an earlier version (context first), a head longer than
 * `start`, or a damaged file — and the caller then parses the whole file, which reports corruption.
 */
export function parseRecordHead(start: Buffer, expectedHash: string): RecordHead | null {
  const end = start.indexOf(HEAD_END);
  if (end < 0) return null;
  let parsed: unknown;
  try {
    // The cut leaves the session object and the file's object open; close both.
    parsed = JSON.parse(`${start.subarray(0, end).toString('utf8')}}}`);
  } catch {
    return null;
  }
  if (!isObject(parsed) || parsed.format !== FORMAT_VERSION || !isObject(parsed.session))
    return null;
  const { id, owner, expiresAt, context } = parsed.session;
  if (context !== undefined || typeof id !== 'string' || digest(id) !== expectedHash) return null;
  if (owner !== null && typeof owner !== 'string') return null;
  if (expiresAt !== null && !isFiniteNumber(expiresAt)) return null;
  return { id, owner, expiresAt };
}

/** What is wrong with a would-be `SessionRecord`, or null when nothing is. */
function sessionProblem(value: unknown): string | null {
  if (!isObject(value)) return 'is not an object';
  const s = value as Partial<Record<keyof SessionRecord, unknown>>;
  if (typeof s.id !== 'string' || s.id.length === 0) return 'id must be a non-empty string';
  if (!SESSION_STATES.includes(s.state as SessionRecord['state'])) return 'state is not a state';
  if (!isObject(s.context)) return 'context must be an object';
  if (!isObject(s.metadata)) return 'metadata must be an object';
  if (s.owner !== null && typeof s.owner !== 'string') return 'owner must be a string or null';
  if (!isFiniteNumber(s.createdAt)) return 'createdAt must be a number';
  if (!isFiniteNumber(s.lastActivityAt)) return 'lastActivityAt must be a number';
  if (s.expiresAt !== null && !isFiniteNumber(s.expiresAt)) {
    return 'expiresAt must be a number or null';
  }
  if (!isCount(s.version)) return 'version must be a non-negative integer';
  if (!isCount(s.messageCount)) return 'messageCount must be a non-negative integer';
  return null;
}

function isLogMeta(value: unknown): value is LogMeta {
  if (!isObject(value)) return false;
  const { generation, baseSeq, firstSeq, nextSeq, bytes } = value;
  return (
    isCount(generation) &&
    generation >= 1 &&
    isCount(baseSeq) &&
    isCount(firstSeq) &&
    isCount(nextSeq) &&
    isCount(bytes) &&
    baseSeq >= 1 &&
    baseSeq <= firstSeq &&
    firstSeq <= nextSeq &&
    (bytes === 0) === (baseSeq === nextSeq)
  );
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
