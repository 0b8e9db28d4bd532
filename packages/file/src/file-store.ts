import { randomBytes } from 'node:crypto';
import { closeSync, fstat, openSync, read, readSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  type AppendOptions,
  type AppendResult,
  applyChange,
  BaseSessionStore,
  type CountOptions,
  type CreateOptions,
  checkGuards,
  contextByteLength,
  decodeListCursor,
  emptyStats,
  encodeListCursor,
  InvalidValueError,
  isCounted,
  isExpired,
  isVisibleTo,
  type JsonValue,
  type ListOptions,
  type ListPage,
  type LogEntry,
  PayloadTooLargeError,
  type ReadOptions,
  type ReplaceEntriesOptions,
  type ReplaceEntriesResult,
  type ReplacementEntry,
  type SessionChange,
  SessionExistsError,
  SessionNotFoundError,
  type SessionRecord,
  type StoreCapabilities,
  StoreClosedError,
  type StoreOpenOptions,
  type StoreStats,
  slidingExpiry,
  tallyRecord,
  toStoreError,
  type UpdateOptions,
} from '@mcp-session/core/adapter';
import { fsyncDirectory, hasCode, ignoreMissing, writeFileAtomic } from './atomic.js';
import { prepareDirectory } from './directory.js';
import {
  DIGEST,
  digest,
  encodeLogName,
  Layout,
  newIncarnation,
  parseLogFileName,
  RECORD_FILE,
} from './layout.js';
import { FileLocks, KeyedMutex } from './lock.js';
import {
  appendToLogFile,
  cutUncommittedTail,
  formatEntries,
  formatLine,
  readLiveLines,
  readLogFile,
  replaceLiveLines,
} from './log-file.js';
import { FileMessageBus } from './message-bus.js';
import {
  type FileSessionStoreOptions,
  type FileStoreWarning,
  parseFileStoreUrl,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import {
  CorruptFileError,
  HEAD_BYTES,
  type LogMeta,
  parseRecordFile,
  parseRecordHead,
  type RecordFile,
  serializeRecordFile,
} from './record-file.js';

/** The guards a record's head decides: expiry and owner. */
type VisibilityGuards = { now: number; owner?: string | null };

/** Where guarded reads put the head of a record file (read synchronously, so never shared). */
const HEAD_SCRATCH = Buffer.allocUnsafe(HEAD_BYTES);

/** Shard directories: the first two hex digits of the digests of the sessions they hold. */
const SHARD = /^[0-9a-f]{2}$/;

/**
 * A log is rewritten (compacted) only when its dead lines — trimmed by the cap but still in the file —
 * outnumber both its live lines and this floor. Each rewrite copies at most as many lines as appends
 * since the last one, so appends stay O(1) amortized whatever the history length.
 */
const COMPACT_MIN_DEAD_LINES = 64;

/** Markers a lock waiter (`.want`) or breaker (`.break-<token>`) leaves behind only if it dies. */
const LOCK_LEFTOVER = /^[0-9a-f]{64}\.lock\.(want|break-[0-9a-f]+)$/;

/** Lock-free reads retry this often when a compaction replaces the file under them. */
const READ_ATTEMPTS = 3;

/** Record files `count` reads at once: enough to overlap the reads, few enough to bound open files. */
const COUNT_READS_IN_FLIGHT = 32;

/**
 * Sessions as files in a directory: one JSON record per session and one JSON Lines file per log, readable
 * with any text tool. Crash-safe (records are replaced atomically and are the commit point of every write;
 * a torn log tail is never committed and is cut off) and safe to share between processes on one machine
 * (a lock file per session). See the package README for the layout and the commit protocol.
 *
 * Open it with `FileSessionStore.open(directory)` or `createStore('file:./data/sessions')`.
 */
export class FileSessionStore extends BaseSessionStore {
  /** Durable and shared between processes; expired sessions go on `sweep()` (no background clock). */
  readonly capabilities: StoreCapabilities = Object.freeze({
    durable: true,
    sharedAcrossProcesses: true,
    nativeExpiry: false,
    messaging: true,
  });
  /** Live messages between the processes on this directory: polled append-only files (see `FileMessageBus`). */
  readonly messages: FileMessageBus;
  protected readonly backend = 'File store';

  /** Absolute path of the store directory. */
  readonly directory: string;

  readonly #layout: Layout;
  readonly #options: ResolvedOptions;
  readonly #locks: FileLocks;
  readonly #mutex = new KeyedMutex();
  /** Work holding or waiting for a session lock, which `close()` lets finish so no lock is left behind. */
  readonly #lockedWork = new Set<Promise<unknown>>();
  /**
   * Storage id of each record the last full listing saw, so the next one reads only new records. A
   * digest always names the same id, so entries never go stale; each listing drops the vanished ones.
   */
  #idOfDigest = new Map<string, string>();
  /** Shard where the next `sweep` call starts, so repeated calls walk the store once between them. */
  #sweepCursor = '00';

  private constructor(directory: string, options: ResolvedOptions) {
    super();
    this.directory = directory;
    this.#layout = new Layout(directory);
    this.#options = options;
    this.messages = new FileMessageBus(directory, {
      pollIntervalMs: options.messagePollIntervalMs,
      retentionMs: options.messageRetentionMs,
    });
    this.#locks = new FileLocks({
      timeoutMs: options.lockTimeoutMs,
      staleMs: options.staleLockMs,
      tmpPath: () => this.#layout.tmpFile(),
      isClosed: () => this.closed,
      warn: (code, message, path) => this.#warn({ code, message, path }),
    });
  }

  /**
   * Opens (creating it when missing) the store in `directory`, relative to the working directory unless
   * absolute. The directory must be empty, new, or a store: a non-empty directory without the store's
   * marker file is refused so a typo cannot scatter files through an unrelated folder.
   * @throws InvalidValueError for bad options, a path that is a file, or a foreign non-empty directory.
   * @throws StoreUnavailableError when the directory cannot be created or written.
   */
  static async open(
    directory: string,
    options: FileSessionStoreOptions = {},
  ): Promise<FileSessionStore> {
    const resolved = resolveOptions(options);
    if (typeof directory !== 'string' || directory.trim() === '' || directory.includes('\0')) {
      throw new InvalidValueError(
        `The file store needs a directory path (a non-empty string without NUL), got ${JSON.stringify(directory)}`,
      );
    }
    const root = resolve(directory);
    try {
      await prepareDirectory(new Layout(root), resolved.fsync, resolved.mustExist);
    } catch (error) {
      throw toStoreError(error, `Opening the file session store in ${root}`);
    }
    return new FileSessionStore(root, resolved);
  }

  /**
   * Writes a new session (and the logs in `options.logs`) under its lock; the record's rename commits
   * it. An expired record with the same id is replaced and its logs removed.
   * @throws SessionExistsError when a live record has this id.
   */
  protected async createRecord(record: SessionRecord, options: CreateOptions): Promise<void> {
    const hash = digest(record.id);
    const file: RecordFile = { session: record, incarnation: newIncarnation(), logs: new Map() };
    // Serialized now: the caller may change its objects while this waits for the lock.
    const imported: { log: string; text: string }[] = [];
    for (const [log, entries] of Object.entries(options.logs ?? {})) {
      const first = entries[0];
      if (!first) continue;
      const text = entries
        .map((entry) => formatLine(entry.seq, entry.at, JSON.stringify(entry.data)))
        .join('');
      imported.push({ log, text });
      file.logs.set(log, {
        generation: 1,
        baseSeq: first.seq,
        firstSeq: first.seq,
        nextSeq: first.seq + entries.length,
        bytes: Buffer.byteLength(text),
      });
    }
    const text = serializeRecordFile(file);
    const owner = record.owner;
    await this.#ensureDirectory(this.#layout.shard(hash));
    await this.#locked(hash, async () => {
      const existing = await this.#readRecordLocked(hash);
      if (existing && !isExpired(existing.session, options.now)) {
        throw new SessionExistsError(record.id);
      }
      // The index entry goes first: an entry without a record is skipped by list, never the reverse.
      if (owner !== null) await this.#addOwnerEntry(owner, hash, record.id);
      if (imported.length > 0) await this.#ensureDirectory(this.#layout.logDir(hash));
      for (const { log, text: lines } of imported) {
        await writeFileAtomic(
          this.#layout.logFile(hash, log, file.incarnation, 1),
          lines,
          this.#layout.tmpFile(),
          this.#options.fsync,
        );
      }
      // The commit point. Until here the old record (if any) and its logs are untouched.
      await writeFileAtomic(
        this.#layout.record(hash),
        text,
        this.#layout.tmpFile(),
        this.#options.fsync,
      );
      // Logs of an expired predecessor (or of an interrupted delete) must never show in the new
      // session. They carry another incarnation in their names, so they are told apart from its own.
      await this.#removeUnreferencedLogFiles(hash, file);
      const previousOwner = existing?.session.owner ?? null;
      if (previousOwner !== null && previousOwner !== owner) {
        await this.#removeOwnerEntry(previousOwner, hash);
      }
    });
  }

  /** Reads the record file, without a lock; null when absent, expired (`expiresAt <= now`) or hidden by `owner`. */
  protected async getRecord(
    id: string,
    options: { now: number; owner?: string | null },
  ): Promise<SessionRecord | null> {
    const file = await this.#readRecordChecked(digest(id), options);
    if (
      !file ||
      isExpired(file.session, options.now) ||
      !isVisibleTo(file.session, options.owner)
    ) {
      return null;
    }
    return file.session;
  }

  /**
   * Applies `change` under the session lock and replaces the record atomically; `version` + 1.
   * @throws SessionNotFoundError / VersionConflictError when a guard fails, PayloadTooLargeError when the
   *   context would exceed `maxContextBytes` (UTF-8 JSON bytes); nothing is written then.
   */
  protected async updateRecord(
    id: string,
    change: SessionChange,
    options: UpdateOptions,
  ): Promise<SessionRecord> {
    // Copied now: the caller may change its objects while this waits for the lock.
    const snapshot = structuredClone(change);
    const hash = digest(id);
    return this.#locked(hash, async () => {
      const file = await this.#readRecordLocked(hash, options);
      const next = applyChange(checkGuards(file?.session, options), snapshot);
      if (options.maxContextBytes !== undefined) {
        const bytes = contextByteLength(next.context);
        if (bytes > options.maxContextBytes) {
          throw new PayloadTooLargeError('context', options.maxContextBytes, bytes);
        }
      }
      await this.#writeRecord(hash, { ...(file as RecordFile), session: next });
      return next;
    });
  }

  /**
   * Appends JSON Lines to the log and commits them, with `version`, `messageCount`, the cap and `touch`,
   * by replacing the record — under the session lock. Cost does not depend on the log's length: lines
   * are added at the end, and a log is rewritten only once its trimmed lines outnumber the live ones.
   */
  protected async appendEntries(
    id: string,
    log: string,
    entries: readonly JsonValue[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    // Serialized now: the caller may change its objects while this waits for the lock.
    const dataJson = entries.map((entry) => JSON.stringify(entry));
    const hash = digest(id);
    return this.#locked(hash, () => this.#appendLocked(hash, log, dataJson, options));
  }

  /**
   * Rewrites the log's live lines with the new values into its next generation and commits it, with
   * `version` + 1, by replacing the record — under the session lock, the way a compaction does: until
   * the record's rename, readers and crash recovery see the old generation, whole.
   */
  protected async replaceLogEntries(
    id: string,
    log: string,
    entries: readonly ReplacementEntry[],
    options: ReplaceEntriesOptions,
  ): Promise<ReplaceEntriesResult> {
    // Serialized now: the caller may change its objects while this waits for the lock.
    const replacements = new Map(entries.map((entry) => [entry.seq, JSON.stringify(entry.value)]));
    const hash = digest(id);
    return this.#locked(hash, () => this.#replaceLocked(hash, log, replacements, options));
  }

  /**
   * Reads committed entries without a lock (a log over 256 KiB is binary-searched, not scanned). A torn
   * or uncommitted tail it notices is cut off when the lock is free (`LOG_REPAIRED` warning).
   */
  protected async readEntries(id: string, log: string, options: ReadOptions): Promise<LogEntry[]> {
    const hash = digest(id);
    // Lock-free first: a record names a committed byte range of one log generation, and that range
    // never changes. A compaction may delete the generation under us, hence the retries.
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      let file: RecordFile | null;
      try {
        file = await this.#readRecord(hash, options);
      } catch (error) {
        if (error instanceof CorruptFileError) break;
        throw error;
      }
      checkGuards(file?.session, options);
      const meta = (file as RecordFile).logs.get(log);
      const range = meta && pageRange(meta, options);
      if (!meta || !range) return [];
      let result: Awaited<ReturnType<typeof readLogFile>>;
      try {
        result = await readLogFile(
          this.#logFile(hash, file as RecordFile, log, meta),
          meta,
          range.fromSeq,
          range.count,
        );
      } catch (error) {
        if (hasCode(error, 'ENOENT')) continue;
        if (error instanceof CorruptFileError) break;
        throw error;
      }
      if (result.hasTail) await this.#repairTail(hash, log);
      return options.order === 'desc' ? result.entries.reverse() : result.entries;
    }
    // Still failing: decide under the lock, where a corrupt file is quarantined.
    return this.#locked(hash, () => this.#readLocked(hash, log, options));
  }

  /** Removes the record (the commit), then its logs and owner-index entry, under the session lock. */
  protected async deleteRecord(id: string): Promise<boolean> {
    const hash = digest(id);
    return this.#locked(hash, async () =>
      this.#deleteLocked(hash, await this.#readRecordLocked(hash)),
    );
  }

  /**
   * Pages through live records in code-unit order of their ids. Lists the shard directories (or, with
   * `owner`, that owner's index directory) and reads only the records of the page, ids being cached per
   * digest after the first listing.
   */
  protected async listRecords(options: ListOptions): Promise<ListPage> {
    const after = decodeListCursor(options.cursor);
    const { owner, state, now, limit } = options;
    const candidates = (
      owner !== undefined ? await this.#ownerCandidates(owner) : await this.#allCandidates()
    )
      .filter((candidate) => after === null || candidate.id > after)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const records: SessionRecord[] = [];
    const staleOwnerEntries: string[] = [];
    let more = false;
    for (const { hash } of candidates) {
      const file = await this.#readRecordChecked(hash);
      if (owner !== undefined && file?.session.owner !== owner) {
        staleOwnerEntries.push(hash);
        continue;
      }
      if (!file || isExpired(file.session, now)) continue;
      if (state !== undefined && file.session.state !== state) continue;
      if (records.length === limit) {
        more = true;
        break;
      }
      records.push(file.session);
    }
    if (owner !== undefined) {
      for (const hash of staleOwnerEntries) await this.#dropStaleOwnerEntry(owner, hash);
    }
    const last = records.at(-1);
    return { records, nextCursor: more && last ? encodeListCursor(last.id) : null };
  }

  /**
   * Walks the shard directories, continuing where the previous call stopped, deleting up to `limit`
   * expired sessions under their locks. Returns less than `limit` only after a full pass. Also removes
   * log directories and lock markers that crashed processes left behind.
   */
  protected async sweepExpired(now: number, limit: number): Promise<number> {
    const shards = await this.#shards();
    const start = Math.max(
      0,
      shards.findIndex((shard) => shard >= this.#sweepCursor),
    );
    let deleted = 0;
    // A call returns less than `limit` only after visiting every shard, as the contract requires.
    for (let i = 0; i < shards.length; i++) {
      const shard = shards[(start + i) % shards.length] as string;
      this.#sweepCursor = shard;
      deleted += await this.#sweepShard(shard, now, limit - deleted);
      if (deleted >= limit) break;
      this.#sweepCursor = shards[(start + i + 1) % shards.length] as string;
    }
    return deleted;
  }

  /**
   * With `owner`, lists that owner's index directory and reads only the records it names (their state
   * and expiry live there), without a lock: the cost grows with that owner's sessions, not the store's.
   * An entry a crash left without its record, or naming another owner's, is not counted (`list` removes
   * it). Without `owner`, reads every record file, like `stats`: a full walk of the directory.
   */
  protected async countRecords(options: CountOptions): Promise<number> {
    if (options.owner === undefined) {
      let count = 0;
      await this.#forEachRecord((file) => {
        if (isCounted(file.session, options)) count++;
      });
      return count;
    }
    const hashes = await this.#ownerEntries(options.owner);
    let count = 0;
    for (let i = 0; i < hashes.length; i += COUNT_READS_IN_FLIGHT) {
      const files = await Promise.all(
        hashes.slice(i, i + COUNT_READS_IN_FLIGHT).map((hash) => this.#readRecordChecked(hash)),
      );
      for (const file of files) if (file && isCounted(file.session, options)) count++;
    }
    return count;
  }

  /** Reads every record file: a full walk of the directory, fine at the scale this store is for. */
  protected async computeStats(now: number): Promise<StoreStats> {
    const stats = emptyStats();
    await this.#forEachRecord(async (file) => tallyRecord(stats, file.session, now));
    return stats;
  }

  /**
   * Waits for the work that holds or waits for a session lock, so no lock is left behind; waiters give
   * up with `StoreClosedError`. The store holds no open files or timers between operations.
   */
  protected async release(): Promise<void> {
    await this.messages.close();
    await Promise.allSettled([...this.#lockedWork]);
  }

  // ── operations under the session lock ─────────────────────────────────────────────────────────

  async #appendLocked(
    hash: string,
    log: string,
    dataJson: string[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const file = await this.#readRecordLocked(hash, options);
    const current = checkGuards(file?.session, options);
    const record = file as RecordFile;
    const meta: LogMeta = record.logs.get(log) ?? {
      generation: 1,
      baseSeq: 1,
      firstSeq: 1,
      nextSeq: 1,
      bytes: 0,
    };
    const firstSeq = meta.nextSeq;
    const nextSeq = firstSeq + dataJson.length;
    const visibleFrom =
      options.cap === undefined ? meta.firstSeq : Math.max(meta.firstSeq, nextSeq - options.cap);
    const deadLines = visibleFrom - meta.baseSeq;
    const compacting = deadLines >= Math.max(nextSeq - visibleFrom, COMPACT_MIN_DEAD_LINES);
    const path = this.#logFile(hash, record, log, meta);
    const logDir = this.#layout.logDir(hash);
    if (meta.bytes === 0 || compacting) await this.#ensureDirectory(logDir);
    let next: LogMeta;
    if (compacting) {
      // Rewrite only what stays visible into the next generation, then commit by the record below.
      const kept =
        visibleFrom < meta.nextSeq
          ? await this.#checked(hash, () => readLiveLines(path, meta, visibleFrom))
          : Buffer.alloc(0);
      const freshFrom = Math.max(firstSeq, visibleFrom);
      const fresh = Buffer.from(
        formatEntries(dataJson.slice(freshFrom - firstSeq), freshFrom, options.now),
        'utf8',
      );
      const content = Buffer.concat([kept, fresh]);
      next = {
        generation: meta.generation + 1,
        baseSeq: visibleFrom,
        firstSeq: visibleFrom,
        nextSeq,
        bytes: content.length,
      };
      await writeFileAtomic(
        this.#logFile(hash, record, log, next),
        content,
        this.#layout.tmpFile(),
        this.#options.fsync,
      );
    } else {
      const text = formatEntries(dataJson, firstSeq, options.now);
      const { cutBytes } = await this.#checked(hash, () =>
        appendToLogFile(path, meta.bytes, text, this.#options.fsync),
      );
      if (meta.bytes === 0 && this.#options.fsync) await fsyncDirectory(logDir);
      if (cutBytes > 0) this.#warnRepaired(path, cutBytes);
      next = {
        ...meta,
        firstSeq: visibleFrom,
        nextSeq,
        bytes: meta.bytes + Buffer.byteLength(text),
      };
    }
    const session: SessionRecord = {
      ...current,
      version: current.version + 1,
      messageCount: current.messageCount + (options.countMessages ? dataJson.length : 0),
    };
    if (options.touch) {
      session.lastActivityAt = options.touch.at;
      session.expiresAt = slidingExpiry(current.createdAt, options.touch);
    }
    record.logs.set(log, next);
    // The commit point: until this rename, readers and crash recovery see the log as it was.
    await this.#writeRecord(hash, { ...record, session });
    if (compacting) await this.#removeUnreferencedLogFiles(hash, { ...record, session });
    return {
      firstSeq,
      lastSeq: nextSeq - 1,
      version: session.version,
      messageCount: session.messageCount,
    };
  }

  async #replaceLocked(
    hash: string,
    log: string,
    replacements: Map<number, string>,
    options: ReplaceEntriesOptions,
  ): Promise<ReplaceEntriesResult> {
    const file = await this.#readRecordLocked(hash, options);
    const current = checkGuards(file?.session, options);
    const record = file as RecordFile;
    const meta = record.logs.get(log);
    const live = new Map<number, string>();
    for (const [seq, dataJson] of replacements) {
      if (meta && seq >= meta.firstSeq && seq < meta.nextSeq) live.set(seq, dataJson);
    }
    if (!meta || live.size === 0) return { replaced: 0, version: current.version };
    const content = await this.#checked(hash, () =>
      replaceLiveLines(this.#logFile(hash, record, log, meta), meta, live),
    );
    const next: LogMeta = {
      generation: meta.generation + 1,
      baseSeq: meta.firstSeq,
      firstSeq: meta.firstSeq,
      nextSeq: meta.nextSeq,
      bytes: content.length,
    };
    await writeFileAtomic(
      this.#logFile(hash, record, log, next),
      content,
      this.#layout.tmpFile(),
      this.#options.fsync,
    );
    const session: SessionRecord = { ...current, version: current.version + 1 };
    record.logs.set(log, next);
    // The commit point: until this rename, readers and crash recovery see the old generation.
    await this.#writeRecord(hash, { ...record, session });
    await this.#removeUnreferencedLogFiles(hash, { ...record, session });
    return { replaced: live.size, version: session.version };
  }

  async #readLocked(hash: string, log: string, options: ReadOptions): Promise<LogEntry[]> {
    const file = await this.#readRecordLocked(hash, options);
    checkGuards(file?.session, options);
    const record = file as RecordFile;
    const meta = record.logs.get(log);
    const range = meta && pageRange(meta, options);
    if (!meta || !range) return [];
    const path = this.#logFile(hash, record, log, meta);
    const { entries, hasTail } = await this.#checked(hash, () =>
      readLogFile(path, meta, range.fromSeq, range.count),
    );
    if (hasTail) this.#warnRepaired(path, await cutUncommittedTail(path, meta.bytes));
    return options.order === 'desc' ? entries.reverse() : entries;
  }

  /** Deletes a session whose record (or null) was read under its lock; returns whether it existed. */
  async #deleteLocked(hash: string, file: RecordFile | null): Promise<boolean> {
    if (file) {
      await unlink(this.#layout.record(hash));
      if (this.#options.fsync) await fsyncDirectory(this.#layout.shard(hash));
    }
    await rm(this.#layout.logDir(hash), { recursive: true, force: true });
    if (file?.session.owner != null) await this.#removeOwnerEntry(file.session.owner, hash);
    this.#idOfDigest.delete(hash);
    return file !== null;
  }

  /**
   * Cuts an uncommitted tail a lock-free read noticed, if the lock is free right now. A busy lock means
   * a writer is at work, and the writer cuts any tail itself before appending.
   */
  async #repairTail(hash: string, log: string): Promise<void> {
    await this.#tryLocked(hash, async () => {
      const file = await this.#readRecordLocked(hash);
      const meta = file?.logs.get(log);
      if (!file || !meta) return;
      const path = this.#logFile(hash, file, log, meta);
      this.#warnRepaired(
        path,
        await this.#checked(hash, () => cutUncommittedTail(path, meta.bytes)),
      );
    });
  }

  /** Removes log files the record does not name: old generations, other incarnations, leftovers. */
  async #removeUnreferencedLogFiles(hash: string, file: RecordFile): Promise<void> {
    const logDir = this.#layout.logDir(hash);
    const referenced = new Set<string>();
    for (const [log, meta] of file.logs) {
      referenced.add(`${encodeLogName(log)}\n${meta.generation}`);
    }
    const names = await readdir(logDir).catch((error: unknown) => {
      if (hasCode(error, 'ENOENT')) return [] as string[];
      throw error;
    });
    for (const name of names) {
      const parsed = parseLogFileName(name);
      if (!parsed) continue;
      const current =
        parsed.incarnation === file.incarnation &&
        referenced.has(`${parsed.encodedLog}\n${parsed.generation}`);
      if (!current) await unlink(join(logDir, name)).catch(ignoreMissing);
    }
  }

  // ── records ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Reads a record without the lock. With `guards`, the head is read first and the record reads as
   * absent (null) when its expiry or owner hides it there: then not a byte of its metadata, context or
   * log bookkeeping is read or parsed, so a 404 for another owner's session costs what one for a missing
   * id costs, and a damaged payload of a hidden record is never noticed (nor quarantined) by a stranger.
   * A record written by an earlier version (context first) has no such head and is parsed whole.
   * @throws CorruptFileError
   */
  async #readRecord(hash: string, guards?: VisibilityGuards): Promise<RecordFile | null> {
    const path = this.#layout.record(hash);
    if (guards === undefined) {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        if (hasCode(error, 'ENOENT')) return null;
        throw error;
      }
      return parseRecordFile(text, path, hash);
    }
    // The open and the head are read synchronously: microseconds from the page cache, where three
    // thread-pool round trips (open, read, close) made an existing record measurably slower to turn
    // away than a missing one (one failed open) — an existence oracle of its own.
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      if (hasCode(error, 'ENOENT')) return null;
      throw error;
    }
    try {
      // One buffer for every head: nothing runs between this read and the last use of it below.
      const bytesRead = readSync(fd, HEAD_SCRATCH, 0, HEAD_BYTES, 0);
      const head = parseRecordHead(HEAD_SCRATCH.subarray(0, bytesRead), hash);
      if (head !== null && (isExpired(head, guards.now) || !isVisibleTo(head, guards.owner))) {
        return null;
      }
      const text =
        bytesRead < HEAD_BYTES
          ? HEAD_SCRATCH.toString('utf8', 0, bytesRead)
          : (await readToEnd(fd, Buffer.from(HEAD_SCRATCH))).toString('utf8');
      return parseRecordFile(text, path, hash);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Reads a record under its lock; a corrupt one is quarantined and reads as absent. With `guards`, one
   * they hide reads as absent from its head alone (see `#readRecord`).
   */
  async #readRecordLocked(hash: string, guards?: VisibilityGuards): Promise<RecordFile | null> {
    try {
      return await this.#readRecord(hash, guards);
    } catch (error) {
      if (!(error instanceof CorruptFileError)) throw error;
      await this.#quarantine(hash, error);
      return null;
    }
  }

  /** Reads a record without the lock; if it looks corrupt, re-reads under the lock (quarantining it). */
  async #readRecordChecked(hash: string, guards?: VisibilityGuards): Promise<RecordFile | null> {
    try {
      return await this.#readRecord(hash, guards);
    } catch (error) {
      if (!(error instanceof CorruptFileError)) throw error;
      return this.#locked(hash, () => this.#readRecordLocked(hash, guards));
    }
  }

  async #writeRecord(hash: string, file: RecordFile): Promise<void> {
    await writeFileAtomic(
      this.#layout.record(hash),
      serializeRecordFile(file),
      this.#layout.tmpFile(),
      this.#options.fsync,
    );
  }

  /**
   * Runs log I/O under the session lock, where the record and its files agree: a corrupt log, or a
   * missing one the record names, quarantines the session, which then reads as absent.
   */
  async #checked<T>(hash: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const corrupt =
        error instanceof CorruptFileError
          ? error
          : hasCode(error, 'ENOENT')
            ? new CorruptFileError(String((error as { path?: unknown }).path), 'is missing')
            : null;
      if (corrupt === null) throw error;
      await this.#quarantine(hash, corrupt);
      throw new SessionNotFoundError();
    }
  }

  /**
   * Moves a session's files to `quarantine/<time>-<digest>/` with a `reason.txt`, under its lock. Logs go
   * first: if this is interrupted, the record is still there and the next access finishes the job.
   */
  async #quarantine(hash: string, error: CorruptFileError): Promise<void> {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const target = join(
      this.#layout.quarantine,
      `${stamp}-${hash}-${randomBytes(3).toString('hex')}`,
    );
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'reason.txt'), `${error.message}\n`);
    await renameIfPresent(this.#layout.logDir(hash), join(target, 'logs'));
    await renameIfPresent(this.#layout.record(hash), join(target, 'record.json'));
    if (this.#options.fsync) {
      await fsyncDirectory(target);
      await fsyncDirectory(this.#layout.shard(hash));
    }
    this.#idOfDigest.delete(hash);
    this.#warn({
      code: 'QUARANTINED',
      message: `A corrupt session file was moved aside and the session now reads as absent: ${error.message}`,
      path: target,
    });
  }

  // ── owner index ─────────────────────────────────────────────────────────────────────────────

  async #addOwnerEntry(owner: string, hash: string, id: string): Promise<void> {
    await this.#ensureDirectory(this.#layout.ownerDir(owner));
    await writeFileAtomic(
      this.#layout.ownerMarker(owner, hash),
      id,
      this.#layout.tmpFile(),
      this.#options.fsync,
    );
  }

  async #removeOwnerEntry(owner: string, hash: string): Promise<void> {
    await unlink(this.#layout.ownerMarker(owner, hash)).catch(ignoreMissing);
  }

  /** Removes an index entry a crash left without its record, after checking under the lock. */
  async #dropStaleOwnerEntry(owner: string, hash: string): Promise<void> {
    await this.#locked(hash, async () => {
      const file = await this.#readRecordLocked(hash);
      if (file?.session.owner !== owner) await this.#removeOwnerEntry(owner, hash);
    });
  }

  // ── walking the directory ───────────────────────────────────────────────────────────────────

  /** Digests of the sessions in an owner's index directory (entries whose record may be gone). */
  async #ownerEntries(owner: string): Promise<string[]> {
    const names = await readdir(this.#layout.ownerDir(owner)).catch((error: unknown) => {
      if (hasCode(error, 'ENOENT')) return [] as string[];
      throw error;
    });
    return names.filter((name) => DIGEST.test(name));
  }

  async #ownerCandidates(owner: string): Promise<{ hash: string; id: string }[]> {
    const dir = this.#layout.ownerDir(owner);
    const candidates: { hash: string; id: string }[] = [];
    for (const hash of await this.#ownerEntries(owner)) {
      let id = this.#idOfDigest.get(hash);
      if (id === undefined) {
        const entry = await readFile(join(dir, hash), 'utf8').catch(() => '');
        id = digest(entry) === hash ? entry : (await this.#readRecordChecked(hash))?.session.id;
      }
      // An entry whose record is gone still counts, so list can remove it.
      candidates.push({ hash, id: id ?? '' });
    }
    return candidates;
  }

  /** Every record's digest and id. Ids are cached per digest, so only new records are read. */
  async #allCandidates(): Promise<{ hash: string; id: string }[]> {
    const seen = new Map<string, string>();
    for (const shard of await this.#shards()) {
      for (const name of await this.#shardEntries(shard)) {
        const hash = RECORD_FILE.exec(name)?.[1];
        if (hash === undefined) continue;
        const id = this.#idOfDigest.get(hash) ?? (await this.#readRecordChecked(hash))?.session.id;
        if (id !== undefined) seen.set(hash, id);
      }
    }
    this.#idOfDigest = seen;
    return [...seen].map(([hash, id]) => ({ hash, id }));
  }

  async #forEachRecord(visit: (file: RecordFile) => Promise<void> | void): Promise<void> {
    for (const shard of await this.#shards()) {
      for (const name of await this.#shardEntries(shard)) {
        const hash = RECORD_FILE.exec(name)?.[1];
        if (hash === undefined) continue;
        const file = await this.#readRecordChecked(hash);
        if (file) await visit(file);
      }
    }
  }

  /**
   * Deletes up to `budget` expired sessions of one shard, log directories whose record is gone (an
   * interrupted delete), and lock-waiting markers of processes that died. Returns how many sessions it
   * deleted.
   */
  async #sweepShard(shard: string, now: number, budget: number): Promise<number> {
    const names = await this.#shardEntries(shard);
    const recordNames = new Set(names.filter((name) => RECORD_FILE.test(name)));
    let deleted = 0;
    for (const name of names) {
      if (deleted >= budget) break;
      const hash = RECORD_FILE.exec(name)?.[1];
      if (hash !== undefined) {
        const file = await this.#readRecordChecked(hash);
        if (!file || !isExpired(file.session, now)) continue;
        const removed = await this.#locked(hash, async () => {
          const current = await this.#readRecordLocked(hash);
          if (!current || !isExpired(current.session, now)) return false;
          return this.#deleteLocked(hash, current);
        });
        if (removed) deleted++;
      } else if (LOCK_LEFTOVER.test(name)) {
        const path = join(this.#layout.sessions, shard, name);
        const info = await stat(path).catch(() => null);
        if (info && Date.now() - info.mtimeMs > this.#options.staleLockMs) {
          await unlink(path).catch(ignoreMissing);
        }
      } else if (DIGEST.test(name) && !recordNames.has(`${name}.json`)) {
        await this.#locked(name, async () => {
          if ((await this.#readRecordLocked(name)) === null) {
            await rm(this.#layout.logDir(name), { recursive: true, force: true });
          }
        });
      }
    }
    return deleted;
  }

  /** Names of the shard directories, in order. Shards are created as sessions land in them. */
  async #shards(): Promise<string[]> {
    return (await readdir(this.#layout.sessions)).filter((name) => SHARD.test(name)).sort();
  }

  async #shardEntries(shard: string): Promise<string[]> {
    return readdir(join(this.#layout.sessions, shard)).catch((error: unknown) => {
      if (hasCode(error, 'ENOENT')) return [] as string[];
      throw error;
    });
  }

  // ── plumbing ────────────────────────────────────────────────────────────────────────────────

  #logFile(hash: string, file: RecordFile, log: string, meta: LogMeta): string {
    return this.#layout.logFile(hash, log, file.incarnation, meta.generation);
  }

  /** Creates a directory (and its parents); flushes the parent when it is new so the entry is durable. */
  async #ensureDirectory(path: string): Promise<void> {
    const created = await mkdir(path, { recursive: true });
    if (created !== undefined && this.#options.fsync) await fsyncDirectory(dirname(path));
  }

  #warnRepaired(path: string, cutBytes: number): void {
    if (cutBytes === 0) return;
    this.#warn({
      code: 'LOG_REPAIRED',
      message: `Cut ${cutBytes} uncommitted bytes (a torn or unacknowledged append of a writer that stopped mid-way) off a log`,
      path,
    });
  }

  #warn(warning: FileStoreWarning): void {
    try {
      this.#options.onWarning(warning);
    } catch {
      // A throwing warning handler must not fail the operation that repaired something.
    }
  }

  /**
   * Runs `work` holding the session's lock: first in this process, then across processes. Refused after
   * `close()`, which waits for the work already queued or under way here.
   */
  #locked<T>(hash: string, work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreClosedError());
    return this.#tracked(
      this.#mutex.run(hash, async () => {
        const release = await this.#locks.acquire(this.#layout.lock(hash));
        try {
          return await work();
        } finally {
          await release();
        }
      }),
    );
  }

  /** Like `#locked`, but gives up at once (resolving undefined) when the lock is busy or the store closed. */
  async #tryLocked(hash: string, work: () => Promise<void>): Promise<void> {
    if (this.closed || this.#mutex.busy(hash)) return;
    await this.#tracked(
      this.#mutex.run(hash, async () => {
        const release = await this.#locks.tryAcquire(this.#layout.lock(hash));
        if (!release) return;
        try {
          await work();
        } finally {
          await release();
        }
      }),
    );
  }

  #tracked<T>(work: Promise<T>): Promise<T> {
    this.#lockedWork.add(work);
    const forget = () => this.#lockedWork.delete(work);
    work.then(forget, forget);
    return work;
  }
}

