import { appendFile, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BaseMessageBus } from '@mcp-session/core/adapter';

/** How often a process with subscriptions reads the message files, milliseconds. */
export const DEFAULT_MESSAGE_POLL_INTERVAL_MS = 50;

/** How long message files are kept before publishers delete them, milliseconds. */
export const DEFAULT_MESSAGE_RETENTION_MS = 60_000;

/** Each message file holds the messages of one 10-second window, so old ones can be deleted whole. */
const SEGMENT_MS = 10_000;

/** Pruning runs at most this often per process, milliseconds. */
const PRUNE_INTERVAL_MS = 5_000;

const SEGMENT_FILE = /^(\d{16})\.jsonl$/;

/** Options of `FileMessageBus`. */
export interface FileMessageBusOptions {
  /** Milliseconds between reads while anything is subscribed. */
  pollIntervalMs: number;
  /** Milliseconds a message file is kept for slow readers. */
  retentionMs: number;
}

/**
 * Messages between the processes on one store directory, through append-only files in
 * `<root>/messages/`: one JSON line per message (`{"c":channel,"p":payload}`), appended with O_APPEND by
 * one write, to the file of the current 10-second window. A process with subscriptions reads what was
 * appended since its last read every `pollIntervalMs`, on an unref'd timer that runs only while something
 * is subscribed, and hands over only complete lines (a line being written is read next time). Files of
 * windows older than `retentionMs` are deleted by publishers, so the directory holds about that long's
 * traffic.
 */
export class FileMessageBus extends BaseMessageBus {
  readonly #dir: string;
  readonly #options: FileMessageBusOptions;
  /** Channels this process reads for. */
  readonly #polled = new Set<string>();
  /** Bytes of each message file already read (complete lines only). */
  #offsets = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  /** Reads and listen changes run one at a time. */
  #queue: Promise<void> = Promise.resolve();
  #dirReady: Promise<void> | undefined;
  /** Never write to an older window than before, even if the wall clock steps back. */
  #lastSegment = 0;
  #lastPrune = 0;

  constructor(root: string, options: FileMessageBusOptions) {
    super({ backend: 'File store' });
    this.#dir = join(root, 'messages');
    this.#options = options;
  }

  protected async sendMessage(channel: string, payload: string): Promise<void> {
    await this.#ensureDir();
    const now = Date.now();
    this.#lastSegment = Math.max(this.#lastSegment, Math.floor(now / SEGMENT_MS));
    const line = `${JSON.stringify({ c: channel, p: payload })}\n`;
    // One write with O_APPEND: lines of concurrent writers never interleave on a local file system.
    await appendFile(this.#segmentPath(this.#lastSegment), line);
    if (now - this.#lastPrune >= PRUNE_INTERVAL_MS) {
      this.#lastPrune = now;
      await this.#prune(now);
    }
  }

  protected startListening(channel: string): Promise<void> {
    return this.#exclusively(async () => {
      await this.#ensureDir();
      if (this.#polled.size === 0) {
        // Start at the end of every file: what is already there was published before this subscribe.
        this.#offsets = new Map();
        for (const [name, size] of await this.#sizes()) this.#offsets.set(name, size);
      } else {
        // What is there now belongs to the channels read so far; the new one starts after it.
        await this.#read();
      }
      this.#polled.add(channel);
      this.#schedule();
    });
  }

  protected stopListening(channel: string): Promise<void> {
    this.#polled.delete(channel);
    if (this.#polled.size === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    return Promise.resolve();
  }

  protected async releaseBus(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#polled.clear();
    await this.#queue;
  }

  #segmentPath(segment: number): string {
    return join(this.#dir, `${String(segment).padStart(16, '0')}.jsonl`);
  }

  #ensureDir(): Promise<void> {
    this.#dirReady ??= mkdir(this.#dir, { recursive: true })
      .then(() => undefined)
      .catch((error: unknown) => {
        this.#dirReady = undefined;
        throw error;
      });
    return this.#dirReady;
  }

  #exclusively(work: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #schedule(): void {
    if (this.#timer || this.closed || this.#polled.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#exclusively(async () => {
        if (this.closed || this.#polled.size === 0) return;
        // A failed read (a file pruned meanwhile) is retried from the same offsets next time.
        await this.#read().catch(() => undefined);
      }).finally(() => this.#schedule());
    }, this.#options.pollIntervalMs);
    // Subscriptions alone never keep the process alive; close() stops the timer.
    this.#timer.unref();
  }

  /** Sizes of the message files, ascending by window; stat'ed newest first (see `#read`). */
  async #sizes(): Promise<[name: string, size: number][]> {
    const names = (await readdir(this.#dir)).filter((name) => SEGMENT_FILE.test(name)).sort();
    const sizes: [string, number][] = [];
    for (const name of [...names].reverse()) {
      const size = await stat(join(this.#dir, name)).then(
        (s) => s.size,
        () => null,
      );
      if (size !== null) sizes.push([name, size]);
    }
    return sizes.reverse();
  }

  async #read(): Promise<void> {
    // Sizes are taken newest file first: a line a publisher appended to an older file before one it
    // appended to a newer file is then always inside the snapshot when the newer one is, so one
    // publisher's messages are never handed over out of order across a window boundary.
    const sizes = await this.#sizes();
    const offsets = new Map<string, number>();
    for (const [name, size] of sizes) {
      const from = this.#offsets.get(name) ?? 0;
      offsets.set(name, from);
      if (size <= from) continue;
      const consumed = await this.#readLines(name, from, size);
      offsets.set(name, from + consumed);
    }
    this.#offsets = offsets;
  }

  /** Hands over the complete lines in `[from, to)` of one file; returns the bytes they took. */
  async #readLines(name: string, from: number, to: number): Promise<number> {
    const handle = await open(join(this.#dir, name), 'r');
    let buffer: Buffer;
    try {
      buffer = Buffer.alloc(to - from);
      let filled = 0;
      while (filled < buffer.length) {
        const { bytesRead } = await handle.read(
          buffer,
          filled,
          buffer.length - filled,
          from + filled,
        );
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      buffer = buffer.subarray(0, filled);
    } finally {
      await handle.close();
    }
    const end = buffer.lastIndexOf(0x0a);
    if (end < 0) return 0;
    for (const line of buffer.subarray(0, end).toString('utf8').split('\n')) {
      const message = parseLine(line);
      if (message && this.#polled.has(message.c)) this.deliver(message.c, message.p);
    }
    return end + 1;
  }

  async #prune(now: number): Promise<void> {
    const oldest = Math.floor((now - this.#options.retentionMs) / SEGMENT_MS);
    for (const name of await readdir(this.#dir).catch(() => [] as string[])) {
      const match = SEGMENT_FILE.exec(name);
      if (match && Number(match[1]) < oldest) {
        await unlink(join(this.#dir, name)).catch(() => undefined);
      }
    }
  }
}

/** A message line, or null for one that is not (a torn write, or the middle of a line read mid-way). */
function parseLine(line: string): { c: string; p: string } | null {
  try {
    const value = JSON.parse(line) as { c?: unknown; p?: unknown };
    return typeof value.c === 'string' && typeof value.p === 'string'
      ? { c: value.c, p: value.p }
      : null;
  } catch {
    return null;
  }
}
