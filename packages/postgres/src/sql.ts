/**
 * Every statement the store sends for its primitives, and the names they are prepared under. The DDL
 * (tables, indexes and the plpgsql functions called here) is in `migrations.ts`.
 *
 * Each builder takes the schema already quoted (`quoteIdentifier`) and returns a `Statement`: the text
 * holds only placeholders and quoted identifiers, every value travels as a bound parameter.
 */
import { createHash } from 'node:crypto';
import {
  type AppendOptions,
  type CountOptions,
  expectedStates,
  type JsonObject,
  type JsonValue,
  type ListOptions,
  type LogEntry,
  type ReadOptions,
  type RecordGuards,
  type SessionChange,
  type SessionRecord,
  type SessionState,
  type UpdateOptions,
} from '@mcp-session/core/adapter';
import type { QueryResultRow } from 'pg';

/**
 * One statement ready for `pg`: its text, its values and its prepared-statement name. `Row` is the shape
 * of the rows it returns.
 */
export interface Statement<Row extends QueryResultRow> {
  readonly name: string;
  readonly text: string;
  readonly values: unknown[];
  /** Never set: carries the row type from the builder to the caller. */
  readonly row?: Row;
}

/** A record row as pg returns it: bigint columns arrive as strings. */
export interface RecordRow {
  id: string;
  state: SessionState;
  context: JsonObject;
  metadata: JsonObject;
  owner: string | null;
  created_at: string;
  last_activity_at: string;
  expires_at: string | null;
  version: string;
  message_count: string;
}

/** What a guarded statement reports about the record it locked or read, to explain a refusal. */
export interface GuardRow {
  g_version: string;
  g_state: SessionState;
  g_owner: string | null;
  g_expires_at: string | null;
}

/** The row of `update`: the guarded record, the measured context size, and the written record if any. */
export type UpdateRow = GuardRow & { g_bytes: string | null } & Partial<RecordRow>;

/** The row of `read`: the guarded record (on every row), whether the guards held, and one entry. */
export type ReadRow = GuardRow & {
  ok: boolean;
  seq: string | null;
  at: string | null;
  data: JsonValue;
};

/** The row of `lockRecordSql`: the locked record and whether the guards hold on it. */
export type LockedRow = GuardRow & { ok: boolean };

/** The row of `replaceEntriesSql`: how many entries got new data, and the new version if any did. */
export interface ReplaceRow {
  replaced: string;
  version: string | null;
}

/** The OUT parameters of `mcp_session_append`. */
export interface AppendRow {
  o_applied: boolean;
  o_version: string | null;
  o_state: SessionState | null;
  o_owner: string | null;
  o_expires_at: string | null;
  o_message_count: string | null;
  o_first_seq: string | null;
  o_last_seq: string | null;
}

/** The row of `stats`: bigint aggregates arrive as strings, `oldest` is null without live records. */
export type StatsRow = Record<
  'total' | 'active' | 'idle' | 'suspended' | 'closed' | 'expired' | 'messages' | 'oldest',
  string | null
>;

const RECORD_COLUMNS =
  'id, state, context, metadata, owner, created_at, last_activity_at, expires_at, version, message_count';

/** `mcp_session_create(...)`: inserts the record and its imported logs unless a live one has the id. */
export function createRecordSql(
  schema: string,
  record: SessionRecord,
  logs: Readonly<Record<string, readonly LogEntry[]>>,
  now: number,
): Statement<{ created: boolean }> {
  const p = new Params();
  const args = [
    p.add(record.id, 'text'),
    p.add(record.state, 'text'),
    p.add(JSON.stringify(record.context), 'jsonb'),
    p.add(JSON.stringify(record.metadata), 'jsonb'),
    p.add(record.owner, 'text'),
    p.add(record.createdAt, 'bigint'),
    p.add(record.lastActivityAt, 'bigint'),
    p.add(record.expiresAt, 'bigint'),
    p.add(record.version, 'bigint'),
    p.add(record.messageCount, 'bigint'),
    p.add(now, 'bigint'),
    p.add(JSON.stringify(logs), 'jsonb'),
  ];
  return statement(`SELECT ${schema}.mcp_session_create(${args.join(', ')}) AS created`, p);
}

