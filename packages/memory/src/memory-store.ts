import {
  type AppendOptions,
  type AppendResult,
  applyChange,
  BaseSessionStore,
  type Clock,
  type CountOptions,
  type CreateOptions,
  checkGuards,
  contextByteLength,
  decodeListCursor,
  emptyStats,
  encodeListCursor,
  InvalidStoreUrlError,
  InvalidValueError,
  isCounted,
  isExpired,
  isVisibleTo,
  type JsonValue,
  type ListOptions,
  type ListPage,
  type LogEntry,
  MAX_TIMER_MS,
  PayloadTooLargeError,
  type ReadOptions,
  type RecordGuards,
  type ReplaceEntriesOptions,
  type ReplaceEntriesResult,
  type ReplacementEntry,
  readUrlOptions,
  redactUrl,
  type SessionChange,
  SessionExistsError,
  type SessionRecord,
  type StoreCapabilities,
  type StoreStats,
  slidingExpiry,
  systemClock,
  tallyRecord,
  type UpdateOptions,
} from '@mcp-session/core/adapter';
import { copyJson } from './copy-json.js';
import { ExpiryQueue } from './expiry-queue.js';
import { MemoryMessageBus } from './memory-bus.js';

/** Options of `MemorySessionStore`. */
export interface MemorySessionStoreOptions {
  /**
   * How often the background sweep runs, in milliseconds; 0 turns it off. Default 60 000. The timer is
   * unref'd, so it never keeps the process alive.
   */
  sweepIntervalMs?: number;
  /** Clock of the background sweep. Default: the wall clock. Give it the manager's clock in tests. */
  clock?: Clock;
}

/**
 * One log: entries live in `entries[head..]`; trimming advances `head` and the array is compacted only
 * when the dead prefix outgrows the live part, so appends are O(1) amortized at any history length.
 */
interface MemoryLog {
  entries: (LogEntry | undefined)[];
  head: number;
  nextSeq: number;
}

interface Slot {
  record: SessionRecord;
  logs: Map<string, MemoryLog>;
}

/**
 * Sessions in process memory: the zero-setup store for tests and single-process development. Not
 * durable and not shared between processes. Expired sessions are removed lazily on access and by an
 * unref'd background sweep.
 */
export class MemorySessionStore extends BaseSessionStore {
  readonly capabilities: StoreCapabilities = Object.freeze({
    durable: false,
    sharedAcrossProcesses: false,
    nativeExpiry: true,
    messaging: true,
  });
  /** In-process messages between the users of this store instance (see `MemoryMessageBus`). */
  readonly messages = new MemoryMessageBus();
  protected readonly backend = 'Memory';

  readonly #sessions = new Map<string, Slot>();
  readonly #byOwner = new Map<string, Set<string>>();
  readonly #expiry = new ExpiryQueue();
  readonly #timer: NodeJS.Timeout | undefined;

