import {
  assertValidId,
  hashSessionId,
  type SessionRecord,
  type SessionStore,
} from '@mcp-session/core';
import { UsageError } from './args.js';

/** How a session given on the command line was found. */
export type MatchedBy = 'digest' | 'as-given';

/** A session found by `findSession`. */
export interface FoundSession {
  record: SessionRecord;
  /** What the store keys it by. */
  storageId: string;
  /** `digest`: the input was a session id and the store holds its SHA-256 digest (the default). */
  matchedBy: MatchedBy;
  /** Past its expiry but not swept yet (only with `includeExpired`). */
  expired: boolean;
}

/**
 * Finds a session by what an operator pasted: a session id (which the manager stores as its SHA-256
 * digest by default) or a storage id as `list` prints it. The digest is tried first, then the input as
 * given; `hash: false` (`--no-hash`) tries only the input as given. Owner binding does not apply: the
 * operator sees every session. Expired sessions are found only with `includeExpired`, after live ones:
 * at `now: 0` nothing counts as expired, so a record not swept yet is still there to read.
 */
export async function findSession(
  store: SessionStore,
  input: string,
  options: { now: number; hash: boolean; includeExpired?: boolean },
): Promise<FoundSession | null> {
  try {
    assertValidId(input);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const times = options.includeExpired ? [options.now, 0] : [options.now];
  for (const now of times) {
    for (const candidate of candidates(input, options.hash)) {
      const record = await store.get(candidate.storageId, { now });
      if (record) return { record, ...candidate, expired: now !== options.now };
    }
  }
  return null;
}

/** Says which ids were tried, for a "not found" message. */
export function describeAttempts(input: string, hash: boolean): string {
  return candidates(input, hash)
    .map((c) =>
      c.matchedBy === 'digest' ? `its SHA-256 digest ${c.storageId}` : 'the id as given',
    )
    .join(' and ');
}

function candidates(input: string, hash: boolean): { storageId: string; matchedBy: MatchedBy }[] {
  const asGiven = { storageId: input, matchedBy: 'as-given' as const };
  return hash
    ? [{ storageId: hashSessionId(input), matchedBy: 'digest' as const }, asGiven]
    : [asGiven];
}
