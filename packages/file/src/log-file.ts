import { constants, type FileHandle, open } from 'node:fs/promises';
import type { LogEntry } from '@mcp-session/core/adapter';
import { CorruptFileError, type LogMeta } from './record-file.js';

const NEWLINE = 0x0a;

/** Logs up to this many committed bytes are read in one piece; larger ones are searched. */
const WHOLE_READ_BYTES = 256 * 1024;

/** Reads of large logs go in chunks of this many bytes. */
const CHUNK_BYTES = 64 * 1024;

/** Every line starts like this, which lets a search read a seq without parsing the line. */
const LINE_HEAD = /^\{"seq":(\d{1,16}),"at":/;

/**
 * The JSON Lines of entries (given as their JSON text) with consecutive seqs from `firstSeq`. `seq` comes
 * first in every line, which is what lets a search read it without parsing the rest.
 */
export function formatEntries(dataJson: readonly string[], firstSeq: number, at: number): string {
  let text = '';
  dataJson.forEach((data, i) => {
    text += formatLine(firstSeq + i, at, data);
  });
  return text;
}

/** One log line; `seq` and `at` are numbers, `dataJson` is the entry's data as JSON. */
export function formatLine(seq: number, at: number, dataJson: string): string {
  return `{"seq":${seq},"at":${JSON.stringify(at)},"data":${dataJson}}\n`;
}

/**
 * Appends committed-to-be lines at the committed end of a log file, creating it if needed. A longer file
 * holds a tail that was never committed (a writer died before its record was replaced): it is cut off
 * first, and its length returned so the caller can report the repair. A shorter file lost committed
 * data and is corrupt.
 */
export async function appendToLogFile(
  path: string,
  committedBytes: number,
  text: string,
  durable: boolean,
): Promise<{ cutBytes: number }> {
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT, 0o644);
  try {
    const { size } = await handle.stat();
    if (size < committedBytes) {
      throw new CorruptFileError(
        path,
        `is ${size} bytes, shorter than the ${committedBytes} committed`,
      );
    }
    if (size > committedBytes) await handle.truncate(committedBytes);
    const data = Buffer.from(text, 'utf8');
    await handle.write(data, 0, data.length, committedBytes);
    if (durable) await handle.datasync();
    return { cutBytes: size - committedBytes };
  } finally {
    await handle.close();
  }
}

/**
 * Cuts an uncommitted tail off a log file. Call it only while holding the session lock, with the
 * bookkeeping read under that lock. Returns how many bytes were cut.
 */
export async function cutUncommittedTail(path: string, committedBytes: number): Promise<number> {
  const handle = await open(path, 'r+');
  try {
    const { size } = await handle.stat();
    if (size < committedBytes) {
      throw new CorruptFileError(
        path,
        `is ${size} bytes, shorter than the ${committedBytes} committed`,
      );
    }
    if (size > committedBytes) await handle.truncate(committedBytes);
    return size - committedBytes;
  } finally {
    await handle.close();
  }
}

/** What `readLogFile` found. */
export interface LogRead {
  entries: LogEntry[];
  /** The file is longer than committed: an append is in flight, or a writer died mid-append. */
  hasTail: boolean;
}

/**
 * Reads `count` entries from seq `fromSeq` on out of a log's committed bytes. Only the committed region
 * is ever read, and within one generation it never changes, so this needs no lock.
 * @throws CorruptFileError when the committed region does not hold the lines the bookkeeping promises.
 * @throws an ENOENT error when the file was replaced by a compaction (re-read the record and retry).
 */
export async function readLogFile(
  path: string,
  meta: LogMeta,
  fromSeq: number,
  count: number,
): Promise<LogRead> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size < meta.bytes) {
      throw new CorruptFileError(
        path,
        `is ${size} bytes, shorter than the ${meta.bytes} committed`,
      );
    }
    const entries =
      meta.bytes <= WHOLE_READ_BYTES
        ? await readSmall(handle, path, meta, fromSeq, count)
        : await readLarge(handle, path, meta, fromSeq, count);
    return { entries, hasTail: size > meta.bytes };
  } finally {
    await handle.close();
  }
}