  constructor(options: MemorySessionStoreOptions = {}) {
    super();
    const interval = options.sweepIntervalMs ?? 60_000;
    if (!(Number.isSafeInteger(interval) && interval >= 0 && interval <= MAX_TIMER_MS)) {
      throw new InvalidValueError(
        `sweepIntervalMs must be a whole number of milliseconds from 0 to ${MAX_TIMER_MS}, got ${String(interval)}`,
      );
    }
    if (interval > 0) {
      const clock = options.clock ?? systemClock;
      this.#timer = setInterval(
        () => this.#sweepNow(clock.now(), Number.POSITIVE_INFINITY),
        interval,
      );
      this.#timer.unref();
    }
  }

  protected async createRecord(record: SessionRecord, options: CreateOptions): Promise<void> {
    const logs = new Map<string, MemoryLog>();
    for (const [log, entries] of Object.entries(options.logs ?? {})) {
      const last = entries.at(-1);
      if (last) logs.set(log, { entries: copyJson([...entries]), head: 0, nextSeq: last.seq + 1 });
    }
    const existing = this.#live(record.id, options.now);
    if (existing) throw new SessionExistsError(record.id);
    this.#store({ record: copyJson(record), logs });
  }

  protected async getRecord(
    id: string,
    options: { now: number; owner?: string | null },
  ): Promise<SessionRecord | null> {
    const slot = this.#live(id, options.now);
    return slot && isVisibleTo(slot.record, options.owner) ? copyJson(slot.record) : null;
  }

  protected async updateRecord(
    id: string,
    change: SessionChange,
    options: UpdateOptions,
  ): Promise<SessionRecord> {
    const slot = this.#guarded(id, options);
    const next = applyChange(slot.record, copyJson(change));
    if (options.maxContextBytes !== undefined) {
      const bytes = contextByteLength(next.context);
      if (bytes > options.maxContextBytes)
        throw new PayloadTooLargeError('context', options.maxContextBytes, bytes);
    }
    this.#replace(slot, next);
    return copyJson(next);
  }

  protected async appendEntries(
    id: string,
    log: string,
    entries: readonly JsonValue[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const slot = this.#guarded(id, options);
    const copies = copyJson(entries);
    let target = slot.logs.get(log);
    if (!target) {
      target = { entries: [], head: 0, nextSeq: 1 };
      slot.logs.set(log, target);
    }
    const firstSeq = target.nextSeq;
    for (const data of copies)
      target.entries.push({ seq: target.nextSeq++, at: options.now, data });
    if (options.cap !== undefined) {
      while (target.entries.length - target.head > options.cap)
        target.entries[target.head++] = undefined;
      if (target.head > 64 && target.head * 2 > target.entries.length) {
        target.entries = target.entries.slice(target.head);
        target.head = 0;
      }
    }
    const record = slot.record;
    const next: SessionRecord = {
      ...record,
      version: record.version + 1,
      messageCount: record.messageCount + (options.countMessages ? copies.length : 0),
    };
    if (options.touch) {
      next.lastActivityAt = options.touch.at;
      next.expiresAt = slidingExpiry(record.createdAt, options.touch);
    }
    this.#replace(slot, next);
    return {
      firstSeq,
      lastSeq: target.nextSeq - 1,
      version: next.version,
      messageCount: next.messageCount,
    };
  }

  protected async replaceLogEntries(
    id: string,
    log: string,
    entries: readonly ReplacementEntry[],
    options: ReplaceEntriesOptions,
  ): Promise<ReplaceEntriesResult> {
    const slot = this.#guarded(id, options);
    const target = slot.logs.get(log);
    const firstSeq = (target?.entries[target.head] as LogEntry | undefined)?.seq;
    if (!target || firstSeq === undefined) return { replaced: 0, version: slot.record.version };
    const copies = copyJson(entries);
    let replaced = 0;
    for (const { seq, value } of copies) {
      if (seq < firstSeq || seq >= target.nextSeq) continue;
      const position = target.head + (seq - firstSeq);
      const entry = target.entries[position] as LogEntry;
      target.entries[position] = { seq, at: entry.at, data: value };
      replaced++;
    }
    if (replaced === 0) return { replaced, version: slot.record.version };
    this.#replace(slot, { ...slot.record, version: slot.record.version + 1 });
    return { replaced, version: slot.record.version };
  }

  protected async readEntries(id: string, log: string, options: ReadOptions): Promise<LogEntry[]> {
    const slot = this.#guarded(id, options);
    const target = slot.logs.get(log);
    if (!target || target.head >= target.entries.length) return [];
    // Seqs in entries[head..] are contiguous, so positions follow from arithmetic, not a search.
    const firstSeq = (target.entries[target.head] as LogEntry).seq;
    const lastSeq = target.nextSeq - 1;
    const from = Math.max(firstSeq, (options.afterSeq ?? 0) + 1);
    const to = Math.min(lastSeq, (options.beforeSeq ?? Number.POSITIVE_INFINITY) - 1);
    if (from > to) return [];
    const count = Math.min(to - from + 1, options.limit ?? Number.POSITIVE_INFINITY);
    const result: LogEntry[] = [];
    const descending = options.order === 'desc';
    for (let i = 0; i < count; i++) {
      const seq = descending ? to - i : from + i;
      result.push(target.entries[target.head + (seq - firstSeq)] as LogEntry);
    }
    return copyJson(result);
  }

  protected async deleteRecord(id: string): Promise<boolean> {
    return this.#remove(id);
  }

  protected async listRecords(options: ListOptions): Promise<ListPage> {
    const after = decodeListCursor(options.cursor);
    const candidates =
      options.owner !== undefined
        ? (this.#byOwner.get(options.owner) ?? new Set<string>())
        : this.#sessions.keys();
    const ids: string[] = [];
    for (const id of candidates) {
      if (after !== null && id <= after) continue;
      const record = (this.#sessions.get(id) as Slot).record;
      if (isExpired(record, options.now)) continue;
      if (options.state !== undefined && record.state !== options.state) continue;
      ids.push(id);
    }
    ids.sort();
    const page = ids.slice(0, options.limit);
    const last = page.at(-1);
    return {
      records: page.map((id) => copyJson((this.#sessions.get(id) as Slot).record)),
      nextCursor: ids.length > options.limit && last !== undefined ? encodeListCursor(last) : null,
    };
  }

  /** By owner, only that owner's ids in the owner index; without one, every record. */
  protected async countRecords(options: CountOptions): Promise<number> {
    let count = 0;
    if (options.owner !== undefined) {
      for (const id of this.#byOwner.get(options.owner) ?? []) {
        if (isCounted((this.#sessions.get(id) as Slot).record, options)) count++;
      }
      return count;
    }
    for (const { record } of this.#sessions.values()) if (isCounted(record, options)) count++;
    return count;
  }

  protected async sweepExpired(now: number, limit: number): Promise<number> {
    return this.#sweepNow(now, limit);
  }

  protected async computeStats(now: number): Promise<StoreStats> {
    const stats = emptyStats();
    for (const { record } of this.#sessions.values()) tallyRecord(stats, record, now);
    return stats;
  }

  protected async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.messages.close();
    this.#sessions.clear();
    this.#byOwner.clear();
    this.#expiry.clear();
  }

  /** The slot when it exists and is live; an expired one is removed on the way (lazy expiry). */
  #live(id: string, now: number): Slot | undefined {
    const slot = this.#sessions.get(id);
    if (slot && isExpired(slot.record, now)) {
      this.#remove(id);
      return undefined;
    }
    return slot;
  }

  #guarded(id: string, guards: RecordGuards): Slot {
    const slot = this.#live(id, guards.now);
    checkGuards(slot?.record, guards);
    return slot as Slot;
  }

  #store(slot: Slot): void {
    const { id, owner, expiresAt } = slot.record;
    this.#sessions.set(id, slot);
    if (owner !== null) {
      let ids = this.#byOwner.get(owner);
      if (!ids) {
        ids = new Set();
        this.#byOwner.set(owner, ids);
      }
      ids.add(id);
    }
    if (expiresAt !== null) this.#expiry.push(expiresAt, id);
  }

  #replace(slot: Slot, next: SessionRecord): void {
    const previousExpiry = slot.record.expiresAt;
    slot.record = next;
    if (next.expiresAt === null || next.expiresAt === previousExpiry) return;
    this.#expiry.push(next.expiresAt, next.id);
    if (this.#expiry.size > 2 * this.#sessions.size + 1024)
      this.#expiry.rebuild(this.#dueEntries());
  }

  *#dueEntries(): Iterable<{ expiresAt: number; id: string }> {
    for (const [id, { record }] of this.#sessions) {
      if (record.expiresAt !== null) yield { expiresAt: record.expiresAt, id };
    }
  }

  #remove(id: string): boolean {
    const slot = this.#sessions.get(id);
    if (!slot) return false;
    this.#sessions.delete(id);
    const owner = slot.record.owner;
    if (owner !== null) {
      const ids = this.#byOwner.get(owner);
      ids?.delete(id);
      if (ids?.size === 0) this.#byOwner.delete(owner);
    }
    return true;
  }

  #sweepNow(now: number, limit: number): number {
    let deleted = 0;
    while (deleted < limit) {
      const due = this.#expiry.popDue(now);
      if (due === undefined) break;
      const slot = this.#sessions.get(due.id);
      // The queue keeps stale entries for touched records; only the record's current expiry counts.
      if (slot && isExpired(slot.record, now)) {
        this.#remove(due.id);
        deleted++;
      }
    }
    return deleted;
  }
}

/** `memory:` or `memory:?sweepIntervalMs=60000`. Every call gives a new, empty store. */
export function storeFromUrl(url: string): MemorySessionStore {
  const match = /^memory:(\/\/)?([^?]*)(?:\?(.*))?$/i.exec(url);
  if (match?.[2] !== '') {
    throw new InvalidStoreUrlError(
      `A memory store URL has no location: write "memory:", got "${redactUrl(url)}"`,
    );
  }
  const { options } = readUrlOptions(
    new URLSearchParams(match[3] ?? ''),
    { sweepIntervalMs: { type: 'integer', min: 0, max: MAX_TIMER_MS, unit: 'milliseconds' } },
    { store: 'memory', shownUrl: url },
  );
  return new MemorySessionStore(options);
}
