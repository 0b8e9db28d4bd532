import {
  isExpired,
  isSessionError,
  type ListOptions,
  type LogEntry,
  type SessionRecord,
  type SessionStore,
} from '@mcp-session/core/adapter';

/** A session with the logs copied along: one line of an export, one unit of a migration. */
export interface SessionCopy {
  record: SessionRecord;
  /** Entries by log name, oldest first; empty logs are left out. */
  logs: Record<string, LogEntry[]>;
}

/** What happened to one session written to a target store. */
export type WriteOutcome =
  /** Created, with its logs, in one atomic step. */
  | { kind: 'copied' }
  /** Already there at the same version and message count (an earlier, interrupted run copied it). */
  | { kind: 'present' }
  /** Already there, but not the same: nothing was overwritten. */
  | { kind: 'conflict'; reason: string }
  /** Expired by now: not worth creating (it would be invisible and swept). */
  | { kind: 'expired' };

/** Entries read per round trip when copying a log. */
const LOG_PAGE = 1000;

/** The stable `code` of a project error, compared by value so two copies of core still agree. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Pages through a store's records; `now: 0` includes expired ones. */
export async function* listPages(
  store: SessionStore,
  options: Omit<ListOptions, 'cursor'>,
): AsyncGenerator<SessionRecord[]> {
  let cursor: string | null = null;
  do {
    const page = await store.list({ ...options, cursor });
    yield page.records;
    cursor = page.nextCursor;
  } while (cursor !== null);
}

/**
 * Reads the named logs of a session, whole, in pages. Throws `SessionNotFoundError` when the session
 * vanished (expired or deleted) since it was listed.
 */
export async function readLogs(
  store: SessionStore,
  id: string,
  names: readonly string[],
  now: number,
): Promise<Record<string, LogEntry[]>> {
  const logs: Record<string, LogEntry[]> = {};
  for (const name of names) {
    const entries: LogEntry[] = [];
    for (let afterSeq = 0; ; ) {
      const page = await store.read(id, name, { now, afterSeq, limit: LOG_PAGE });
      entries.push(...page);
      const last = page.at(-1);
      if (page.length < LOG_PAGE || !last) break;
      afterSeq = last.seq;
    }
    if (entries.length > 0) logs[name] = entries;
  }
  return logs;
}

/** Reads a record's logs; null when the session vanished since it was listed. */
export async function readSession(
  store: SessionStore,
  record: SessionRecord,
  logNames: readonly string[],
  now: number,
): Promise<SessionCopy | null> {
  try {
    return { record, logs: await readLogs(store, record.id, logNames, now) };
  } catch (error) {
    if (isSessionError(error, 'SESSION_NOT_FOUND')) return null;
    throw error;
  }
}

/**
 * Creates a session with its logs in the target, atomically, never overwriting: a session that is already
 * there is compared by version and message count instead. Because each create is all or nothing, an
 * interrupted copy leaves every session either complete or absent, and running it again finishes it.
 */
export async function writeSession(
  target: SessionStore,
  copy: SessionCopy,
  now: number,
): Promise<WriteOutcome> {
  if (isExpired(copy.record, now)) return { kind: 'expired' };
  const hasLogs = Object.keys(copy.logs).length > 0;
  // Two attempts: the existing record may expire or be deleted between the failed create and the get.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await target.create(copy.record, hasLogs ? { now, logs: copy.logs } : { now });
      return { kind: 'copied' };
    } catch (error) {
      if (!isSessionError(error, 'SESSION_EXISTS')) throw error;
    }
    const existing = await target.get(copy.record.id, { now });
    if (!existing) continue;
    if (
      existing.version === copy.record.version &&
      existing.messageCount === copy.record.messageCount
    ) {
      return { kind: 'present' };
    }
    return {
      kind: 'conflict',
      reason: `the target holds version ${existing.version} with ${existing.messageCount} messages, the source version ${copy.record.version} with ${copy.record.messageCount}`,
    };
  }
  return { kind: 'conflict', reason: 'the target record kept changing while it was compared' };
}

/**
 * The target store did not keep the logs handed to `create`: its adapter predates that part of the
 * contract and stored the record alone. Continuing would copy every session without its history.
 */
