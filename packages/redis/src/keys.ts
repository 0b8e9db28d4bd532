import { InvalidValueError } from '@mcp-session/core/adapter';

/** Key prefix used when none is given. */
export const DEFAULT_PREFIX = 'mcp-session';

/**
 * What a key prefix may be: 1 to 128 visible ASCII characters without `{` or `}`. Braces are refused
 * because Redis Cluster hashes only the text between the first `{` and the next `}`: a brace in the
 * prefix would pull every key into one slot and defeat the per-session hash tags.
 */
export const PREFIX_PATTERN = /^[\x21-\x7a\x7c\x7e]{1,128}$/;
/** `PREFIX_PATTERN` in words, for messages. */
export const PREFIX_RULE = '1 to 128 visible ASCII characters without "{" or "}"';

/** Checks a key prefix given as an option (`PREFIX_PATTERN`). */
export function assertValidPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix)) {
    throw new InvalidValueError(`prefix must be ${PREFIX_RULE}, got ${JSON.stringify(prefix)}`);
  }
}

/** Names of the index keys, in the order the Lua scripts take them. */
const INDEX_NAMES = ['all', 'own', 'exp', 'born', 'meta', 'sum'] as const;

/**
 * Where a store keeps what. Every key of one session carries the hash tag `{base64url(id)}`, so all of
 * them live in one Cluster slot and one script can touch them all; encoding the id keeps braces and
 * glob characters of arbitrary ids out of key names, and base64url is injective, so distinct ids never
 * share keys. The index keys share the tag `{<prefix>}`, so every index script touches one slot too.
 */
export class KeyLayout {
  /** The six index keys: all, own, exp, born, meta, sum. */
  readonly index: readonly string[];

  constructor(readonly prefix: string) {
    assertValidPrefix(prefix);
    this.index = INDEX_NAMES.map((name) => `${prefix}:i:{${prefix}}:${name}`);
  }

  /** The record hash and the logs hash of one session. */
  session(id: string): [record: string, logs: string] {
    const record = `${this.prefix}:s:{${Buffer.from(id, 'utf8').toString('base64url')}}`;
    return [record, `${record}:logs`];
  }

  /** SCAN patterns that match every key of this prefix and nothing of any other prefix. */
  scanPatterns(): string[] {
    const escaped = this.prefix.replace(/[*?[\]\\]/g, '\\$&');
    return [`${escaped}:s:{*`, `${escaped}:i:{${escaped}}:*`];
  }
}
