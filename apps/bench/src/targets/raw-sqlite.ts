import { randomBytes } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import type { BenchMessage, SessionWorkload, Target } from '../workload.js';

const TTL_MS = 30 * 60_000;

/**
 * The ceiling for SQLite: the same operations straight on better-sqlite3 with the same pragmas as the
 * store (WAL, synchronous=FULL), one statement or one transaction each, no validation.
 */
export function rawSqliteTarget(path: () => string): Target {
  return {
    backend: 'sqlite',
    kind: 'raw',
    async open() {
      const db = new BetterSqlite3(path());
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(`
        CREATE TABLE s (id TEXT PRIMARY KEY, state TEXT NOT NULL, context TEXT NOT NULL, expires_at INTEGER,
                        version INTEGER NOT NULL, message_count INTEGER NOT NULL) WITHOUT ROWID;
        CREATE INDEX s_expires ON s (expires_at);
        CREATE TABLE e (sid TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (sid, seq)) WITHOUT ROWID;`);
      let now = Date.now();
      const sql = {
        insert: db.prepare("INSERT INTO s VALUES (?, 'active', '{}', ?, 1, 0)"),
        get: db.prepare('SELECT * FROM s WHERE id = ?'),
        setKey: db.prepare(
          "UPDATE s SET context = json_set(context, '$.' || ?, ?), version = version + 1 WHERE id = ?",
        ),
        bump: db.prepare(
          'UPDATE s SET message_count = message_count + 1, version = version + 1 WHERE id = ? RETURNING message_count',
        ),
        insertEntry: db.prepare('INSERT INTO e VALUES (?, ?, ?)'),
        trim: db.prepare('DELETE FROM e WHERE sid = ? AND seq <= ?'),
        last20: db.prepare('SELECT data FROM e WHERE sid = ? ORDER BY seq DESC LIMIT 20'),
        transition: db.prepare(
          'UPDATE s SET state = ?, version = version + 1 WHERE id = ? AND state = ?',
        ),
        expired: db.prepare('SELECT id FROM s WHERE expires_at <= ? LIMIT 1000').pluck(),
        deleteEntries: db.prepare('DELETE FROM e WHERE sid = ?'),
        deleteSession: db.prepare('DELETE FROM s WHERE id = ?'),
      };
      const append = db.transaction((id: string, data: string, cap: number | undefined) => {
        const { message_count: seq } = sql.bump.get(id) as { message_count: number };
        sql.insertEntry.run(id, seq, data);
        if (cap !== undefined) sql.trim.run(id, seq - cap);
      });
      const sweepBatch = db.transaction((at: number) => {
        const ids = sql.expired.all(at) as string[];
        for (const id of ids) {
          sql.deleteEntries.run(id);
          sql.deleteSession.run(id);
        }
        return ids.length;
      });
      const create = async () => {
        const id = randomBytes(24).toString('base64url');
        sql.insert.run(id, now + TTL_MS);
        return id;
      };
      const workload: SessionWorkload = {
        create,
        get: async (id) => {
          const row = sql.get.get(id) as { context: string };
          return { ...row, context: JSON.parse(row.context) };
        },
        setContextKey: async (id, key, value) => sql.setKey.run(key, value, id),
        append: async (id, message: BenchMessage, cap) => append(id, JSON.stringify(message), cap),
        readLast20: async (id) =>
          (sql.last20.all(id) as { data: string }[]).map((r) => JSON.parse(r.data)).reverse(),
        transition: async (id, to) => {
          if (sql.transition.run(to, id, to === 'idle' ? 'active' : 'idle').changes !== 1)
            throw new Error('lost race');
        },
        seedExpired: async (count) => {
          for (let i = 0; i < count; i++) await create();
        },
        expireAll: async () => {
          now += 2 * TTL_MS;
        },
        sweep: async () => {
          let total = 0;
          for (;;) {
            const deleted = sweepBatch(now) as number;
            total += deleted;
            if (deleted === 0) return total;
          }
        },
        close: async () => {
          db.close();
        },
      };
      return workload;
    },
  };
}
