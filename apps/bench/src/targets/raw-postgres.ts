import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { SessionWorkload, Target } from '../workload.js';

const TTL_MS = 30 * 60_000;

/** The ceiling for Postgres: one statement per operation on pg, in a schema of its own. */
export function rawPostgresTarget(url: string, schema: string): Target {
  return {
    backend: 'postgres',
    kind: 'raw',
    async open() {
      const pool = new pg.Pool({ connectionString: url, max: 10 });
      const s = schema;
      await pool.query(`
        CREATE SCHEMA ${s};
        CREATE TABLE ${s}.sessions (id text COLLATE "C" PRIMARY KEY, state text NOT NULL, context jsonb NOT NULL,
          expires_at bigint, version bigint NOT NULL, message_count bigint NOT NULL);
        CREATE INDEX ON ${s}.sessions (expires_at);
        CREATE TABLE ${s}.entries (sid text COLLATE "C" NOT NULL, seq bigint NOT NULL, data jsonb NOT NULL,
          PRIMARY KEY (sid, seq));`);
      let now = Date.now();
      const create = async () => {
        const id = randomBytes(24).toString('base64url');
        await pool.query(`INSERT INTO ${s}.sessions VALUES ($1, 'active', '{}', $2, 1, 0)`, [
          id,
          now + TTL_MS,
        ]);
        return id;
      };
      const workload: SessionWorkload = {
        create,
        get: async (id) =>
          (await pool.query(`SELECT * FROM ${s}.sessions WHERE id = $1`, [id])).rows[0],
        setContextKey: (id, key, value) =>
          pool.query(
            `UPDATE ${s}.sessions SET context = jsonb_set(context, ARRAY[$2::text], $3::jsonb), version = version + 1 WHERE id = $1`,
            [id, key, JSON.stringify(value)],
          ),
        append: (id, message, cap) =>
          pool.query(
            `WITH bumped AS (
               UPDATE ${s}.sessions SET message_count = message_count + 1, version = version + 1
               WHERE id = $1 RETURNING message_count AS seq),
             inserted AS (INSERT INTO ${s}.entries SELECT $1, seq, $2::jsonb FROM bumped RETURNING seq)
             DELETE FROM ${s}.entries WHERE sid = $1 AND $3::bigint IS NOT NULL
               AND seq <= (SELECT seq FROM inserted) - $3::bigint`,
            [id, JSON.stringify(message), cap ?? null],
          ),
        readLast20: async (id) =>
          (
            await pool.query(
              `SELECT data FROM ${s}.entries WHERE sid = $1 ORDER BY seq DESC LIMIT 20`,
              [id],
            )
          ).rows.reverse(),
        transition: async (id, to) => {
          const result = await pool.query(
            `UPDATE ${s}.sessions SET state = $2, version = version + 1 WHERE id = $1 AND state = $3`,
            [id, to, to === 'idle' ? 'active' : 'idle'],
          );
          if (result.rowCount !== 1) throw new Error('lost race');
        },
        seedExpired: async (count) => {
          await pool.query(
            `INSERT INTO ${s}.sessions SELECT md5(random()::text || g), 'active', '{}', $1, 1, 0 FROM generate_series(1, $2) g`,
            [now + TTL_MS, count],
          );
        },
        expireAll: async () => {
          now += 2 * TTL_MS;
        },
        sweep: async () => {
          let total = 0;
          for (;;) {
            const { rowCount } = await pool.query(
              `WITH doomed AS (SELECT id FROM ${s}.sessions WHERE expires_at <= $1 LIMIT 1000 FOR UPDATE SKIP LOCKED),
                    gone AS (DELETE FROM ${s}.entries WHERE sid IN (SELECT id FROM doomed))
               DELETE FROM ${s}.sessions WHERE id IN (SELECT id FROM doomed)`,
              [now],
            );
            total += rowCount ?? 0;
            if (!rowCount) return total;
          }
        },
        close: async () => {
          await pool.query(`DROP SCHEMA ${s} CASCADE`);
          await pool.end();
        },
      };
      return workload;
    },
  };
}
