import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** Name of the file that marks a directory as a session store and records its format. */
export const MARKER_FILE = 'mcp-session-store.json';

/** Format written into the marker and every record file; bumped on incompatible layout changes. */
export const FORMAT_VERSION = 1;

/** A record file name: the SHA-256 of the storage id, 64 lowercase hex characters, then `.json`. */
export const RECORD_FILE = /^([0-9a-f]{64})\.json$/;

/** A session's log directory, or an owner-index marker: the bare 64-hex digest. */
export const DIGEST = /^[0-9a-f]{64}$/;

/** A log file name: `<encoded log name>.<incarnation>-<generation>.jsonl`. */
const LOG_FILE = /^([A-Za-z0-9_%~-]+)\.([0-9a-f]{12})-([1-9][0-9]*)\.jsonl$/;

/** Longest encoded log name kept readable; longer ones are replaced by a digest to respect NAME_MAX. */
const MAX_READABLE_LOG_NAME = 150;

/** SHA-256 as lowercase hex. Every file name that derives from caller input goes through this. */
export function digest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The file-name form of a log name. Log names are `[A-Za-z0-9_.:-]{1,128}`, so `..` and `.` are valid
 * names and `:` is not portable: everything except lowercase letters, digits, `_` and `-` becomes `%XX`
 * (uppercase too, so case-insensitive file systems cannot merge `History` and `history`). A result too long
 * for a file name becomes `~` and the name's digest; neither `~` nor a bare digest can come out of the
 * escaping, so the two forms never collide.
 */
export function encodeLogName(log: string): string {
  const encoded = log.replace(
    /[^a-z0-9_-]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
  return encoded.length <= MAX_READABLE_LOG_NAME ? encoded : `~${digest(log)}`;
}

/** Splits a log file name into its parts, or returns null for a name this store did not write. */
export function parseLogFileName(
  name: string,
): { encodedLog: string; incarnation: string; generation: number } | null {
  const match = LOG_FILE.exec(name);
  if (!match) return null;
  return {
    encodedLog: match[1] as string,
    incarnation: match[2] as string,
    generation: Number(match[3]),
  };
}

/** A fresh incarnation tag: it makes log file names of a re-created session differ from the old ones. */
export function newIncarnation(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Where everything lives under the store directory. Only digests and fixed names are ever joined to the
 * root, so no id, owner or log name can reach outside it.
 *
 * ```
 * <root>/mcp-session-store.json            marker: format version
 * <root>/sessions/<d0d1>/<digest>.json     record of one session (the commit point of every write)
 * <root>/sessions/<d0d1>/<digest>.lock     per-session lock, present only while held
 * <root>/sessions/<d0d1>/<digest>/…jsonl   the session's logs
 * <root>/owners/<owner digest>/<digest>    owner index (file content: the storage id)
 * <root>/quarantine/…                      corrupt files moved aside
 * <root>/tmp/<pid>-<random>.tmp            files being written
 * <root>/messages/<window>.jsonl           message bus: one append-only file per 10-second window
 * ```
 */
export class Layout {
  readonly sessions: string;
  readonly owners: string;
  readonly quarantine: string;
  readonly tmp: string;
  readonly marker: string;

  constructor(readonly root: string) {
    this.sessions = join(root, 'sessions');
    this.owners = join(root, 'owners');
    this.quarantine = join(root, 'quarantine');
    this.tmp = join(root, 'tmp');
    this.marker = join(root, MARKER_FILE);
  }

  /** Shard directory of a session: the first two hex digits of its digest (256 shards). */
  shard(hash: string): string {
    return join(this.sessions, hash.slice(0, 2));
  }

  record(hash: string): string {
    return join(this.shard(hash), `${hash}.json`);
  }

  lock(hash: string): string {
    return join(this.shard(hash), `${hash}.lock`);
  }

  logDir(hash: string): string {
    return join(this.shard(hash), hash);
  }

  logFile(hash: string, log: string, incarnation: string, generation: number): string {
    return join(this.logDir(hash), `${encodeLogName(log)}.${incarnation}-${generation}.jsonl`);
  }

  ownerDir(owner: string): string {
    return join(this.owners, digest(owner));
  }

  ownerMarker(owner: string, hash: string): string {
    return join(this.ownerDir(owner), hash);
  }

  /** A unique temp path; the pid in its name lets a later open remove it once that process is gone. */
  tmpFile(): string {
    return join(this.tmp, `${process.pid}-${randomBytes(8).toString('hex')}.tmp`);
  }
}