/** The seqs a read returns: from `fromSeq`, `count` of them; null when none match. */
function pageRange(meta: LogMeta, options: ReadOptions): { fromSeq: number; count: number } | null {
  const from = Math.max(meta.firstSeq, (options.afterSeq ?? 0) + 1);
  const to = Math.min(meta.nextSeq - 1, (options.beforeSeq ?? Number.POSITIVE_INFINITY) - 1);
  if (from > to) return null;
  const count = Math.min(to - from + 1, options.limit ?? Number.POSITIVE_INFINITY);
  return { fromSeq: options.order === 'desc' ? to - count + 1 : from, count };
}

const readAt = promisify(read);
const fileSize = promisify(fstat);

/**
 * The whole file behind `fd`, whose first `start.length` bytes are `start`. A record file is never
 * written in place (a write replaces it by rename), so what the open descriptor reads is one version.
 */
async function readToEnd(fd: number, start: Buffer): Promise<Buffer> {
  const { size } = await fileSize(fd);
  const bytes = Buffer.allocUnsafe(Math.max(size, start.length));
  start.copy(bytes);
  let offset = start.length;
  while (offset < bytes.length) {
    const { bytesRead } = await readAt(fd, bytes, offset, bytes.length - offset, offset);
    if (bytesRead === 0) break;
    offset += bytesRead;
  }
  return bytes.subarray(0, offset);
}

async function renameIfPresent(from: string, to: string): Promise<void> {
  await rename(from, to).catch(ignoreMissing);
}

/**
 * `file:./data/sessions`, `file:///var/lib/sessions?fsync=false&lockTimeoutMs=5000`. With `mustExist`
 * (what `createStore(url, { mustExist: true })` hands over) the directory must already hold a store.
 */
export async function storeFromUrl(
  url: string,
  open: StoreOpenOptions = {},
): Promise<FileSessionStore> {
  const { directory, options } = parseFileStoreUrl(url);
  return FileSessionStore.open(directory, { ...options, mustExist: open.mustExist === true });
}
