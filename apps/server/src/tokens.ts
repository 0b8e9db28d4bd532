import { readFileSync } from 'node:fs';
import { ConfigError } from './config-error.js';

/**
 * Bearer token → owner, from `MCP_TOKENS_FILE` (`{"tokens": {"<token>": "<owner>"}}`) and `MCP_TOKENS`
 * (`token=owner,token=owner`). Every message names the variable, the file and where in it (line and
 * column, or the entry's number) — never a token, nor any other part of the file's content, which is all
 * secrets.
 * @throws ConfigError for an unreadable or malformed file, a malformed entry, or a token given twice (one
 *   token for two owners would make whoever holds it either of them).
 */
export function readTokens(env: NodeJS.ProcessEnv): Map<string, string> {
  const tokens = new Map<string, { owner: string; where: string }>();
  const add = (token: string, owner: unknown, variable: string, where: string) => {
    if (!/^[\x21-\x7e]{16,}$/.test(token)) {
      throw new ConfigError(
        variable,
        `${variable}: the token at ${where} must be at least 16 visible ASCII characters`,
      );
    }
    if (typeof owner !== 'string' || owner.trim() === '') {
      throw new ConfigError(variable, `${variable}: the token at ${where} needs a non-empty owner`);
    }
    const earlier = tokens.get(token);
    if (earlier) {
      throw new ConfigError(
        variable,
        `${variable}: the token at ${where} is the token at ${earlier.where} again; give each token once, with one owner`,
      );
    }
    tokens.set(token, { owner, where });
  };
  const file = env.MCP_TOKENS_FILE?.trim();
  if (file) {
    for (const entry of readTokensFile(file)) {
      add(entry.token, entry.owner, 'MCP_TOKENS_FILE', `${file} ${entry.where}`);
    }
  }
  let number = 0;
  for (const pair of (env.MCP_TOKENS ?? '').split(',')) {
    if (pair.trim() === '') continue;
    number++;
    const at = pair.indexOf('=');
    const owner = at === -1 ? '' : pair.slice(at + 1).trim();
    add(pair.slice(0, at === -1 ? undefined : at).trim(), owner, 'MCP_TOKENS', `entry ${number}`);
  }
  return new Map([...tokens].map(([token, { owner }]) => [token, owner]));
}

interface FileEntry {
  token: string;
  owner: unknown;
  /** `line 3 column 5`, where the entry's key starts. */
  where: string;
}

function readTokensFile(file: string): FileEntry[] {
  const fail = (problem: string) =>
    new ConfigError('MCP_TOKENS_FILE', `MCP_TOKENS_FILE: ${file} ${problem}`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    // A file system error names the path and the reason, never the content.
    throw new ConfigError(
      'MCP_TOKENS_FILE',
      `MCP_TOKENS_FILE: cannot read ${file}: ${(error as Error).message}`,
    );
  }
  const parser = new JsonParser(text.replace(/^\uFEFF/, ''));
  let root: unknown;
  try {
    root = parser.document();
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    if (error.earlier !== undefined) {
      throw fail(
        `gives one key twice, at ${parser.where(error.earlier)} and at ${parser.where(error.offset)}; give each token once, with one owner`,
      );
    }
    throw fail(`is not valid JSON: ${error.problem} at ${parser.where(error.offset)}`);
  }
  const shape = 'must hold {"tokens": {"<token>": "<owner>", …}}';
  if (!isObject(root)) throw fail(shape);
  const map = root.tokens;
  if (!isObject(map)) throw fail(shape);
  return Object.entries(map).map(([token, owner]) => ({
    token,
    owner,
    where: parser.where(parser.keyOffsets.get(map)?.get(token) ?? 0),
  }));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class JsonSyntaxError extends Error {
  constructor(
    readonly problem: string,
    readonly offset: number,
    /** For a key given twice: where it was first given. */
    readonly earlier?: number,
  ) {
    super(problem);
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings may not hold raw control characters.
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const LITERAL = /true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Strict JSON (RFC 8259), with what `JSON.parse` does not give: where each object key starts, and an error
 * for a key given twice (`JSON.parse` keeps the last silently). Its messages describe the problem and its
 * position, never the text, unlike `JSON.parse`'s, which quote the input.
 */
class JsonParser {
  /** Offset of each key of each object parsed. */
  readonly keyOffsets = new WeakMap<object, Map<string, number>>();
  #at = 0;

  constructor(readonly text: string) {}

  document(): unknown {
    const value = this.#value();
    this.#space();
    if (this.#at < this.text.length) throw this.#error('unexpected text after the JSON value');
    return value;
  }

  /** `line L column C` of an offset, both from 1. */
  where(offset: number): string {
    const before = this.text.slice(0, offset);
    const line = before.split('\n').length;
    return `line ${line} column ${offset - before.lastIndexOf('\n')}`;
  }

  #value(): unknown {
    this.#space();
    const char = this.text[this.#at];
    if (char === '{') return this.#object();
    if (char === '[') return this.#array();
    if (char === '"') return this.#string();
    LITERAL.lastIndex = this.#at;
    const literal = LITERAL.exec(this.text);
    if (!literal) {
      throw this.#error(
        char === undefined ? 'the text ends where a value was expected' : 'a value was expected',
      );
    }
    this.#at += literal[0].length;
    return JSON.parse(literal[0]);
  }

  #object(): Record<string, unknown> {
    const object: Record<string, unknown> = {};
    const offsets = new Map<string, number>();
    this.keyOffsets.set(object, offsets);
    this.#at++;
    this.#space();
    if (this.text[this.#at] === '}') {
      this.#at++;
      return object;
    }
    for (;;) {
      this.#space();
      const start = this.#at;
      if (this.text[this.#at] !== '"') throw this.#error('a quoted key was expected');
      const key = this.#string();
      const earlier = offsets.get(key);
      if (earlier !== undefined) {
        throw new JsonSyntaxError('a key given twice', start, earlier);
      }
      offsets.set(key, start);
      this.#space();
      if (this.text[this.#at] !== ':') throw this.#error('":" was expected after a key');
      this.#at++;
      Object.defineProperty(object, key, {
        value: this.#value(),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.#space();
      const next = this.text[this.#at++];
      if (next === '}') return object;
      if (next !== ',') throw this.#error('"," or "}" was expected', this.#at - 1);
    }
  }

  #array(): unknown[] {
    const array: unknown[] = [];
    this.#at++;
    this.#space();
    if (this.text[this.#at] === ']') {
      this.#at++;
      return array;
    }
    for (;;) {
      array.push(this.#value());
      this.#space();
      const next = this.text[this.#at++];
      if (next === ']') return array;
      if (next !== ',') throw this.#error('"," or "]" was expected', this.#at - 1);
    }
  }

  #string(): string {
    STRING.lastIndex = this.#at;
    const match = STRING.exec(this.text);
    if (!match) throw this.#error('a malformed or unterminated string');
    this.#at += match[0].length;
    return JSON.parse(match[0]) as string;
  }

  #space(): void {
    while (/[ \t\n\r]/.test(this.text[this.#at] ?? '')) this.#at++;
  }

  #error(problem: string, offset = this.#at): JsonSyntaxError {
    return new JsonSyntaxError(problem, offset);
  }
}