export class LogsDroppedError extends Error {
  readonly code = 'LOGS_DROPPED';

  constructor(id: string) {
    super(
      `the target store did not keep the logs given to create(): session ${id} was stored without them, ` +
        'so its adapter predates create-with-logs. Upgrade the adapter package, remove that session from the ' +
        `target (mcp-session close ${id} --purge --store <target>) and run again.`,
    );
    this.name = 'LogsDroppedError';
  }
}

/**
 * `writeSession` that proves, on the first session with logs it creates, that the target keeps logs
 * given to `create` (an adapter written before `create` took logs stores the record alone, silently).
 * Other sessions with logs wait for that proof; once it fails, every later write fails, so at most one
 * session is stored incomplete.
 */
export class CheckedWriter {
  readonly #target: SessionStore;
  #proven = false;
  #probe: Promise<unknown> | null = null;
  #failure: LogsDroppedError | null = null;

  constructor(target: SessionStore) {
    this.#target = target;
  }

  /** Writes one session; see `writeSession`. */
  async write(copy: SessionCopy, now: () => number): Promise<WriteOutcome> {
    if (this.#failure) throw this.#failure;
    const logNames = Object.keys(copy.logs).filter((name) => (copy.logs[name]?.length ?? 0) > 0);
    if (this.#proven || logNames.length === 0) return writeSession(this.#target, copy, now());
    while (this.#probe) {
      await this.#probe;
      if (this.#proven) return writeSession(this.#target, copy, now());
    }
    const run = (async () => {
      const at = now();
      const outcome = await writeSession(this.#target, copy, at);
      // Only a session this call created proves anything; otherwise the next one probes.
      if (outcome.kind === 'copied') {
        const kept = await readLogs(this.#target, copy.record.id, logNames, at);
        if (canonicalJson(kept) !== canonicalJson(pick(copy.logs, logNames))) {
          this.#failure = new LogsDroppedError(copy.record.id);
          throw this.#failure;
        }
        this.#proven = true;
      }
      return outcome;
    })();
    const probe = run.finally(() => {
      this.#probe = null;
    });
    // Waiting writers see the failure; with none waiting it must not count as unhandled.
    probe.catch(() => undefined);
    this.#probe = probe;
    return run;
  }
}

function pick<T>(object: Record<string, T>, keys: readonly string[]): Record<string, T> {
  return Object.fromEntries(keys.map((key) => [key, object[key] as T]));
}

/**
 * Names what differs between a session and its copy: record fields, then `log:<name>`. Objects compare
 * by content, whatever their key order (Postgres `jsonb` sorts keys).
 */
export function compareSessions(source: SessionCopy, copy: SessionCopy | null): string[] {
  if (!copy) return ['missing'];
  const differences: string[] = [];
  const fields = Object.keys(source.record) as (keyof SessionRecord)[];
  for (const field of fields) {
    const a = source.record[field];
    const b = copy.record[field];
    // Scalars compare directly; only objects need the key-order-free comparison.
    if (a !== b && (typeof a !== 'object' || canonicalJson(a) !== canonicalJson(b))) {
      differences.push(field);
    }
  }
  const logs = new Set([...Object.keys(source.logs), ...Object.keys(copy.logs)]);
  for (const log of logs) {
    if (canonicalJson(source.logs[log] ?? []) !== canonicalJson(copy.logs[log] ?? [])) {
      differences.push(`log:${log}`);
    }
  }
  return differences;
}

/** JSON with object keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return inner;
    // A null prototype makes every key, `__proto__` included, an ordinary own property.
    const sorted: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(inner).sort()) {
      sorted[key] = (inner as Record<string, unknown>)[key];
    }
    return sorted;
  });
}

/**
 * Maps `items` through `fn` with at most `limit` calls pending at once, keeping the order. After a
 * failure no new call starts, and it rejects only once the pending calls settled, so the caller never
 * closes a store under work still running.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  });
  const settled = await Promise.allSettled(lanes);
  const failure = settled.find((lane) => lane.status === 'rejected');
  if (failure) throw failure.reason;
  return results;
}
