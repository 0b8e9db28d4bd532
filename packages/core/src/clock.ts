/** Source of "now" for every time decision. One clock per manager, passed down to the store. */
export interface Clock {
  /** Current time, epoch milliseconds. */
  now(): number;
}

/** The wall clock (`Date.now()`). */
export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/**
 * A clock that only moves when told to, for tests: TTL behaviour without sleeping. Start it at the real
 * current time (the default) when a backend with native expiry (Redis `PEXPIREAT`) is involved, so the
 * backend never sees expiry times in its own past.
 */
export class ManualClock implements Clock {
  #now: number;

  constructor(start: number = Date.now()) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Moves the clock forward by `ms` milliseconds and returns the new time. */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError('ManualClock only moves forward');
    this.#now += ms;
    return this.#now;
  }
}
