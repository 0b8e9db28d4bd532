import { parseArgs } from 'node:util';
import { SESSION_STATES, type SessionState } from '@mcp-session/core';
import { parseDuration } from './output/times.js';

/** How one option is spelled, as `node:util` `parseArgs` takes it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}

/** Options by long name. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/**
 * The command line is wrong (unknown option, missing argument, bad value): exit code 2, with a pointer to
 * the command's `--help`.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Options every command understands. */
export const GLOBAL_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
} as const satisfies OptionSpecs;

/** The store option of the commands that work on one store. */
export const STORE_OPTION = {
  store: { type: 'string', short: 's' },
} as const satisfies OptionSpecs;

/** Parsed command-line arguments with typed, validated accessors that throw `UsageError`. */
export class Args {
  readonly positionals: readonly string[];
  readonly #values: Record<string, string | boolean | (string | boolean)[] | undefined>;

  constructor(argv: readonly string[], options: OptionSpecs) {
    try {
      const parsed = parseArgs({
        args: [...argv],
        options: { ...options },
        allowPositionals: true,
        strict: true,
      });
      this.positionals = parsed.positionals;
      this.#values = parsed.values;
    } catch (error) {
      throw new UsageError(describeParseError(error));
    }
  }

  /** A boolean flag: true when given. */
  flag(name: string): boolean {
    return this.#values[name] === true;
  }

  /** A string option, or undefined when absent. */
  string(name: string): string | undefined {
    const value = this.#values[name];
    return typeof value === 'string' ? value : undefined;
  }

  /** A repeatable string option, in the order given. */
  strings(name: string): string[] {
    const value = this.#values[name];
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  }

  /** An integer option within `[min, max]`, or `fallback` when absent. */
  integer(name: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
    const text = this.string(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `${min} to ${max}`;
      throw new UsageError(`--${name} must be a whole number, ${range}; got "${text}"`);
    }
    return value;
  }

  /** A duration option (`90s`, `30m`, `1h`, `2d`, `500ms`) in milliseconds, or `fallback`. */
  duration(name: string, fallback: number): number {
    const text = this.string(name);
    if (text === undefined) return fallback;
    const ms = parseDuration(text);
    if (ms === null || ms < 1) {
      throw new UsageError(
        `--${name} must be a positive duration such as 90s, 30m, 1h or 2d; got "${text}"`,
      );
    }
    return ms;
  }

  /** The `--state` option, checked against the session states. */
  state(): SessionState | undefined {
    const text = this.string('state');
    if (text === undefined) return undefined;
    if (!(SESSION_STATES as readonly string[]).includes(text)) {
      throw new UsageError(`--state must be one of ${SESSION_STATES.join(', ')}; got "${text}"`);
    }
    return text as SessionState;
  }

  /** Exactly the positionals a command takes, by name, for messages. */
  expectPositionals(names: readonly string[], optional: readonly string[] = []): string[] {
    const max = names.length + optional.length;
    if (this.positionals.length < names.length) {
      throw new UsageError(
        `missing ${names
          .slice(this.positionals.length)
          .map((n) => `<${n}>`)
          .join(' ')}`,
      );
    }
    if (this.positionals.length > max) {
      throw new UsageError(`unexpected argument "${this.positionals[max]}"`);
    }
    return [...this.positionals];
  }
}

function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown })?.code;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'([^']+)'/.exec(message)?.[1];
    if (option) return `unknown option "${option}"`;
  }
  // parseArgs explains how to pass a value that starts with "-"; the first sentence is the point.
  return message.split('. ')[0] ?? message;
}