/**
 * The committed lines from `fromSeq` to the end, checked, as bytes ready to start a new generation.
 * Used by compaction, so its cost is that of the live entries (bounded by the cap), not of the history.
 */
export async function readLiveLines(path: string, meta: LogMeta, fromSeq: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size < meta.bytes) {
      throw new CorruptFileError(
        path,
        `is ${size} bytes, shorter than the ${meta.bytes} committed`,
      );
    }
    const start = await lineStart(handle, path, meta, fromSeq);
    const live = await readExactly(handle, path, start, meta.bytes - start);
    let seq = fromSeq;
    let position = 0;
    while (position < live.length) {
      const end = live.indexOf(NEWLINE, position);
      if (end === -1) throw new CorruptFileError(path, 'committed region ends inside a line');
      parseLine(live.subarray(position, end), path, seq++);
      position = end + 1;
    }
    if (seq !== meta.nextSeq) throw new CorruptFileError(path, 'holds fewer lines than committed');
    return live;
  } finally {
    await handle.close();
  }
}

/**
 * The committed live lines from `meta.firstSeq` on, checked, with the data of the seqs in `replacements`
 * (seq → the new data as JSON) swapped in; each line keeps its seq and `at`. The bytes of a new
 * generation: the caller writes them to a new file and commits by the record, as a compaction does, so
 * a crash leaves the old generation (and the old values) in force until that commit.
 */
export async function replaceLiveLines(
  path: string,
  meta: LogMeta,
  replacements: ReadonlyMap<number, string>,
): Promise<Buffer> {
  const live = await readLiveLines(path, meta, meta.firstSeq);
  const parts: Buffer[] = [];
  let seq = meta.firstSeq;
  let position = 0;
  while (position < live.length) {
    const end = live.indexOf(NEWLINE, position) + 1;
    const dataJson = replacements.get(seq);
    if (dataJson === undefined) {
      parts.push(live.subarray(position, end));
    } else {
      const { at } = parseLine(live.subarray(position, end - 1), path, seq);
      parts.push(Buffer.from(formatLine(seq, at, dataJson), 'utf8'));
    }
    seq++;
    position = end;
  }
  return Buffer.concat(parts);
}

async function readSmall(
  handle: FileHandle,
  path: string,
  meta: LogMeta,
  fromSeq: number,
  count: number,
): Promise<LogEntry[]> {
  const buffer = await readExactly(handle, path, 0, meta.bytes);
  // Seqs in a file are consecutive from baseSeq, so the wanted lines are found by counting newlines.
  const starts: number[] = [];
  let position = 0;
  while (position < buffer.length) {
    starts.push(position);
    const end = buffer.indexOf(NEWLINE, position);
    if (end === -1) throw new CorruptFileError(path, 'committed region ends inside a line');
    position = end + 1;
  }
  if (starts.length !== meta.nextSeq - meta.baseSeq) {
    throw new CorruptFileError(
      path,
      `holds ${starts.length} lines where ${meta.nextSeq - meta.baseSeq} are committed`,
    );
  }
  const entries: LogEntry[] = [];
  for (let seq = fromSeq; seq < fromSeq + count; seq++) {
    const index = seq - meta.baseSeq;
    const start = starts[index] as number;
    const end = (starts[index + 1] ?? buffer.length) - 1;
    entries.push(parseLine(buffer.subarray(start, end), path, seq));
  }
  return entries;
}

