import { isSessionError, StoreClosedError } from './errors.js';
import type {
  AppendOptions,
  AppendResult,
  CountOptions,
  CreateOptions,
  ListOptions,
  ListPage,
  ReadOptions,
  ReplaceEntriesOptions,
  ReplaceEntriesResult,
  ReplacementEntry,
  SessionChange,
  SessionStore,
  SweepOptions,
  UpdateOptions,
} from './store.js';
import {
  checkAppendArgs,
  checkCountArgs,
  checkCreateArgs,
  checkDeleteArgs,
  checkGetArgs,
  checkListArgs,
  checkReadArgs,
  checkReplaceEntriesArgs,
  checkStatsArgs,
  checkSweepArgs,
  checkUpdateArgs,
} from './store-args.js';
import { toStoreError } from './store-kit.js';
import type { JsonValue, LogEntry, SessionRecord, StoreCapabilities, StoreStats } from './types.js';

/** Records `sweep` deletes per call when the caller gives no limit. */
export const DEFAULT_SWEEP_LIMIT = 1_000;

/**
 * The base of a store adapter: it does, once for every primitive, what each adapter would otherwise
 * repeat — in this order:
 *
 * 1. after `close()`, fail with `StoreClosedError`;
 * 2. check the arguments (the rules are listed in `store-args.ts`; a refused call throws
 *    `InvalidIdError` / `InvalidValueError` before any I/O);
 * 3. call the adapter's method, named after what it does with the backend (`createRecord` for `create`,
 *    `appendEntries` for `append`, …), with arguments it can trust;
 * 4. pass this project's errors through, turn anything else into `StoreUnavailableError` naming the
 *    backend and the primitive — or `StoreClosedError` when the store was closed meanwhile — one
 *    event-loop turn later, so a caller retrying in a tight loop cannot starve the driver's reconnect.
 *
 * An adapter extends it, sets `backend` (shown in error messages) and `capabilities`, and implements the
 * protected methods. Those keep the contract's atomicity rules (see `SessionStore`); `checkGuards`,
 * `applyChange` and the other helpers of `@mcp-session/core/adapter` state its semantics once. Throw this
 * project's errors for what the contract names (`SessionExistsError`, `checkGuards`' errors,
 * `PayloadTooLargeError`) and let driver failures through as they are: a project error is passed on at
 * once, unwrapped, so one thrown for a driver condition would skip both the wrapping and the wait.
 *
 * ```ts
 * class MyStore extends BaseSessionStore {
 *   readonly backend = 'MyDB';
 *   readonly capabilities = { durable: true, sharedAcrossProcesses: true, nativeExpiry: false };
 *   protected async getRecord(id, { now, owner }) { … }
 *   …
 * }
 * ```
 */
export abstract class BaseSessionStore implements SessionStore {
  abstract readonly capabilities: StoreCapabilities;
  /** The backend's name in error messages, e.g. `"Redis"`: "Redis append failed: …". */
  protected abstract readonly backend: string;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** Whether `close()` was called. Adapters whose work spans several steps check it between them. */
  protected get closed(): boolean {
    return this.#closed;
  }

  async create(record: SessionRecord, options: CreateOptions): Promise<void> {
    this.#assertOpen();
    checkCreateArgs(record, options);
    try {
      return await this.createRecord(record, options);
    } catch (error) {
      throw await this.#failure(error, 'create');
    }
  }

  async get(
    id: string,
    options: { now: number; owner?: string | null },
  ): Promise<SessionRecord | null> {
    this.#assertOpen();
    checkGetArgs(id, options);
    try {
      return await this.getRecord(id, options);
    } catch (error) {
      throw await this.#failure(error, 'get');
    }
  }

  async update(id: string, change: SessionChange, options: UpdateOptions): Promise<SessionRecord> {
    this.#assertOpen();
    checkUpdateArgs(id, change, options);
    try {
      return await this.updateRecord(id, change, options);
    } catch (error) {
      throw await this.#failure(error, 'update');
    }
  }

