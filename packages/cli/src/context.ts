import { once } from 'node:events';
import { redactUrl, type SessionStore, type StoreOpenOptions } from '@mcp-session/core';
import { type Args, type OptionSpecs, UsageError } from './args.js';
import { Progress, type ProgressStream } from './output/progress.js';
import { openStore } from './stores.js';

/** A stream the CLI writes to. */
export type OutputStream = NodeJS.WritableStream & Omit<ProgressStream, 'write'>;

/** Where the CLI reads and writes; `runCli` defaults every field to the current process's. */
export interface CliIo {
  /** Results: tables, JSON, exports. */
  stdout: OutputStream;
  /** Progress, notes and errors. */
  stderr: OutputStream;
  /** Input of `import` when no file is named. */
  stdin: NodeJS.ReadableStream;
  /** Environment (`SESSION_STORE_URL`). */
  env: Readonly<Record<string, string | undefined>>;
  /** Aborting it stops a long operation between two sessions (what the first Ctrl-C does). */
  signal?: AbortSignal;
}

/** Exit codes. */
export const EXIT_OK = 0;
/** The operation failed (store unreachable, session not found, verification found differences…). */
export const EXIT_FAILURE = 1;
/** The command line is wrong. */
export const EXIT_USAGE = 2;

/** How often long operations let the event loop run (signals, timers, output), in milliseconds. */
const YIELD_EVERY_MS = 50;

/** A long operation was stopped by a signal; what was done so far is kept. */
export class InterruptedError extends Error {
  constructor(what: string) {
    super(`interrupted: ${what}`);
    this.name = 'InterruptedError';
  }
}

/** A command of the CLI. */
export interface Command {
  readonly name: string;
  /** One line for `mcp-session --help`. */
  readonly summary: string;
  /** The body of `mcp-session <name> --help`: usage, description, options, examples. */
  readonly help: string;
  /** Options besides the global ones. */
  readonly options: OptionSpecs;
  /** Whether `--store` / `SESSION_STORE_URL` applies. */
  readonly usesStore: boolean;
  run(context: Context): Promise<number>;
}

/** What a running command works with: its arguments, output helpers and the stores it opened. */
export class Context {
  readonly io: CliIo;
  readonly args: Args;
  readonly command: Command;
  readonly #stores: SessionStore[] = [];
  readonly #progress: Progress[] = [];
  #outputError: Error | null = null;
  #lastYieldAt = Date.now();
  // A closed pipe (`| head`) makes stdout emit 'error'; kept here, it fails the next write instead of
  // crashing the process.
  readonly #onOutputError = (error: Error) => {
    this.#outputError = error;
  };

  constructor(io: CliIo, args: Args, command: Command) {
    this.io = io;
    this.args = args;
    this.command = command;
    io.stdout.on('error', this.#onOutputError);
  }

  /** `--json` was given: results go to stdout as JSON. */
  get json(): boolean {
    return this.args.flag('json');
  }

  /** The wall clock, epoch milliseconds: the CLI works on live stores. */
  now(): number {
    return Date.now();
  }

  /** Writes a line of results to stdout, waiting when the reader is slower than us. */
  async print(text: string): Promise<void> {
    await this.write(`${text}\n`);
  }

  /** Writes a value as JSON to stdout. */
  async printJson(value: unknown): Promise<void> {
    await this.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Writes raw text to stdout with backpressure. */
  async write(text: string): Promise<void> {
    if (this.#outputError) throw this.#outputError;
    if (!this.io.stdout.write(text)) await once(this.io.stdout, 'drain');
  }

  /** A line for the operator on stderr (never mixed into results). */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  /** A progress report on stderr, silent with `--quiet`. */
  progress(label: string, total: number | null): Progress {
    const progress = new Progress(this.io.stderr, label, {
      total,
      enabled: !this.args.flag('quiet'),
    });
    this.#progress.push(progress);
    return progress;
  }

  /** Removes a half-drawn progress line, so an error message starts on a clean line. */
  clearProgress(): void {
    for (const progress of this.#progress) progress.clear();
  }

  /** The URL of `--store`, else `SESSION_STORE_URL`. */
  storeUrl(): string {
    const url = this.args.string('store') ?? this.io.env.SESSION_STORE_URL;
    if (url === undefined || url.trim() === '') {
      throw new UsageError(
        'no store given: pass --store <url> (e.g. --store sqlite:./data/sessions.db) or set SESSION_STORE_URL',
      );
    }
    return url;
  }

  /**
   * Opens a store; it is closed when the command ends, however it ends. Commands that read or tidy a
   * store pass `mustExist`, so a misspelt path, directory or schema fails instead of becoming a new store.
   */
  async open(url: string, options: StoreOpenOptions = {}): Promise<SessionStore> {
    const store = await openStore(url, options);
    this.#stores.push(store);
    return store;
  }

  /**
   * Called between units of work: throws `InterruptedError` once the signal fired. Every 50 ms it also
   * yields to the event loop, because a synchronous backend (SQLite) resolves every call at once and a
   * signal handler would otherwise not run before the whole operation ends.
   */
  async checkpoint(what: string | (() => string)): Promise<void> {
    const now = Date.now();
    if (now - this.#lastYieldAt >= YIELD_EVERY_MS) {
      this.#lastYieldAt = now;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (this.io.signal?.aborted)
      throw new InterruptedError(typeof what === 'string' ? what : what());
  }

  /** Closes every store this command opened and lets go of stdout. */
  async dispose(): Promise<void> {
    this.io.stdout.off('error', this.#onOutputError);
    const stores = this.#stores.splice(0);
    await Promise.allSettled(stores.map((store) => store.close()));
  }
}

/** A store URL as it may be printed: without its password. */
export function displayUrl(url: string): string {
  return redactUrl(url.trim());
}
