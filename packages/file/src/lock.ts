import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { StoreClosedError, StoreUnavailableError } from '@mcp-session/core/adapter';
import { hasCode } from './atomic.js';
import { digest } from './layout.js';

/** What a lock file holds: who took it and when. */
interface LockHolder {
  pid: number;
  hostname: string;
  /** Unique per acquisition, so a lock file can be told apart from any later one at the same path. */
  token: string;
  /** Wall-clock time of the acquisition, epoch milliseconds. */
  acquiredAt: number;
}

/** Outcome of one try: the lock (`release`), or who holds it and whether to try again at once. */
interface Attempt {
  release?: () => Promise<void>;
  seen?: SeenLock;
  retryNow?: boolean;
}

/** A lock file as read: its raw text (parsed when well-formed) and a token that identifies it. */
interface SeenLock {
  raw: string;
  holder: LockHolder | null;
  token: string;
}

/** Settings of `FileLocks`. */
export interface FileLockOptions {
  /** Give up waiting after this many milliseconds. */
  timeoutMs: number;
  /** A lock older than this many milliseconds is broken even if its holder seems alive. */
  staleMs: number;
  /** A fresh temp path on the same file system as the locks. */
  tmpPath(): string;
  /** Whether the store was closed, so waiters stop waiting. */
  isClosed(): boolean;
  /** Reports a broken stale lock or a lock lost while held. */
  warn(code: 'STALE_LOCK_BROKEN' | 'LOCK_LOST', message: string, path: string): void;
}

const MAX_BACKOFF_MS = 8;

/** A `.want` file not refreshed for this long belongs to a waiter that gave up or died. */
const WANT_FRESH_MS = 250;

/**
 * Lock files shared by every process on this machine. A lock is taken by hard-linking a temp file that
 * already holds `{pid, hostname, token, acquiredAt}` to the lock path: `link` fails if the path exists, so
 * exactly one taker wins, and a lock file is never seen half-written. It is released by unlinking it.
 *
 * A lock whose holder process is gone (same host, `kill(pid, 0)` says ESRCH), that is unreadable, or
 * that is older than `staleMs` is stale. Breaking it must not race with other breakers (one of them
 * could delete the fresh lock another just took), so a breaker first creates `<lock>.break-<token>`
 * exclusively; only the process that creates it may delete the lock, and only while the lock still
 * carries that token. Tokens are never reused, so a lock that was already replaced is left alone.
 */
export class FileLocks {
  readonly #options: FileLockOptions;
  readonly #hostname = hostname();

  constructor(options: FileLockOptions) {
    this.#options = options;
  }

