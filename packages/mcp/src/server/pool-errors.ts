/**
 * The session pool's refusals: typed errors with a stable `code`, recognised by that code (a second copy
 * of this package makes errors `instanceof` does not see). `error-responses.ts` turns them into 503 and
 * 429 answers; the handler counts them.
 */

/**
 * No room in the live-session pool: every held session is busy (a request in progress or a stream open),
 * so none can be evicted for another. Nothing was held or written; the client should retry. Also what
 * `onerror` hears, at most once a minute, with the number of requests refused since the last report.
 */
export class PoolSaturatedError extends Error {
  /** Stable machine-readable code. */
  readonly code = 'POOL_SATURATED' as const;

  constructor(
    /** The pool's size (`maxLiveSessions`). */
    readonly maxLiveSessions: number,
    /** Requests refused since the last report to `onerror` (1 for the error a request was refused with). */
    readonly refused = 1,
  ) {
    super(
      `Server busy: all ${maxLiveSessions} live sessions (maxLiveSessions) are serving requests or holding ` +
        `open streams; ${refused} request(s) answered 503 since the last report. Raise maxLiveSessions or ` +
        'run more instances.',
    );
    this.name = 'PoolSaturatedError';
  }
}

/** What an owner has too many of in this process. */
export type OwnerLimit = 'liveSessions' | 'openStreams';

/**
 * An owner is at its limit in this process: `maxLiveSessionsPerOwner` held sessions with none of them idle
 * (its idle ones are evicted first), or `maxOpenStreamsPerOwner` open streams. Nothing was held or
 * written. Other owners are not affected.
 */
export class OwnerLimitError extends Error {
  /** Stable machine-readable code. */
  readonly code = 'OWNER_LIMIT' as const;

  constructor(
    /** Which limit: held sessions or open streams. */
    readonly what: OwnerLimit,
    /** The limit (`maxLiveSessionsPerOwner` or `maxOpenStreamsPerOwner`). */
    readonly limit: number,
  ) {
    super(
      what === 'liveSessions'
        ? `Too many busy sessions: this owner already has ${limit} live sessions serving requests or ` +
            'holding streams (maxLiveSessionsPerOwner). Close streams or sessions it no longer uses, or retry shortly.'
        : `Too many open streams: this owner already has ${limit} open streams (maxOpenStreamsPerOwner). ` +
            'Close streams it no longer reads, or retry shortly.',
    );
    this.name = 'OwnerLimitError';
  }
}

/** Whether `error` is a `PoolSaturatedError`, from any copy of this package. */
export function isPoolSaturatedError(error: unknown): error is PoolSaturatedError {
  return hasCode(error, 'POOL_SATURATED');
}

/** Whether `error` is an `OwnerLimitError`, from any copy of this package. */
export function isOwnerLimitError(error: unknown): error is OwnerLimitError {
  return hasCode(error, 'OWNER_LIMIT');
}

function hasCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === code;
}