/** The live record `id`, if the guards `now` and `owner` let the caller see it. */
export function getRecordSql(
  schema: string,
  id: string,
  guards: { now: number; owner?: string | null },
): Statement<RecordRow> {
  const p = new Params();
  return statement(
    `SELECT ${RECORD_COLUMNS} FROM ${schema}.mcp_sessions AS s
     WHERE s.id = ${p.add(id, 'text')} AND ${guardPredicate('s', guards, p)}`,
    p,
  );
}

/**
 * Locks the row, checks the guards and `maxContextBytes` on it, writes the change and returns the new
 * record, in one statement. When nothing is written, the row still reports the locked record and the
 * measured size, so the caller can say why.
 */
export function updateRecordSql(
  schema: string,
  id: string,
  change: SessionChange,
  options: UpdateOptions,
): Statement<UpdateRow> {
  const p = new Params();
  const idParam = p.add(id, 'text');
  const guards = guardPredicate('cur', options, p);
  const context = contextExpression(change, p);
  const sets = ['version = s.version + 1'];
  if (change.state !== undefined) sets.push(`state = ${p.add(change.state, 'text')}`);
  if (change.metadata !== undefined) {
    sets.push(`metadata = ${p.add(JSON.stringify(change.metadata), 'jsonb')}`);
  }
  if (context !== null) sets.push('context = next.context');
  const activity = change.touch?.at ?? change.lastActivityAt;
  if (activity !== undefined) sets.push(`last_activity_at = ${p.add(activity, 'bigint')}`);
  if (change.touch) {
    sets.push(`expires_at = ${slidingExpirySql(change.touch, p)}`);
  } else if (change.expiresAt !== undefined) {
    sets.push(`expires_at = ${p.add(change.expiresAt, 'bigint')}`);
  }
  const max = options.maxContextBytes;
  // Measured on the context the update would write, inside the same statement.
  const bytes =
    max === undefined
      ? 'NULL::bigint'
      : `${schema}.mcp_session_json_bytes(c.context, ${p.add(max, 'bigint')})`;
  return statement(
    `WITH cur AS (
       SELECT version, state, owner, expires_at, context FROM ${schema}.mcp_sessions
       WHERE id = ${idParam} FOR NO KEY UPDATE
     ), next AS (
       SELECT c.context, ${bytes} AS bytes
       FROM (SELECT ${context ?? 'cur.context'} AS context FROM cur WHERE ${guards}) AS c
     ), upd AS (
       UPDATE ${schema}.mcp_sessions AS s SET ${sets.join(', ')}
       FROM next
       WHERE s.id = ${idParam}${max === undefined ? '' : ` AND next.bytes <= ${p.add(max, 'bigint')}`}
       RETURNING ${prefixed('s', RECORD_COLUMNS)}
     )
     SELECT cur.version AS g_version, cur.state AS g_state, cur.owner AS g_owner,
       cur.expires_at AS g_expires_at, next.bytes AS g_bytes, upd.*
     FROM cur LEFT JOIN next ON true LEFT JOIN upd ON true`,
    p,
  );
}

/**
 * `mcp_session_append(...)`: `kept` are the entries to write (the newest of the batch when it is larger
 * than the cap), `count` the size of the whole batch, which the seqs and `messageCount` advance by.
 */
