import { formatCount, formatDuration } from './times.js';

/** Where progress goes: stderr, so stdout stays clean for `--json` and exports. */
export interface ProgressStream {
  write(text: string): unknown;
  /** A terminal gets one redrawn line; anything else gets a plain line now and then. */
  isTTY?: boolean;
  /** Terminal width in characters, when known. */
  columns?: number;
}

/** Options of `Progress`. */
export interface ProgressOptions {
  /** Items expected, or null when unknown (then no bar and no ETA). */
  total: number | null;
  /** False turns every call into a no-op (`--quiet`). */
  enabled: boolean;
  /** Milliseconds clock; injectable for tests. */
  now?: () => number;
}

const BAR_WIDTH = 24;
/** A terminal line is redrawn at most this often, in milliseconds. */
const REDRAW_MS = 100;
/** Without a terminal, operations shorter than this (milliseconds) print only their final line… */
const PLAIN_QUIET_MS = 1000;
/** …longer ones a line at least this often, in milliseconds… */
const PLAIN_EVERY_MS = 5000;
/** …and at every tenth of the total. */
const PLAIN_STEPS = 10;
/** Plain-line step when the total is unknown, in items. */
const PLAIN_EVERY_ITEMS = 1000;

/**
 * A progress report for a long operation: on a terminal a single redrawn line with a bar, the count, the
 * rate per second and the ETA; otherwise (a log, a pipe) a plain line at every tenth of the work and at
 * least every five seconds, except in the first second, so quick operations print only their final line.
 */
export class Progress {
  readonly #stream: ProgressStream;
  readonly #label: string;
  readonly #options: ProgressOptions;
  readonly #now: () => number;
  readonly #startedAt: number;
  #count = 0;
  #lastDrawAt: number;
  #nextPlainCount: number;
  #drawn = false;
  #finished = false;

  constructor(stream: ProgressStream, label: string, options: ProgressOptions) {
    this.#stream = stream;
    this.#label = label;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#lastDrawAt = this.#stream.isTTY ? Number.NEGATIVE_INFINITY : this.#startedAt;
    this.#nextPlainCount = this.#plainStep();
  }

  /** Items done so far. */
  get count(): number {
    return this.#count;
  }

  /** Records `n` more items done and redraws or prints when it is time to. */
  add(n = 1): void {
    this.#count += n;
    if (!this.#options.enabled || this.#finished) return;
    const now = this.#now();
    if (this.#stream.isTTY) {
      if (now - this.#lastDrawAt >= REDRAW_MS) this.#redraw(now);
      return;
    }
    const { total } = this.#options;
    if (now - this.#startedAt < PLAIN_QUIET_MS || (total !== null && this.#count >= total)) return;
    if (this.#count >= this.#nextPlainCount || now - this.#lastDrawAt >= PLAIN_EVERY_MS) {
      while (this.#nextPlainCount <= this.#count) this.#nextPlainCount += this.#plainStep();
      this.#lastDrawAt = now;
      this.#stream.write(`${this.#line(now, false)}\n`);
    }
  }

  /** Ends the report: the final line states the count, the time taken and the average rate. */
  finish(): void {
    if (!this.#options.enabled || this.#finished) return;
    this.#finished = true;
    const now = this.#now();
    const elapsed = now - this.#startedAt;
    const line = `${this.#label}: ${formatCount(this.#count)} done in ${formatDuration(elapsed)} (${formatRate(this.#count, elapsed)})`;
    this.#stream.write(this.#stream.isTTY ? `\r\x1b[2K${line}\n` : `${line}\n`);
  }

  /** Removes a half-drawn terminal line (before printing an error, say). */
  clear(): void {
    if (this.#stream.isTTY && this.#drawn && !this.#finished) this.#stream.write('\r\x1b[2K');
    this.#drawn = false;
  }

  #redraw(now: number): void {
    this.#lastDrawAt = now;
    this.#drawn = true;
    const line = this.#line(now, true);
    const width = this.#stream.columns;
    this.#stream.write(
      `\r\x1b[2K${width && line.length >= width ? line.slice(0, width - 1) : line}`,
    );
  }

  #line(now: number, bar: boolean): string {
    const { total } = this.#options;
    const elapsed = now - this.#startedAt;
    const parts = [`${this.#label}:`];
    if (total !== null && total > 0) {
      const fraction = Math.min(1, this.#count / total);
      if (bar) {
        const filled = Math.round(fraction * BAR_WIDTH);
        parts.push(`[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`);
      }
      parts.push(
        `${formatCount(this.#count)}/${formatCount(total)}`,
        `${Math.floor(fraction * 100)}%`,
      );
    } else {
      parts.push(formatCount(this.#count));
    }
    parts.push(formatRate(this.#count, elapsed));
    if (total !== null && this.#count > 0 && this.#count < total) {
      const remainingMs = ((total - this.#count) * elapsed) / this.#count;
      parts.push(`ETA ${formatDuration(remainingMs)}`);
    }
    return parts.join(' ');
  }

  #plainStep(): number {
    const { total } = this.#options;
    return total !== null && total > 0
      ? Math.max(1, Math.ceil(total / PLAIN_STEPS))
      : PLAIN_EVERY_ITEMS;
  }
}

function formatRate(count: number, elapsedMs: number): string {
  if (elapsedMs <= 0) return '-/s';
  return `${formatCount(Math.round((count * 1000) / elapsedMs))}/s`;
}