  /**
   * Takes the lock at `path`, waiting with capped exponential backoff.
   *
   * A process that finishes one operation takes the lock again for its next one within microseconds,
   * so a waiter in another process that polls would rarely get a turn. A waiter that found the lock
   * taken therefore writes `<lock>.want` (its token), and every other taker yields while a fresh foreign
   * `.want` exists. Only a taker that was refused writes it, so two waiters never yield to each other.
   * @returns a function that releases it.
   * @throws StoreUnavailableError when it is still held by a live process after `timeoutMs`.
   */
  async acquire(path: string): Promise<() => Promise<void>> {
    const deadline = Date.now() + this.#options.timeoutMs;
    const want = `${path}.want`;
    const myTurn = randomBytes(8).toString('hex');
    let wanted = false;
    let backoff = 1;
    try {
      for (;;) {
        const yielding = await isOthersTurn(want, myTurn);
        const attempt: Attempt = yielding ? {} : await this.#attempt(path);
        if (attempt.release) return attempt.release;
        if (this.#options.isClosed()) throw new StoreClosedError();
        if (Date.now() >= deadline) {
          const holder = attempt.seen?.holder;
          throw new StoreUnavailableError(
            `Could not lock the session within ${this.#options.timeoutMs} ms: ${path} is held by ${
              holder
                ? `pid ${holder.pid} on ${holder.hostname} since ${new Date(holder.acquiredAt).toISOString()}`
                : 'another process'
            }. If that process is hung, stop it; a lock older than staleLockMs is broken automatically.`,
          );
        }
        if (attempt.seen && !attempt.retryNow) {
          await writeFile(want, myTurn);
          wanted = true;
        }
        if (wanted) {
          // Holding the turn: the lock is ours within a millisecond of its release.
          await sleep(1);
        } else if (!attempt.retryNow) {
          await sleep(backoff / 2 + Math.random() * backoff);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        }
      }
    } finally {
      if (wanted && (await readFile(want, 'utf8').catch(() => null)) === myTurn) {
        await unlink(want).catch(() => undefined);
      }
    }
  }

  /** Takes the lock if it is free (or stale) right now; resolves to null when someone holds it. */
  async tryAcquire(path: string): Promise<(() => Promise<void>) | null> {
    for (let i = 0; i < 3; i++) {
      const attempt = await this.#attempt(path);
      if (attempt.release) return attempt.release;
      if (!attempt.retryNow) return null;
    }
    return null;
  }

  async #attempt(path: string): Promise<Attempt> {
    const holder = this.#newHolder();
    if (await this.#createWithContent(path, holder)) {
      return { release: () => this.#release(path, holder.token) };
    }
    const seen = await readLock(path);
    if (seen === null) return { retryNow: true };
    if (this.#isStale(seen)) return { retryNow: await this.#breakStale(path, seen), seen };
    return { seen };
  }

  #isStale(seen: SeenLock): boolean {
    const holder = seen.holder;
    // A lock file is complete before it appears (link), so an unreadable one was damaged or hand-made.
    if (holder === null) return true;
    if (holder.hostname === this.#hostname && !isAlive(holder.pid)) return true;
    return Date.now() - holder.acquiredAt > this.#options.staleMs;
  }

  /** Breaks a stale lock; resolves to false when another process is breaking it (back off then). */
  async #breakStale(path: string, seen: SeenLock): Promise<boolean> {
    const breaker = `${path}.break-${seen.token}`;
    if (!(await this.#createWithContent(breaker, this.#newHolder()))) {
      // Someone else is breaking this lock. If that breaker died mid-way, clear its marker so the
      // lock does not stay stuck; a breaker holds its marker for microseconds, so this is rare.
      const other = await readLock(breaker);
      if (other === null) return true;
      if (this.#isStale(other)) {
        await unlink(breaker).catch(() => undefined);
        return true;
      }
      return false;
    }
    try {
      const now = await readLock(path);
      if (now !== null && now.token === seen.token) {
        await unlink(path);
        const who = seen.holder
          ? `pid ${seen.holder.pid} on ${seen.holder.hostname}, taken ${new Date(seen.holder.acquiredAt).toISOString()}`
          : 'unreadable content';
        this.#options.warn('STALE_LOCK_BROKEN', `Broke a stale session lock (${who})`, path);
      }
      return true;
    } finally {
      await unlink(breaker).catch(() => undefined);
    }
  }

  /**
   * Creates `path` holding `holder`, atomically and exclusively: the content is written to a temp file
   * first and hard-linked into place. Resolves to false when `path` already exists.
   */
  async #createWithContent(path: string, holder: LockHolder): Promise<boolean> {
    const tmp = this.#options.tmpPath();
    await writeFile(tmp, JSON.stringify(holder), { flag: 'wx' });
    try {
      await link(tmp, path).catch(async (error: unknown) => {
        if (!hasCode(error, 'ENOENT')) throw error;
        // The shard directory is created on first use.
        await mkdir(dirname(path), { recursive: true });
        await link(tmp, path);
      });
      return true;
    } catch (error) {
      if (hasCode(error, 'EEXIST')) return false;
      throw error;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  #newHolder(): LockHolder {
    return {
      pid: process.pid,
      hostname: this.#hostname,
      token: randomBytes(16).toString('hex'),
      acquiredAt: Date.now(),
    };
  }

  async #release(path: string, token: string): Promise<void> {
    const seen = await readLock(path);
    if (seen?.token === token) {
      await unlink(path);
      return;
    }
    this.#options.warn(
      'LOCK_LOST',
      'A session lock was broken by another process while this one held it (it was held longer than ' +
        'staleLockMs); raise staleLockMs if the disk is that slow.',
      path,
    );
  }
}

/** Whether another waiter has priority: its `.want` exists, is not ours, and was refreshed lately. */
async function isOthersTurn(want: string, myTurn: string): Promise<boolean> {
  const turn = await readFile(want, 'utf8').catch(() => null);
  if (turn === null || turn === myTurn) return false;
  const info = await stat(want).catch(() => null);
  return info !== null && Date.now() - info.mtimeMs < WANT_FRESH_MS;
}

async function readLock(path: string): Promise<SeenLock | null> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return null;
    throw error;
  }
  let holder: LockHolder | null = null;
  try {
    const parsed = JSON.parse(raw) as Partial<LockHolder>;
    if (
      Number.isSafeInteger(parsed.pid) &&
      typeof parsed.hostname === 'string' &&
      typeof parsed.token === 'string' &&
      /^[0-9a-f]{1,64}$/.test(parsed.token) &&
      typeof parsed.acquiredAt === 'number'
    ) {
      holder = parsed as LockHolder;
    }
  } catch {
    holder = null;
  }
  return { raw, holder, token: holder?.token ?? digest(raw) };
}

/** Whether a process with this pid exists on this machine. EPERM means it exists but is not ours. */
function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !hasCode(error, 'ESRCH');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Serializes async work per key inside one process, so concurrent operations on one session queue up
 * in memory instead of spinning on their own lock file.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `work` once every earlier task for `key` has settled. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key);
    let done!: () => void;
    const current = new Promise<void>((resolve) => {
      done = resolve;
    });
    const tail = previous ? previous.then(() => current) : current;
    this.#tails.set(key, tail);
    try {
      if (previous) await previous;
      return await work();
    } finally {
      done();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Whether any task for `key` is running or queued. */
  busy(key: string): boolean {
    return this.#tails.has(key);
  }
}