export function appendEntriesSql(
  schema: string,
  id: string,
  log: string,
  kept: readonly JsonValue[],
  count: number,
  options: AppendOptions,
): Statement<AppendRow> {
  const p = new Params();
  const { touch } = options;
  const args = [
    p.add(id, 'text'),
    p.add(log, 'text'),
    p.add(options.now, 'bigint'),
    p.add(JSON.stringify(kept), 'jsonb'),
    p.add(count, 'bigint'),
    p.add(options.cap ?? null, 'bigint'),
    p.add(options.countMessages === true, 'boolean'),
    p.add(touch !== undefined, 'boolean'),
    p.add(touch?.at ?? null, 'bigint'),
    p.add(touch?.idleTimeoutMs ?? null, 'bigint'),
    p.add(touch?.maxLifetimeMs ?? null, 'bigint'),
    p.add(options.owner !== undefined, 'boolean'),
    p.add(options.owner ?? null, 'text'),
    p.add(options.expectedVersion ?? null, 'bigint'),
    p.add(expectedStates(options.expectedState) ?? null, 'text[]'),
  ];
  return statement(`SELECT * FROM ${schema}.mcp_session_append(${args.join(', ')})`, p);
}

/**
 * Locks the session row (every writer of a session and its logs takes this lock first) and reports it
 * with whether the guards hold. The first statement of a transaction whose later statements then see
 * whatever concurrent writers committed before the lock was granted.
 */
export function lockRecordSql(
  schema: string,
  id: string,
  guards: RecordGuards,
): Statement<LockedRow> {
  const p = new Params();
  const idParam = p.add(id, 'text');
  return statement(
    `SELECT s.version AS g_version, s.state AS g_state, s.owner AS g_owner,
       s.expires_at AS g_expires_at, (${guardPredicate('s', guards, p)}) AS ok
     FROM ${schema}.mcp_sessions AS s WHERE s.id = ${idParam} FOR NO KEY UPDATE`,
    p,
  );
}

/**
 * The new data of the batch's seqs still in the log (each keeps `seq` and `at`) and version + 1 when any
 * was replaced. Run it after `lockRecordSql` in the same transaction, as its own statement: its snapshot
 * then holds what appends committed before the lock, so it never misses their entries.
 */
export function replaceEntriesSql(
  schema: string,
  id: string,
  log: string,
  entries: readonly { seq: number; value: JsonValue }[],
): Statement<ReplaceRow> {
  const p = new Params();
  const idParam = p.add(id, 'text');
  const batch = JSON.stringify(entries.map(({ seq, value }) => ({ seq, value })));
  return statement(
    `WITH g AS (
       SELECT log_id, first_seq FROM ${schema}.mcp_session_logs
       WHERE session_id = ${idParam} AND log = ${p.add(log, 'text')}
     ), n AS (
       SELECT (e ->> 'seq')::bigint AS seq, e -> 'value' AS data
       FROM jsonb_array_elements(${p.add(batch, 'jsonb')}) AS e
     ), upd AS (
       UPDATE ${schema}.mcp_session_log_entries AS x SET data = n.data
       FROM g, n
       WHERE x.log_id = g.log_id AND x.seq = n.seq AND x.seq >= g.first_seq
       RETURNING x.seq
     ), bump AS (
       UPDATE ${schema}.mcp_sessions AS s SET version = s.version + 1
       WHERE s.id = ${idParam} AND EXISTS (SELECT 1 FROM upd)
       RETURNING s.version
     )
     SELECT (SELECT count(*) FROM upd) AS replaced, (SELECT version FROM bump) AS version`,
    p,
  );
}

/**
 * The guarded record and one page of its log. The entries scan gets the log id as a value from the
 * first row, so it walks the (log_id, seq) index from the requested end and stops after `limit` entries,
 * however long the log is.
 */
