import {
  isSessionError,
  type JsonValue,
  type LogEntry,
  SESSION_STATES,
  type SessionRecord,
  type SessionState,
} from '@mcp-session/core';
import type { ResolvedOptions } from './options.js';

/** A failure the client may see: a status and a fixed message that never holds request data or secrets. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Most sweep batches one request runs (1,000 records each), so one click never blocks for long. */
const MAX_SWEEP_BATCHES = 100;
const SWEEP_BATCH = 1_000;

/** One row of the sessions table: everything but the payloads. */
export interface SessionSummary {
  id: string;
  state: SessionState;
  owner: string | null;
  createdAt: number;
  lastActivityAt: number;
  expiresAt: number | null;
  version: number;
  messageCount: number;
}

function summary(record: SessionRecord): SessionSummary {
  const { id, state, owner, createdAt, lastActivityAt, expiresAt, version, messageCount } = record;
  return { id, state, owner, createdAt, lastActivityAt, expiresAt, version, messageCount };
}

function positiveInteger(text: string | null, name: string, max: number): number | undefined {
  if (text === null || text === '') return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new ApiError(400, 'BAD_REQUEST', `${name} must be a whole number from 1 to ${max}`);
  }
  return value;
}

/** The JSON API the front-end calls; every method works through the store's public primitives. */
export class DashboardApi {
  readonly #options: ResolvedOptions;

  constructor(options: ResolvedOptions) {
    this.#options = options;
  }

  config() {
    const { write, refreshMs, pageSize, logPageSize, logs, store } = this.#options;
    return { write, refreshMs, pageSize, logPageSize, logs, capabilities: store.capabilities };
  }

  async stats() {
    const now = this.#options.now();
    return { now, ...(await this.#options.store.stats(now)) };
  }

  async sessions(query: URLSearchParams) {
    const state = query.get('state') || undefined;
    if (state !== undefined && !(SESSION_STATES as readonly string[]).includes(state)) {
      throw new ApiError(400, 'BAD_REQUEST', `state must be one of ${SESSION_STATES.join(', ')}`);
    }
    const owner = query.get('owner') || undefined;
    const limit = positiveInteger(query.get('limit'), 'limit', 500) ?? this.#options.pageSize;
    const cursor = query.get('cursor') || null;
    const now = this.#options.now();
    try {
      const page = await this.#options.store.list({
        now,
        limit,
        cursor,
        ...(state === undefined ? {} : { state: state as SessionState }),
        ...(owner === undefined ? {} : { owner }),
      });
      return { now, records: page.records.map(summary), nextCursor: page.nextCursor };
    } catch (error) {
      if (isSessionError(error, 'INVALID_VALUE')) {
        throw new ApiError(
          400,
          'BAD_CURSOR',
          'this page cursor is not valid: start from the first page',
        );
      }
      throw error;
    }
  }

  async session(id: string) {
    const now = this.#options.now();
    const record = await this.#options.store.get(id, { now });
    if (!record) throw new ApiError(404, 'NOT_FOUND', 'no live session has this storage id');
    return { now, record, logs: this.#options.logs };
  }

  async log(id: string, name: string, query: URLSearchParams) {
    const log = this.#options.logs.find((l) => l.name === name);
    if (!log) throw new ApiError(404, 'NOT_FOUND', 'the dashboard does not show this log');
    const beforeSeq = positiveInteger(query.get('beforeSeq'), 'beforeSeq', Number.MAX_SAFE_INTEGER);
    const limit = positiveInteger(query.get('limit'), 'limit', 500) ?? this.#options.logPageSize;
    const now = this.#options.now();
    let entries: LogEntry[];
    try {
      // One more than shown tells whether an older page exists without counting the log.
      entries = await this.#options.store.read(id, name, {
        now,
        order: 'desc',
        limit: limit + 1,
        ...(beforeSeq === undefined ? {} : { beforeSeq }),
      });
    } catch (error) {
      if (isSessionError(error, 'SESSION_NOT_FOUND')) {
        throw new ApiError(404, 'NOT_FOUND', 'no live session has this storage id');
      }
      throw error;
    }
    const page = entries
      .slice(0, limit)
      .map((entry) =>
        log.sealed ? { seq: entry.seq, at: entry.at, sealedBytes: sealedSize(entry.data) } : entry,
      );
    return { name, sealed: log.sealed, entries: page, hasOlder: entries.length > limit };
  }

  async close(id: string, body: unknown) {
    this.#assertWrite();
    if ((body as { confirm?: unknown } | null)?.confirm !== id) {
      throw new ApiError(400, 'CONFIRM', 'confirm by sending {"confirm": "<the storage id>"}');
    }
    const { store, closedRetentionMs } = this.#options;
    const now = this.#options.now();
    const record = await store.get(id, { now });
    if (!record) throw new ApiError(404, 'NOT_FOUND', 'no live session has this storage id');
    if (record.state === 'closed')
      return { closed: true, changed: false, expiresAt: record.expiresAt };
    const expiresAt = now + closedRetentionMs;
    try {
      // The change SessionManager.closeSession makes, guarded so a racing close is not overwritten.
      await store.update(
        id,
        { state: 'closed', lastActivityAt: now, expiresAt },
        { now, expectedState: ['active', 'idle', 'suspended'] },
      );
    } catch (error) {
      if (isSessionError(error, 'VERSION_CONFLICT')) return { closed: true, changed: false };
      if (isSessionError(error, 'SESSION_NOT_FOUND')) {
        throw new ApiError(404, 'NOT_FOUND', 'the session expired or was deleted meanwhile');
      }
      throw error;
    }
    return { closed: true, changed: true, expiresAt };
  }

  async sweep(body: unknown) {
    this.#assertWrite();
    if ((body as { confirm?: unknown } | null)?.confirm !== 'sweep') {
      throw new ApiError(400, 'CONFIRM', 'confirm by sending {"confirm": "sweep"}');
    }
    const { store } = this.#options;
    let swept = 0;
    for (let batch = 0; batch < MAX_SWEEP_BATCHES; batch++) {
      const deleted = await store.sweep(this.#options.now(), { limit: SWEEP_BATCH });
      swept += deleted;
      if (deleted < SWEEP_BATCH) return { swept, more: false };
    }
    return { swept, more: true };
  }

  #assertWrite() {
    if (!this.#options.write) {
      throw new ApiError(
        403,
        'READ_ONLY',
        'the dashboard is read-only: start it in write mode to change sessions',
      );
    }
  }
}

function sealedSize(data: JsonValue): number {
  return typeof data === 'string' ? data.length : JSON.stringify(data).length;
}
