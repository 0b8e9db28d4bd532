/**
 * What one session's event logs take in each backend, read out of band (the backend's own files, tables
 * and keys, never through the event store), for the event-storage budget test.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { SessionManager } from '@mcp-session/core';
import { adminPool } from '@mcp-session/test-utils/postgres';
import type { StoreKind } from '@mcp-session/test-utils/stores';
import { Redis } from 'ioredis';

/** Entries and bytes of one session's logs in a backend, and how they were counted. */
export interface SessionFootprint {
  /** Log entries kept (all of the session's logs). */
  entries: number;
  /** Bytes the backend uses for them (see `measured`). */
  bytes: number;
  /** What `bytes` is, in the backend's terms. */
  measured: string;
}

/** The slice of better-sqlite3 the tests use (its types are not a dependency of this package). */
export interface SqliteDatabase {
  pragma(source: string): unknown;
  prepare(source: string): {
    get(...params: unknown[]): unknown;
    all(...params: unknown[]): unknown[];
  };
  close(): void;
}
const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as new (
  file: string,
  options?: { fileMustExist?: boolean },
) => SqliteDatabase;

/** A second connection to an existing SQLite database, beside the store's own. */
export function openSqliteDatabase(file: string): SqliteDatabase {
  return new BetterSqlite3(file, { fileMustExist: true });
}

/**
 * Measures the logs of session `sessionId` in the store at `url` (of `kind`). `eventIds` are the SSE ids
 * the client saw: the memory store has no out-of-band view, so it is read through the manager, log by
 * log, for every log an event store of this package ever wrote them to (`sse`, and `sse.<stream>` of
 * the former one-log-per-stream design).
 */
export async function sessionFootprint(
  kind: StoreKind,
  url: string,
  manager: SessionManager,
  sessionId: string,
  owner: string | null,
  eventIds: Iterable<string>,
): Promise<SessionFootprint> {
  const storageId = manager.storageId(sessionId);
  switch (kind) {
    case 'memory': {
      const logs = new Set(['sse']);
      for (const id of eventIds) logs.add(`sse.${id.split('.')[1]}`);
      let entries = 0;
      let bytes = 0;
      for (const log of logs) {
        if (log.length > 128) continue;
        for (const entry of await manager.readLog(sessionId, log, { owner })) {
          entries++;
          bytes += Buffer.byteLength(JSON.stringify(entry.data));
        }
      }
      return { entries, bytes, measured: 'JSON bytes of the entries' };
    }
    case 'sqlite': {
      const file = url.slice('sqlite:'.length);
      const db = openSqliteDatabase(file);
      try {
        // Moves the write-ahead log into the database file, so its size is what landed.
        db.pragma('wal_checkpoint(TRUNCATE)');
        const { entries } = db
          .prepare('SELECT count(*) AS entries FROM log_entries WHERE session_id = ?')
          .get(storageId) as { entries: number };
        return {
          entries,
          bytes: statSync(file).size + fileSize(`${file}-wal`),
          measured: 'database file (checkpointed) plus WAL',
        };
      } finally {
        db.close();
      }
    }
    case 'file': {
      const root = join(url.slice('file:'.length), 'sessions');
      const digest = createHash('sha256').update(storageId, 'utf8').digest('hex');
      const shard = join(root, digest.slice(0, 2));
      const files = [join(shard, `${digest}.json`)];
      for (const name of safeReaddir(join(shard, digest))) files.push(join(shard, digest, name));
      let entries = 0;
      let bytes = 0;
      for (const path of files) {
        bytes += fileSize(path);
        if (path.endsWith('.jsonl')) entries += lineCount(path);
      }
      return {
        entries,
        bytes,
        measured: `${files.length} files: the record and its log files (lines, trimmed ones included)`,
      };
    }
    case 'redis': {
      const parsed = new URL(url);
      const prefix = parsed.searchParams.get('prefix') ?? '';
      parsed.search = '';
      const key = `${prefix}:s:{${Buffer.from(storageId, 'utf8').toString('base64url')}}:logs`;
      const redis = new Redis(parsed.toString(), { lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      try {
        const fields = await redis.hlen(key);
        const bytes = ((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) as number) ?? 0;
        return {
          entries: fields,
          bytes,
          measured: 'MEMORY USAGE of the logs hash (HLEN as entries)',
        };
      } finally {
        redis.disconnect();
      }
    }
    case 'postgres': {
      const schema = new URL(url).searchParams.get('schema') ?? '';
      const quoted = `"${schema.replaceAll('"', '""')}"`;
      const table = `${quoted}.mcp_session_log_entries`;
      const pool = adminPool();
      const size = async () => {
        const { rows } = await pool.query<{ bytes: string }>(
          `SELECT pg_total_relation_size('${table}') AS bytes`,
        );
        return Number(rows[0]?.bytes);
      };
      try {
        const { rows } = await pool.query<{ entries: string }>(
          `SELECT count(*) AS entries FROM ${table} JOIN ${quoted}.mcp_session_logs USING (log_id)
            WHERE session_id = $1`,
          [storageId],
        );
        // Trimmed rows stay as dead tuples until (auto)vacuum reclaims them; what the live rows take is
        // the size once they are gone.
        const withDeadRows = await size();
        await pool.query(`VACUUM FULL ${table}`);
        return {
          entries: Number(rows[0]?.entries),
          bytes: await size(),
          measured: `pg_total_relation_size of the entries table (heap, TOAST, index) after VACUUM FULL; ${withDeadRows} bytes before it`,
        };
      } finally {
        await pool.end();
      }
    }
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function safeReaddir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function lineCount(path: string): number {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '').length;
}