export function readEntriesSql(
  schema: string,
  id: string,
  log: string,
  options: ReadOptions,
): Statement<ReadRow> {
  const p = new Params();
  const idParam = p.add(id, 'text');
  const guards = guardPredicate('s', options, p);
  const logParam = p.add(log, 'text');
  const bounds = ['x.log_id = cur.log_id', 'x.seq >= cur.first_seq'];
  if (options.afterSeq !== undefined) bounds.push(`x.seq > ${p.add(options.afterSeq, 'bigint')}`);
  if (options.beforeSeq !== undefined) bounds.push(`x.seq < ${p.add(options.beforeSeq, 'bigint')}`);
  const order = options.order === 'desc' ? 'DESC' : 'ASC';
  const limit = options.limit === undefined ? '' : `LIMIT ${p.add(options.limit, 'bigint')}`;
  return statement(
    `WITH cur AS (
       SELECT s.version, s.state, s.owner, s.expires_at, (${guards}) AS ok, g.log_id, g.first_seq
       FROM ${schema}.mcp_sessions AS s
       LEFT JOIN ${schema}.mcp_session_logs AS g ON g.session_id = s.id AND g.log = ${logParam}
       WHERE s.id = ${idParam}
     )
     SELECT cur.version AS g_version, cur.state AS g_state, cur.owner AS g_owner,
       cur.expires_at AS g_expires_at, cur.ok, e.seq, e.at, e.data
     FROM cur LEFT JOIN LATERAL (
       SELECT x.seq, x.at, x.data
       FROM ${schema}.mcp_session_log_entries AS x
       WHERE cur.ok AND ${bounds.join(' AND ')}
       ORDER BY x.seq ${order} ${limit}
     ) AS e ON true
     ORDER BY e.seq ${order}`,
    p,
  );
}

/**
 * Deletes the record. Logs and entries go by ON DELETE CASCADE, whose deletes see rows committed after
 * this statement began (an append that held the row lock), so a racing append leaves nothing behind.
 */
export function deleteRecordSql(schema: string, id: string): Statement<QueryResultRow> {
  const p = new Params();
  return statement(`DELETE FROM ${schema}.mcp_sessions WHERE id = ${p.add(id, 'text')}`, p);
}

/** Up to `rows` live records matching the filters, in id order, after the cursor's id `after`. */
export function listRecordsSql(
  schema: string,
  options: Pick<ListOptions, 'now' | 'state' | 'owner'>,
  after: string | null,
  rows: number,
): Statement<RecordRow> {
  const p = new Params();
  const conditions = [`(expires_at IS NULL OR expires_at > ${p.add(options.now, 'bigint')})`];
  if (options.state !== undefined) conditions.push(`state = ${p.add(options.state, 'text')}`);
  if (options.owner !== undefined) conditions.push(`owner = ${p.add(options.owner, 'text')}`);
  if (after !== null) conditions.push(`id > ${p.add(after, 'text')} COLLATE "C"`);
  return statement(
    `SELECT ${RECORD_COLUMNS} FROM ${schema}.mcp_sessions
     WHERE ${conditions.join(' AND ')}
     ORDER BY id COLLATE "C" LIMIT ${p.add(rows, 'bigint')}`,
    p,
  );
}

/**
 * Deletes up to `limit` records expired at `now`. SKIP LOCKED: concurrent sweepers take different rows,
 * and rows being written are left for later; expiry is checked again on the row deleted, since a
 * concurrent touch may have extended it.
 */
export function sweepExpiredSql(
  schema: string,
  now: number,
  limit: number,
): Statement<QueryResultRow> {
  const p = new Params();
  const at = p.add(now, 'bigint');
  return statement(
    `WITH doomed AS (
       SELECT id FROM ${schema}.mcp_sessions
       WHERE expires_at <= ${at}
       ORDER BY expires_at
       LIMIT ${p.add(limit, 'bigint')}
       FOR UPDATE SKIP LOCKED
     )
     DELETE FROM ${schema}.mcp_sessions AS s USING doomed
     WHERE s.id = doomed.id AND s.expires_at <= ${at}`,
    p,
  );
}

/**
 * Live records of exactly one owner (through the partial `(owner, id)` index, so the cost grows with that
 * owner's rows only) or of every owner, in the given states. One aggregate, one snapshot.
 */
export function countRecordsSql(schema: string, options: CountOptions): Statement<{ n: string }> {
  const p = new Params();
  const conditions = [`(expires_at IS NULL OR expires_at > ${p.add(options.now, 'bigint')})`];
  if (options.owner !== undefined) conditions.push(`owner = ${p.add(options.owner, 'text')}`);
  if (options.states !== undefined) {
    conditions.push(`state = ANY (${p.add(options.states, 'text[]')})`);
  }
  return statement(
    `SELECT count(*) AS n FROM ${schema}.mcp_sessions WHERE ${conditions.join(' AND ')}`,
    p,
  );
}