async function readLarge(
  handle: FileHandle,
  path: string,
  meta: LogMeta,
  fromSeq: number,
  count: number,
): Promise<LogEntry[]> {
  let position = await lineStart(handle, path, meta, fromSeq);
  const entries: LogEntry[] = [];
  let pending = Buffer.alloc(0);
  while (entries.length < count) {
    if (position >= meta.bytes)
      throw new CorruptFileError(path, 'holds fewer lines than committed');
    const length = Math.min(CHUNK_BYTES, meta.bytes - position);
    const chunk = await readExactly(handle, path, position, length);
    position += length;
    let data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    let lineStartAt = 0;
    for (;;) {
      const end = data.indexOf(NEWLINE, lineStartAt);
      if (end === -1 || entries.length === count) break;
      entries.push(parseLine(data.subarray(lineStartAt, end), path, fromSeq + entries.length));
      lineStartAt = end + 1;
    }
    data = data.subarray(lineStartAt);
    pending = Buffer.from(data);
  }
  return entries;
}

/**
 * Byte offset where the line of `seq` starts. Seqs increase line by line, so a binary search over byte
 * offsets finds it with a logarithmic number of small reads; the last stretch is a newline count.
 */
async function lineStart(
  handle: FileHandle,
  path: string,
  meta: LogMeta,
  seq: number,
): Promise<number> {
  if (seq === meta.baseSeq) return 0;
  if (seq === meta.nextSeq) return meta.bytes;
  // Invariant: the wanted line starts in [low, high); the line at `low` has seq `lowSeq`.
  let low = 0;
  let lowSeq = meta.baseSeq;
  let high = meta.bytes;
  while (high - low > CHUNK_BYTES) {
    const middle = low + Math.floor((high - low) / 2);
    const found = await nextLine(handle, path, middle, high, meta.bytes);
    if (found === null) {
      high = middle;
    } else if (found.seq <= seq) {
      low = found.start;
      lowSeq = found.seq;
      if (lowSeq === seq) return low;
    } else {
      high = found.start;
    }
  }
  let position = low;
  let skip = seq - lowSeq;
  while (skip > 0) {
    const length = Math.min(CHUNK_BYTES, meta.bytes - position);
    if (length <= 0) throw new CorruptFileError(path, 'holds fewer lines than committed');
    const chunk = await readExactly(handle, path, position, length);
    let offset = 0;
    while (skip > 0) {
      const end = chunk.indexOf(NEWLINE, offset);
      if (end === -1) break;
      offset = end + 1;
      skip--;
    }
    position += skip === 0 ? offset : length;
  }
  return position;
}

/**
 * The first line starting at or after `from` and before `before`, with its seq; null if none does. The
 * line itself may run past `before` (a search bound, not a line boundary), up to the committed end.
 */
async function nextLine(
  handle: FileHandle,
  path: string,
  from: number,
  before: number,
  committedEnd: number,
): Promise<{ start: number; seq: number } | null> {
  let position = from - 1;
  while (position < before) {
    const length = Math.min(CHUNK_BYTES, before - position);
    const chunk = await readExactly(handle, path, position, length);
    const newline = chunk.indexOf(NEWLINE);
    if (newline !== -1) {
      const start = position + newline + 1;
      if (start >= before) return null;
      const head = await readExactly(handle, path, start, Math.min(40, committedEnd - start));
      const match = LINE_HEAD.exec(head.toString('latin1'));
      if (!match) throw new CorruptFileError(path, `no log line starts at byte ${start}`);
      return { start, seq: Number(match[1]) };
    }
    position += length;
  }
  return null;
}

async function readExactly(
  handle: FileHandle,
  path: string,
  position: number,
  length: number,
): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw new CorruptFileError(path, 'ended before its committed length');
    filled += bytesRead;
  }
  return buffer;
}

function parseLine(line: Buffer, path: string, expectedSeq: number): LogEntry {
  let entry: unknown;
  try {
    entry = JSON.parse(line.toString('utf8'));
  } catch {
    throw new CorruptFileError(path, `line of seq ${expectedSeq} is not JSON`);
  }
  const { seq, at, data } = (entry ?? {}) as Partial<LogEntry>;
  if (seq !== expectedSeq || typeof at !== 'number' || data === undefined) {
    throw new CorruptFileError(path, `line of seq ${expectedSeq} is not the entry committed there`);
  }
  return { seq, at, data };
}