  async append(
    id: string,
    log: string,
    entries: readonly JsonValue[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    this.#assertOpen();
    checkAppendArgs(id, log, entries, options);
    try {
      return await this.appendEntries(id, log, entries, options);
    } catch (error) {
      throw await this.#failure(error, 'append');
    }
  }

  async replaceEntries(
    id: string,
    log: string,
    entries: readonly ReplacementEntry[],
    options: ReplaceEntriesOptions,
  ): Promise<ReplaceEntriesResult> {
    this.#assertOpen();
    checkReplaceEntriesArgs(id, log, entries, options);
    try {
      return await this.replaceLogEntries(id, log, entries, options);
    } catch (error) {
      throw await this.#failure(error, 'replaceEntries');
    }
  }

  async read(id: string, log: string, options: ReadOptions): Promise<LogEntry[]> {
    this.#assertOpen();
    checkReadArgs(id, log, options);
    try {
      return await this.readEntries(id, log, options);
    } catch (error) {
      throw await this.#failure(error, 'read');
    }
  }

  async delete(id: string): Promise<boolean> {
    this.#assertOpen();
    checkDeleteArgs(id);
    try {
      return await this.deleteRecord(id);
    } catch (error) {
      throw await this.#failure(error, 'delete');
    }
  }

  async list(options: ListOptions): Promise<ListPage> {
    this.#assertOpen();
    checkListArgs(options);
    try {
      return await this.listRecords(options);
    } catch (error) {
      throw await this.#failure(error, 'list');
    }
  }

  async count(options: CountOptions): Promise<number> {
    this.#assertOpen();
    checkCountArgs(options);
    try {
      return await this.countRecords(options);
    } catch (error) {
      throw await this.#failure(error, 'count');
    }
  }

  async sweep(now: number, options?: SweepOptions): Promise<number> {
    this.#assertOpen();
    checkSweepArgs(now, options);
    try {
      return await this.sweepExpired(now, options?.limit ?? DEFAULT_SWEEP_LIMIT);
    } catch (error) {
      throw await this.#failure(error, 'sweep');
    }
  }

  async stats(now: number): Promise<StoreStats> {
    this.#assertOpen();
    checkStatsArgs(now);
    try {
      return await this.computeStats(now);
    } catch (error) {
      throw await this.#failure(error, 'stats');
    }
  }

  /**
   * Marks the store closed (every later primitive fails with `StoreClosedError`), then releases the
   * backend once. Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      try {
        await this.release();
      } catch (error) {
        throw toStoreError(error, `Closing the ${this.backend} store`);
      }
    })();
    return this.#closing;
  }

  /**
   * `create`: insert the record and its imported logs atomically; `SessionExistsError` if live.
   * `options.logs` has been checked (`checkImportedLogs`): iterate it with `Object.entries`.
   */
  protected abstract createRecord(record: SessionRecord, options: CreateOptions): Promise<void>;

  /** `get`: the record, or null when absent, expired (`expiresAt <= now`) or hidden by `owner`. */
  protected abstract getRecord(
    id: string,
    options: { now: number; owner?: string | null },
  ): Promise<SessionRecord | null>;

  /** `update`: guards, change and `maxContextBytes` in one atomic step; returns the new record. */
  protected abstract updateRecord(
    id: string,
    change: SessionChange,
    options: UpdateOptions,
  ): Promise<SessionRecord>;

  /** `append`: guards, seqs, trimming to `cap`, counters and touch in one atomic step. */
  protected abstract appendEntries(
    id: string,
    log: string,
    entries: readonly JsonValue[],
    options: AppendOptions,
  ): Promise<AppendResult>;

  /**
   * `replaceEntries`: guards first (before any entry is read), then the new values of the batch's seqs
   * that are in the log (each keeps `seq` and `at`; others are skipped), and `version + 1` when any was
   * replaced — in one atomic step. `entries` has been checked: seqs distinct positive integers, values
   * plain JSON; it may be empty.
   */
  protected abstract replaceLogEntries(
    id: string,
    log: string,
    entries: readonly ReplacementEntry[],
    options: ReplaceEntriesOptions,
  ): Promise<ReplaceEntriesResult>;

  /** `read`: guards, then one page of the log. */
  protected abstract readEntries(
    id: string,
    log: string,
    options: ReadOptions,
  ): Promise<LogEntry[]>;

  /** `delete`: the record and all its logs; whether a record (expired or not) was there. */
  protected abstract deleteRecord(id: string): Promise<boolean>;

  /** `list`: one page of live records in storage-id order (`limit` is always given). */
  protected abstract listRecords(options: ListOptions): Promise<ListPage>;

  /**
   * `count`: how many live records of exactly `owner` (when given) in `states` (when given), computed by
   * the backend — through the owner index when `owner` is given (`isCounted` states the rule for stores
   * that look at records one by one).
   */
  protected abstract countRecords(options: CountOptions): Promise<number>;

  /** `sweep`: delete up to `limit` expired records and their logs; return how many. */
  protected abstract sweepExpired(now: number, limit: number): Promise<number>;

  /** `stats`: aggregates over every record, computed by the backend where it can. */
  protected abstract computeStats(now: number): Promise<StoreStats>;

  /** `close`: release connections, timers and file handles. Called once. */
  protected abstract release(): Promise<void>;

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  async #failure(error: unknown, primitive: string): Promise<unknown> {
    if (isSessionError(error)) return error;
    await new Promise((resolve) => setImmediate(resolve));
    if (this.#closed) return new StoreClosedError();
    return toStoreError(error, `${this.backend} ${primitive}`);
  }
}