/** Counts by state, expired records, messages and the oldest creation time, in one aggregate. */
export function statsSql(schema: string, now: number): Statement<StatsRow> {
  const p = new Params();
  return statement(
    `SELECT count(*) FILTER (WHERE live) AS total,
       count(*) FILTER (WHERE live AND state = 'active') AS active,
       count(*) FILTER (WHERE live AND state = 'idle') AS idle,
       count(*) FILTER (WHERE live AND state = 'suspended') AS suspended,
       count(*) FILTER (WHERE live AND state = 'closed') AS closed,
       count(*) FILTER (WHERE NOT live) AS expired,
       coalesce(sum(message_count) FILTER (WHERE live), 0) AS messages,
       min(created_at) FILTER (WHERE live) AS oldest
     FROM (
       SELECT state, message_count, created_at,
         (expires_at IS NULL OR expires_at > ${p.add(now, 'bigint')}) AS live
       FROM ${schema}.mcp_sessions
     ) AS s`,
    p,
  );
}

/** Collects bound parameters, so SQL text only ever holds placeholders and quoted identifiers. */
class Params {
  readonly values: unknown[] = [];

  add(value: unknown, type: string): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }
}

/**
 * The statement's name is derived from its text (which includes the schema), so every distinct query
 * gets one name and stores on other schemas never collide. Values never go into the text (context keys
 * travel as one jsonb or text[] parameter), so the texts, and the statements each connection keeps, are
 * bounded by the combinations of options.
 */
function statement<Row extends QueryResultRow>(text: string, params: Params): Statement<Row> {
  const name = `mcp_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
  return { name, text, values: params.values };
}

/** The guards every record-targeting primitive applies, in SQL, on the row aliased `alias`. */
function guardPredicate(alias: string, guards: RecordGuards, p: Params): string {
  const conditions = [
    `(${alias}.expires_at IS NULL OR ${alias}.expires_at > ${p.add(guards.now, 'bigint')})`,
  ];
  if (guards.owner !== undefined) {
    conditions.push(
      `(${alias}.owner IS NULL OR ${alias}.owner IS NOT DISTINCT FROM ${p.add(guards.owner, 'text')})`,
    );
  }
  if (guards.expectedVersion !== undefined) {
    conditions.push(`${alias}.version = ${p.add(guards.expectedVersion, 'bigint')}`);
  }
  const states = expectedStates(guards.expectedState);
  if (states !== undefined) conditions.push(`${alias}.state = ANY (${p.add(states, 'text[]')})`);
  return conditions.join(' AND ');
}

/**
 * The new context in SQL, computed from the locked row (`cur.context`): replacement, then per-key set
 * (`||` replaces top-level keys), then per-key delete (`-`). Null when the change leaves it alone.
 */
function contextExpression(change: SessionChange, p: Params): string | null {
  const set = Object.keys(change.contextSet ?? {});
  const deleted = change.contextDelete ?? [];
  if (change.context === undefined && set.length === 0 && deleted.length === 0) return null;
  let expression =
    change.context === undefined ? 'cur.context' : p.add(JSON.stringify(change.context), 'jsonb');
  if (set.length > 0) {
    expression = `(${expression} || ${p.add(JSON.stringify(change.contextSet), 'jsonb')})`;
  }
  if (deleted.length > 0) expression = `(${expression} - ${p.add(deleted, 'text[]')})`;
  return expression;
}

/** `least(at + idle, created_at + lifetime)`; least() skips NULL terms and is NULL when both are. */
function slidingExpirySql(touch: NonNullable<SessionChange['touch']>, p: Params): string {
  const at = p.add(touch.at, 'bigint');
  return `LEAST(${at} + ${p.add(touch.idleTimeoutMs, 'bigint')}, s.created_at + ${p.add(touch.maxLifetimeMs, 'bigint')})`;
}

function prefixed(alias: string, columns: string): string {
  return columns
    .split(', ')
    .map((column) => `${alias}.${column}`)
    .join(', ');
}
