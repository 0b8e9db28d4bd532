import { createHash } from 'node:crypto';
import {
  expectedStates,
  type JsonObject,
  type JsonValue,
  type LogEntry,
  type RecordGuards,
  type SessionRecord,
  type SessionState,
  type Touch,
} from '@mcp-session/core/adapter';

/** A Lua script run with EVALSHA (falling back to EVAL when the server's script cache lacks it). */
export interface LuaScript {
  readonly name: string;
  readonly lua: string;
  /** SHA-1 of `lua`, as EVALSHA wants it. */
  readonly sha: string;
}

/**
 * One run of a script: its KEYS and ARGV. Each script below is followed by its encoder, which builds
 * this from named fields; the docs of those fields are the script's KEYS and ARGV documentation, down
 * to the positions the Lua reads.
 */
export interface ScriptCall {
  readonly script: LuaScript;
  readonly keys: readonly string[];
  readonly args: readonly string[];
}

function script(name: string, ...parts: string[]): LuaScript {
  const lua = parts.join('\n');
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/*
 * Data model (see README "Key layout").
 *
 * Record hash: state, owner (absent when null), createdAt, lastActivityAt, expiresAt (absent when null),
 * version, messageCount, metadata (JSON), gen, contextBytes, and one field per context key: the key
 * JSON-encoded (so it starts with a double quote and never clashes with a record field) holding the
 * value's JSON. contextBytes is the sum over context fields of #field + #value + 2, so the context's
 * JSON size is 2 when it is 0 and contextBytes + 1 otherwise.
 *
 * Logs hash: `<log>` holds "<first seq> <last seq>" and `<log>#<seq>` holds "<at>,<data JSON>". Log
 * names cannot contain '#' or spaces. A log's retained seqs are always first..last, so reads and trims
 * address entries by arithmetic, at a cost independent of the log's length.
 *
 * Numbers travel as strings and are stored verbatim; numbers computed here are formatted with %.17g,
 * which round-trips every double (Lua's tostring keeps only 14 digits). User JSON is never decoded
 * here: cjson would round numbers.
 */
const COMMON = `
local function fmt(n) return string.format('%.17g', n) end

local function chunked(command, key, items)
  local i = 1
  while i <= #items do
    local j = math.min(i + 999, #items)
    redis.call(command, key, unpack(items, i, j))
    i = j + 1
  end
end

local function hmget_all(key, fields)
  local out = {}
  local i = 1
  while i <= #fields do
    local j = math.min(i + 999, #fields)
    local got = redis.call('HMGET', key, unpack(fields, i, j))
    for k = 1, #got do out[#out + 1] = got[k] end
    i = j + 1
  end
  return out
end

-- Native expiry trails the record's expiresAt by the grace period, so a caller whose clock is a little
-- behind Redis's never sees a live session vanish. Run it after every other write of a script: a time
-- already past deletes the keys at once.
local function expire_keys(exp, grace, k1, k2)
  local at = exp and math.ceil(tonumber(exp) + grace)
  if at and at < 8.64e15 then
    at = string.format('%.0f', at)
    redis.call('PEXPIREAT', k1, at)
    if k2 then redis.call('PEXPIREAT', k2, at) end
  else
    redis.call('PERSIST', k1)
    if k2 then redis.call('PERSIST', k2) end
  end
end

local function record_meta(key)
  local r = redis.call('HMGET', key, 'gen', 'version', 'state', 'expiresAt', 'messageCount', 'createdAt', 'owner')
  if not r[3] then return nil end
  return { g = r[1], v = r[2], state = r[3], exp = r[4] or nil, mc = r[5], born = r[6], owner = r[7] or nil }
end
`;

/** The record hash of a new record as field/value strings: every field but `gen`, which create draws. */
function recordHashFields(record: SessionRecord): string[] {
  const fields = [
    'state',
    record.state,
    'createdAt',
    String(record.createdAt),
    'lastActivityAt',
    String(record.lastActivityAt),
    'version',
    String(record.version),
    'messageCount',
    String(record.messageCount),
    'metadata',
    JSON.stringify(record.metadata),
  ];
  if (record.owner !== null) fields.push('owner', record.owner);
  if (record.expiresAt !== null) fields.push('expiresAt', String(record.expiresAt));
  let bytes = 0;
  for (const [key, value] of Object.entries(record.context)) {
    const field = contextField(key);
    const json = JSON.stringify(value);
    fields.push(field, json);
    bytes += Buffer.byteLength(field) + Buffer.byteLength(json) + 2;
  }
  fields.push('contextBytes', String(bytes));
  return fields;
}

/** The record hash field of a context key. */
function contextField(key: string): string {
  return JSON.stringify(key);
}

/** A log entry as the logs hash holds it. */
function logEntryValue(at: number, data: JsonValue): string {
  return `${at},${JSON.stringify(data)}`;
}

/*
 * Guards, in contract order: exists and not expired, owner, expectedVersion, expectedState, read from
 * ARGV[p..p+4] as guardArgs encodes them. On failure the script returns the guarded fields and the
 * caller raises the matching error with checkGuards.
 */
const GUARDS = `
local function guard_fields(key)
  return redis.call('HMGET', key, 'state', 'owner', 'version', 'expiresAt', 'createdAt')
end

local function guards_hold(r, p)
  local state, owner, version, exp = r[1], r[2], r[3], r[4]
  if not state then return false end
  if exp and tonumber(exp) <= tonumber(ARGV[p]) then return false end
  local mode = ARGV[p + 1]
  if mode == 'n' and owner then return false end
  if mode == 'o' and owner and owner ~= ARGV[p + 2] then return false end
  if ARGV[p + 3] ~= '' and tonumber(version) ~= tonumber(ARGV[p + 3]) then return false end
  if ARGV[p + 4] ~= '' then
    local hit = false
    for s in string.gmatch(ARGV[p + 4], '[^,]+') do
      if s == state then hit = true end
    end
    if not hit then return false end
  end
  return true
end

local function guard_failure(r)
  return { 'guard', r[1] or '', r[2] or '', r[3] or '', r[4] or '' }
end

-- Sliding expiry of a touch: min(at + idle, createdAt + lifetime), a missing term being no bound.
local function sliding(created, at, idle, life)
  local by_idle = nil
  local by_life = nil
  if idle ~= '' then by_idle = tonumber(at) + tonumber(idle) end
  if life ~= '' then by_life = tonumber(created) + tonumber(life) end
  if not by_idle then return by_life end
  if not by_life then return by_idle end
  return math.min(by_idle, by_life)
end
`;

/**
 * The five guard arguments, from position p: p the caller's now (epoch milliseconds); p+1 the owner
 * mode, '' for no owner guard, 'n' when the record must be unbound (owner null), 'o' when it must be
 * unbound or owned by p+2; p+2 that owner; p+3 the expected version, '' for any; p+4 the expected
 * states joined by commas, '' for any.
 */
function guardArgs(guards: RecordGuards): string[] {
  const { owner, expectedVersion } = guards;
  const states = expectedStates(guards.expectedState);
  return [
    String(guards.now),
    owner === undefined ? '' : owner === null ? 'n' : 'o',
    owner ?? '',
    expectedVersion === undefined ? '' : String(expectedVersion),
    // An empty list admits no state; a lone comma encodes it (no state name matches).
    states === undefined ? '' : states.length === 0 ? ',' : states.join(','),
  ];
}

/**
 * The three touch arguments: the activity time (epoch milliseconds), the idle window and the lifetime
 * (milliseconds, '' for no bound); all three '' for no touch.
 */
function touchArgs(touch: Touch | undefined): string[] {
  if (touch === undefined) return ['', '', ''];
  return [
    String(touch.at),
    touch.idleTimeoutMs === null ? '' : String(touch.idleTimeoutMs),
    touch.maxLifetimeMs === null ? '' : String(touch.maxLifetimeMs),
  ];
}

/*
 * Index: all (ZSET of ids, score 0, for listing in byte order), own (ZSET of owner NUL id, score 0),
 * exp (ZSET id by expiresAt), born (ZSET id by createdAt), meta (HASH id -> "gen version state
 * expiresAt|- messageCount createdAt[ owner]") and sum (HASH state -> count, messages -> total
 * messageCount). Owners never contain NUL, so "owner NUL" prefixes cannot overlap.
 */
const INDEX = `
local IX = {}
local function index_keys(first)
  IX.all, IX.own, IX.exp, IX.born, IX.meta, IX.sum =
    KEYS[first], KEYS[first + 1], KEYS[first + 2], KEYS[first + 3], KEYS[first + 4], KEYS[first + 5]
end

local function meta_decode(s)
  if not s then return nil end
  local g, v, state, exp, mc, born, owner = string.match(s, '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) ?(.*)$')
  if not g then return nil end
  if exp == '-' then exp = nil end
  if owner == '' then owner = nil end
  return { g = g, v = v, state = state, exp = exp, mc = mc, born = born, owner = owner }
end

local function meta_encode(m)
  local s = m.g .. ' ' .. m.v .. ' ' .. m.state .. ' ' .. (m.exp or '-') .. ' ' .. m.mc .. ' ' .. m.born
  if m.owner then s = s .. ' ' .. m.owner end
  return s
end

-- Moves the index entry of id from old to new (either may be nil), touching only what changed.
local function index_write(id, old, new)
  if new and not old then redis.call('ZADD', IX.all, 0, id) end
  if not new then
    redis.call('ZREM', IX.all, id)
    redis.call('ZREM', IX.exp, id)
    redis.call('ZREM', IX.born, id)
    redis.call('HDEL', IX.meta, id)
  end
  local old_owner = old and old.owner
  local new_owner = new and new.owner
  if old_owner ~= new_owner then
    if old_owner then redis.call('ZREM', IX.own, old_owner .. '\\0' .. id) end
    if new_owner then redis.call('ZADD', IX.own, 0, new_owner .. '\\0' .. id) end
  end
  if old then
    redis.call('HINCRBY', IX.sum, old.state, -1)
    -- 0 - x, not -x: Lua would send -0 for 0, which HINCRBY rejects
    redis.call('HINCRBY', IX.sum, 'messages', 0 - tonumber(old.mc))
  end
  if new then
    redis.call('HINCRBY', IX.sum, new.state, 1)
    redis.call('HINCRBY', IX.sum, 'messages', new.mc)
    if new.exp ~= (old and old.exp) then
      if new.exp then redis.call('ZADD', IX.exp, new.exp, id) else redis.call('ZREM', IX.exp, id) end
    end
    if new.born ~= (old and old.born) then redis.call('ZADD', IX.born, new.born, id) end
    redis.call('HSET', IX.meta, id, meta_encode(new))
  end
end

local function index_get(id)
  return meta_decode(redis.call('HGET', IX.meta, id))
end

-- Applies a record's state unless the index already holds a later (gen, version) of it: in Cluster mode
-- index writes of racing callers may arrive out of order, and an older one must not win.
local function index_apply(id, new, force)
  local old = index_get(id)
  if old and not force then
    local og, ng = tonumber(old.g), tonumber(new.g)
    if og > ng or (og == ng and tonumber(old.v) >= tonumber(new.v)) then return 0 end
  end
  index_write(id, old, new)
  return 1
end

-- Drops index entries whose keys Redis has expired on its own, so the index stays bounded even when
-- nobody calls sweep. Those are the entries whose expiresAt + grace has passed by Redis's clock, which
-- set the keys' expiry: by the caller's, a caller running ahead would drop entries of sessions still
-- stored, which sweep would then never delete and stats never count.
local function index_prune(grace, max)
  local time = redis.call('TIME')
  local redis_now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local ids = redis.call('ZRANGEBYSCORE', IX.exp, '-inf', '(' .. fmt(redis_now - grace), 'LIMIT', 0, max)
  for _, id in ipairs(ids) do index_write(id, index_get(id), nil) end
  return #ids
end
`;

/** Entries pruned from the index by each create: enough to outpace sessions expiring unswept. */
const PRUNE_PER_CREATE = 8;

/*
 * Session scripts: KEYS[1] record, KEYS[2] logs, and in standalone mode KEYS[3..8] the index, which
 * they then maintain in the same atomic step. In Cluster mode (two keys) they return the record's index
 * entry instead, and the caller applies it with the index script.
 */
const SESSION_HEADER = `
local INLINE = #KEYS > 2
if INLINE then index_keys(3) end
`;

/** The KEYS of a session script. */
export interface SessionKeys {
  /** KEYS[1]: the record hash. */
  readonly record: string;
  /** KEYS[2]: the logs hash. */
  readonly logs: string;
  /** KEYS[3..8] on a standalone server: the six index keys; null on a Cluster. */
  readonly index: readonly string[] | null;
}

function sessionKeyList({ record, logs, index }: SessionKeys): string[] {
  return index === null ? [record, logs] : [record, logs, ...index];
}

/**
 * create: inserts a record and its imported logs, replacing an expired one (ARGV: see CreateArgs).
 * Returns {'exists'} or {'ok', meta}.
 */
const create = script(
  'create',
  COMMON,
  INDEX,
  SESSION_HEADER,
  `
local id, now, grace, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local old = redis.call('HMGET', KEYS[1], 'state', 'expiresAt', 'gen')
if old[1] and (not old[2] or tonumber(old[2]) > now) then return { 'exists' } end
redis.call('UNLINK', KEYS[1], KEYS[2])
local time = redis.call('TIME')
local gen = tonumber(time[1]) * 1000000 + tonumber(time[2])
if old[3] and tonumber(old[3]) >= gen then gen = tonumber(old[3]) + 1 end
local fields = { 'gen', fmt(gen) }
for i = 5, 4 + n do fields[#fields + 1] = ARGV[i] end
chunked('HSET', KEYS[1], fields)
local entries = {}
for i = 5 + n, #ARGV do entries[#entries + 1] = ARGV[i] end
chunked('HSET', KEYS[2], entries)
local meta = record_meta(KEYS[1])
if INLINE then
  index_prune(grace, ${PRUNE_PER_CREATE})
  index_apply(id, meta, true)
end
expire_keys(meta.exp, grace, KEYS[1], KEYS[2])
return { 'ok', meta_encode(meta) }
`,
);

/** What create runs with. */
export interface CreateArgs {
  keys: SessionKeys;
  /**
   * The record: ARGV[1] its id; ARGV[4] n, the number of record hash field/value strings that follow,
   * ARGV[5..4+n].
   */
  record: SessionRecord;
  /** ARGV[2]: the caller's clock, epoch milliseconds: a record under the id is replaced if expired. */
  now: number;
  /** ARGV[3]: expiryGraceMs. */
  graceMs: number;
  /**
   * ARGV[5+n..]: the imported logs as logs hash field/value strings (`checkImportedLogs` made sure
   * their seqs are consecutive).
   */
  logs: readonly (readonly [log: string, entries: readonly LogEntry[]])[];
}

export function encodeCreate({ keys, record, now, graceMs, logs }: CreateArgs): ScriptCall {
  const fields = recordHashFields(record);
  const logFields: string[] = [];
  for (const [log, entries] of logs) {
    const first = entries[0];
    const last = entries.at(-1);
    if (!first || !last) continue;
    logFields.push(log, `${first.seq} ${last.seq}`);
    for (const entry of entries) {
      logFields.push(`${log}#${entry.seq}`, logEntryValue(entry.at, entry.data));
    }
  }
  return {
    script: create,
    keys: sessionKeyList(keys),
    args: [record.id, String(now), String(graceMs), String(fields.length), ...fields, ...logFields],
  };
}

/**
 * get: the record hash, only when the guards let the caller see it (ARGV: see GetArgs). Returns {} for
 * an absent, expired or hidden record, else its fields as a flat field/value list. Checking the guard
 * fields first means a hidden record's context never leaves Redis, so a 404 for another owner's
 * session costs what one for a missing id costs, whatever the size of its context.
 */
const get = script(
  'get',
  // The guards of guards_hold that get can have (it has no version or state guard), without the
  // shared preambles: get is the most frequent script, and defining functions it never calls cost
  // a third of its time in Redis (issue 17).
  `
local r = redis.call('HMGET', KEYS[1], 'state', 'owner', 'expiresAt')
if not r[1] then return {} end
if r[3] and tonumber(r[3]) <= tonumber(ARGV[1]) then return {} end
local mode, owner = ARGV[2], r[2]
if mode == 'n' and owner then return {} end
if mode == 'o' and owner and owner ~= ARGV[3] then return {} end
return redis.call('HGETALL', KEYS[1])
`,
);

/** What get runs with. */
export interface GetArgs {
  /** KEYS[1]: the record hash; get never touches the logs or the index. */
  keys: Pick<SessionKeys, 'record'>;
  /** ARGV[1..5], as guardArgs encodes them (only `now` and `owner`: get has no version or state guard). */
  guards: { now: number; owner?: string | null };
}

export function encodeGet({ keys, guards }: GetArgs): ScriptCall {
  return { script: get, keys: [keys.record], args: guardArgs(guards) };
}

/**
 * update: guards, the context size check, the change, the new expiry of every key (ARGV: see
 * UpdateArgs). Returns a guard failure, {'too_large', bytes} or {'ok', meta or '', record fields}.
 */
const update = script(
  'update',
  COMMON,
  GUARDS,
  INDEX,
  SESSION_HEADER,
  `
local id, grace = ARGV[1], tonumber(ARGV[2])
local r = guard_fields(KEYS[1])
if not guards_hold(r, 3) then return guard_failure(r) end
local max_bytes, state, metadata, replace = ARGV[8], ARGV[9], ARGV[10], ARGV[11] == '1'
local last_activity, exp_mode, exp_value = ARGV[12], ARGV[13], ARGV[14]
local touch_at, touch_idle, touch_life = ARGV[15], ARGV[16], ARGV[17]
local nset = tonumber(ARGV[18])
local first_set, first_delete = 19, 19 + 2 * nset

-- Size the resulting context before writing anything: a script cannot roll back.
local bytes = 0
if not replace then bytes = tonumber(redis.call('HGET', KEYS[1], 'contextBytes')) end
local function drop_bytes(field)
  local old = redis.call('HSTRLEN', KEYS[1], field)
  if old > 0 then bytes = bytes - (#field + old + 2) end
end
for i = first_set, first_delete - 1, 2 do
  if not replace then drop_bytes(ARGV[i]) end
  bytes = bytes + #ARGV[i] + #ARGV[i + 1] + 2
end
for i = first_delete, #ARGV do drop_bytes(ARGV[i]) end
local size = 2
if bytes > 0 then size = bytes + 1 end
if max_bytes ~= '' and size > tonumber(max_bytes) then return { 'too_large', size } end

if replace then
  local stale = {}
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.byte(field, 1) == 34 then stale[#stale + 1] = field end
  end
  chunked('HDEL', KEYS[1], stale)
end
local sets = { 'contextBytes', fmt(bytes) }
for i = first_set, first_delete - 1 do sets[#sets + 1] = ARGV[i] end
local deletes = {}
for i = first_delete, #ARGV do deletes[#deletes + 1] = ARGV[i] end
if state ~= '' then sets[#sets + 1] = 'state'; sets[#sets + 1] = state end
if metadata ~= '' then sets[#sets + 1] = 'metadata'; sets[#sets + 1] = metadata end
local exp = r[4] or nil
if last_activity ~= '' then sets[#sets + 1] = 'lastActivityAt'; sets[#sets + 1] = last_activity end
if exp_mode == 'set' then exp = exp_value elseif exp_mode == 'null' then exp = nil end
if touch_at ~= '' then
  sets[#sets + 1] = 'lastActivityAt'; sets[#sets + 1] = touch_at
  local slid = sliding(r[5], touch_at, touch_idle, touch_life)
  exp = slid and fmt(slid)
end
if exp then
  sets[#sets + 1] = 'expiresAt'; sets[#sets + 1] = exp
else
  deletes[#deletes + 1] = 'expiresAt'
end
chunked('HSET', KEYS[1], sets)
chunked('HDEL', KEYS[1], deletes)
redis.call('HINCRBY', KEYS[1], 'version', 1)

local meta = record_meta(KEYS[1])
local indexed = (state ~= '' and state ~= r[1]) or exp ~= (r[4] or nil)
if INLINE and indexed then index_apply(id, meta, true) end
local fields = redis.call('HGETALL', KEYS[1])
if exp ~= (r[4] or nil) then expire_keys(exp, grace, KEYS[1], KEYS[2]) end
if indexed then return { 'ok', meta_encode(meta), fields } end
return { 'ok', '', fields }
`,
);

/** What update runs with: the guards, the size limit and a `SessionChange`, field by field. */
export interface UpdateArgs {
  keys: SessionKeys;
  /** ARGV[1]: the storage id. */
  id: string;
  /** ARGV[2]: expiryGraceMs. */
  graceMs: number;
  /** ARGV[3..7], as guardArgs encodes them. */
  guards: RecordGuards;
  /**
   * ARGV[8]: the largest context JSON allowed after the change, in bytes ('' for no limit); larger
   * fails with too_large before anything is written.
   */
  maxContextBytes: number | undefined;
  /** ARGV[9]: the new state ('' keeps it). */
  state: SessionState | undefined;
  /** ARGV[10]: the new metadata as JSON ('' keeps it). */
  metadata: JsonObject | undefined;
  /**
   * A new context: ARGV[11] is '1' (every context field is deleted first) and its keys join the fields
   * set below.
   */
  context: JsonObject | undefined;
  /**
   * ARGV[18] nset, then ARGV[19..18+2·nset]: the context fields to set, as field/value pairs (after
   * the replacement).
   */
  contextSet: Readonly<Record<string, JsonValue>> | undefined;
  /**
   * The context fields to delete, from ARGV[19+2·nset] to the end (last, as the contract orders
   * them). A key also set above is only left out of the sets; after a replacement nothing is left to
   * delete.
   */
  contextDelete: readonly string[] | undefined;
  /** ARGV[12]: the new lastActivityAt, epoch milliseconds ('' keeps it). */
  lastActivityAt: number | undefined;
  /**
   * ARGV[13] the expiry mode, '' to keep it, 'null' for none, 'set' for ARGV[14], the new expiresAt
   * (epoch milliseconds).
   */
  expiresAt: number | null | undefined;
  /** ARGV[15..17], as touchArgs encodes it; applied after lastActivityAt and expiresAt. */
  touch: Touch | undefined;
}

export function encodeUpdate(args: UpdateArgs): ScriptCall {
  const { expiresAt, maxContextBytes, lastActivityAt } = args;
  const replace = args.context !== undefined;
  const sets = new Map<string, string>();
  for (const [key, value] of Object.entries(args.context ?? {})) {
    sets.set(contextField(key), JSON.stringify(value));
  }
  for (const [key, value] of Object.entries(args.contextSet ?? {})) {
    sets.set(contextField(key), JSON.stringify(value));
  }
  const deletes: string[] = [];
  for (const key of args.contextDelete ?? []) {
    const field = contextField(key);
    sets.delete(field);
    if (!replace) deletes.push(field);
  }
  return {
    script: update,
    keys: sessionKeyList(args.keys),
    args: [
      args.id,
      String(args.graceMs),
      ...guardArgs(args.guards),
      maxContextBytes === undefined ? '' : String(maxContextBytes),
      args.state ?? '',
      args.metadata === undefined ? '' : JSON.stringify(args.metadata),
      replace ? '1' : '',
      lastActivityAt === undefined ? '' : String(lastActivityAt),
      expiresAt === undefined ? '' : expiresAt === null ? 'null' : 'set',
      expiresAt === undefined || expiresAt === null ? '' : String(expiresAt),
      ...touchArgs(args.touch),
      String(sets.size),
      ...[...sets].flat(),
      ...deletes,
    ],
  };
}

/**
 * append: guards, seqs, the entries, trimming to cap, the record's counters and expiry (ARGV: see
 * AppendArgs). Returns a guard failure or {'ok', firstSeq, lastSeq, version, messageCount, meta or
 * ''}.
 */
const append = script(
  'append',
  COMMON,
  GUARDS,
  INDEX,
  SESSION_HEADER,
  `
local id, grace = ARGV[1], tonumber(ARGV[2])
local r = guard_fields(KEYS[1])
if not guards_hold(r, 3) then return guard_failure(r) end
local log, cap, count = ARGV[8], ARGV[9], ARGV[10] == '1'
local touch_at, touch_idle, touch_life = ARGV[11], ARGV[12], ARGV[13]
local n = #ARGV - 13

local bounds = redis.call('HGET', KEYS[2], log)
local first, last = 0, 0
if bounds then
  local a, b = string.match(bounds, '^(%S+) (%S+)$')
  first, last = tonumber(a), tonumber(b)
end
local first_seq = last + 1
local entries = {}
for i = 1, n do
  entries[#entries + 1] = log .. '#' .. fmt(last + i)
  entries[#entries + 1] = ARGV[13 + i]
end
chunked('HSET', KEYS[2], entries)
last = last + n
if first == 0 then first = first_seq end
if cap ~= '' and last - first + 1 > tonumber(cap) then
  local keep_from = last - tonumber(cap) + 1
  local trimmed = {}
  for seq = first, keep_from - 1 do trimmed[#trimmed + 1] = log .. '#' .. fmt(seq) end
  chunked('HDEL', KEYS[2], trimmed)
  first = keep_from
end
redis.call('HSET', KEYS[2], log, fmt(first) .. ' ' .. fmt(last))

local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
local messages
if count then
  messages = redis.call('HINCRBY', KEYS[1], 'messageCount', n)
else
  messages = tonumber(redis.call('HGET', KEYS[1], 'messageCount'))
end
local exp = r[4] or nil
if touch_at ~= '' then
  local slid = sliding(r[5], touch_at, touch_idle, touch_life)
  exp = slid and fmt(slid)
  if exp then
    redis.call('HSET', KEYS[1], 'lastActivityAt', touch_at, 'expiresAt', exp)
  else
    redis.call('HSET', KEYS[1], 'lastActivityAt', touch_at)
    redis.call('HDEL', KEYS[1], 'expiresAt')
  end
end
local moved = exp ~= (r[4] or nil)
local meta = ''
if count or moved then
  local m = record_meta(KEYS[1])
  if INLINE then index_apply(id, m, true) end
  meta = meta_encode(m)
end
if moved then
  expire_keys(exp, grace, KEYS[1], KEYS[2])
elseif not bounds then
  expire_keys(exp, grace, KEYS[2])
end
return { 'ok', fmt(first_seq), fmt(last), version, messages, meta }
`,
);

/** What append runs with. */
export interface AppendArgs {
  keys: SessionKeys;
  /** ARGV[1]: the storage id. */
  id: string;
  /** ARGV[2]: expiryGraceMs. */
  graceMs: number;
  /** ARGV[3..7], as guardArgs encodes them; `guards.now` is also every entry's time. */
  guards: RecordGuards;
  /** ARGV[8]: the log's name (log names contain no '#' or space, the logs hash's separators). */
  log: string;
  /** ARGV[9]: keep only the newest `cap` entries ('' for no cap). */
  cap: number | undefined;
  /** ARGV[10]: '1' adds the number of entries to messageCount. */
  countMessages: boolean | undefined;
  /** ARGV[11..13], as touchArgs encodes it. */
  touch: Touch | undefined;
  /** ARGV[14..]: the entries, one argument each. */
  entries: readonly JsonValue[];
}

export function encodeAppend(args: AppendArgs): ScriptCall {
  const { guards, cap } = args;
  return {
    script: append,
    keys: sessionKeyList(args.keys),
    args: [
      args.id,
      String(args.graceMs),
      ...guardArgs(guards),
      args.log,
      cap === undefined ? '' : String(cap),
      args.countMessages ? '1' : '',
      ...touchArgs(args.touch),
      ...args.entries.map((data) => logEntryValue(guards.now, data)),
    ],
  };
}

/**
 * read: guards, then the page's entries fetched by seq arithmetic (ARGV: see ReadArgs). Returns a
 * guard failure or {'ok', first seq returned, step, values}.
 */
const read = script(
  'read',
  COMMON,
  GUARDS,
  `
local r = guard_fields(KEYS[1])
if not guards_hold(r, 1) then return guard_failure(r) end
local log, after, before, limit, desc = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10] == '1'
local bounds = redis.call('HGET', KEYS[2], log)
if not bounds then return { 'ok', '0', 1, {} } end
local a, b = string.match(bounds, '^(%S+) (%S+)$')
local lo, hi = tonumber(a), tonumber(b)
if after ~= '' then lo = math.max(lo, tonumber(after) + 1) end
if before ~= '' then hi = math.min(hi, tonumber(before) - 1) end
if lo > hi then return { 'ok', '0', 1, {} } end
local count = hi - lo + 1
if limit ~= '' then count = math.min(count, tonumber(limit)) end
local start, step = lo, 1
if desc then start, step = hi, -1 end
local fields = {}
for i = 0, count - 1 do fields[#fields + 1] = log .. '#' .. fmt(start + i * step) end
return { 'ok', fmt(start), step, hmget_all(KEYS[2], fields) }
`,
);

/** What read runs with. */
export interface ReadArgs {
  /** KEYS[1] and KEYS[2]; read never touches the index. */
  keys: Pick<SessionKeys, 'record' | 'logs'>;
  /** ARGV[1..5], as guardArgs encodes them. */
  guards: RecordGuards;
  /** ARGV[6]: the log's name. */
  log: string;
  /** ARGV[7]: only entries with a larger seq ('' for all). */
  afterSeq: number | undefined;
  /** ARGV[8]: only entries with a smaller seq ('' for all). */
  beforeSeq: number | undefined;
  /** ARGV[9]: at most this many entries ('' for all). */
  limit: number | undefined;
  /** ARGV[10]: '1' for newest first. */
  order: 'asc' | 'desc' | undefined;
}

export function encodeRead(args: ReadArgs): ScriptCall {
  const { afterSeq, beforeSeq, limit } = args;
  return {
    script: read,
    keys: [args.keys.record, args.keys.logs],
    args: [
      ...guardArgs(args.guards),
      args.log,
      afterSeq === undefined ? '' : String(afterSeq),
      beforeSeq === undefined ? '' : String(beforeSeq),
      limit === undefined ? '' : String(limit),
      args.order === 'desc' ? '1' : '',
    ],
  };
}

/**
 * replace: guards, then the new data of the given seqs that are in the log, each keeping its `at`, and
 * version + 1 when any was replaced (ARGV: see ReplaceArgs). Touches neither expiry nor the index (the
 * index's meta changes only with state, expiry and messageCount). Returns a guard failure or {'ok',
 * replaced, version}.
 */
const replace = script(
  'replace',
  COMMON,
  GUARDS,
  `
local r = guard_fields(KEYS[1])
if not guards_hold(r, 1) then return guard_failure(r) end
local log = ARGV[6]
local bounds = redis.call('HGET', KEYS[2], log)
if not bounds then return { 'ok', 0, tonumber(r[3]) } end
local a, b = string.match(bounds, '^(%S+) (%S+)$')
local first, last = tonumber(a), tonumber(b)
local fields, values = {}, {}
for i = 7, #ARGV - 1, 2 do
  local seq = tonumber(ARGV[i])
  if seq >= first and seq <= last then
    fields[#fields + 1] = log .. '#' .. fmt(seq)
    values[#values + 1] = ARGV[i + 1]
  end
end
if #fields == 0 then return { 'ok', 0, tonumber(r[3]) } end
local old = hmget_all(KEYS[2], fields)
local updates = {}
for i = 1, #fields do
  local at = old[i] and string.match(old[i], '^([^,]*),')
  if not at then return redis.error_reply('log entry ' .. fields[i] .. ' is missing or malformed') end
  updates[#updates + 1] = fields[i]
  updates[#updates + 1] = at .. ',' .. values[i]
end
chunked('HSET', KEYS[2], updates)
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
return { 'ok', #fields, version }
`,
);

/** What replace runs with. */
export interface ReplaceArgs {
  /** KEYS[1] and KEYS[2]; replace never touches the index. */
  keys: Pick<SessionKeys, 'record' | 'logs'>;
  /** ARGV[1..5], as guardArgs encodes them. */
  guards: RecordGuards;
  /** ARGV[6]: the log's name. */
  log: string;
  /** ARGV[7..]: pairs of a seq and the entry's new data as JSON (the script keeps the stored `at`). */
  entries: readonly { seq: number; value: JsonValue }[];
}

export function encodeReplace(args: ReplaceArgs): ScriptCall {
  const argv: string[] = [...guardArgs(args.guards), args.log];
  for (const { seq, value } of args.entries) argv.push(String(seq), JSON.stringify(value));
  return { script: replace, keys: [args.keys.record, args.keys.logs], args: argv };
}

/** remove: deletes the session's keys (ARGV: see RemoveArgs); returns {existed (0/1), gen or ''}. */
const remove = script(
  'remove',
  COMMON,
  INDEX,
  SESSION_HEADER,
  `
local id = ARGV[1]
local gen = redis.call('HGET', KEYS[1], 'gen')
local existed = redis.call('EXISTS', KEYS[1])
redis.call('UNLINK', KEYS[1], KEYS[2])
if INLINE then
  local old = index_get(id)
  if old then index_write(id, old, nil) end
end
return { existed, gen or '' }
`,
);

/** What remove runs with. */
export interface RemoveArgs {
  keys: SessionKeys;
  /** ARGV[1]: the storage id. */
  id: string;
}

export function encodeRemove({ keys, id }: RemoveArgs): ScriptCall {
  return { script: remove, keys: sessionKeyList(keys), args: [id] };
}

/**
 * expire (one step of sweep): deletes the session if it has expired (ARGV: see ExpireArgs). Returns
 * {'deleted', gen}, {'absent'} (Redis already expired it, or it was deleted) or {'live', meta}.
 */
const expire = script(
  'expire',
  COMMON,
  INDEX,
  SESSION_HEADER,
  `
local id, now = ARGV[1], tonumber(ARGV[2])
local r = redis.call('HMGET', KEYS[1], 'state', 'expiresAt', 'gen')
if not r[1] then
  if INLINE then
    local old = index_get(id)
    if old then index_write(id, old, nil) end
  end
  return { 'absent' }
end
if r[2] and tonumber(r[2]) <= now then
  redis.call('UNLINK', KEYS[1], KEYS[2])
  if INLINE then index_write(id, index_get(id), nil) end
  return { 'deleted', r[3] }
end
return { 'live', meta_encode(record_meta(KEYS[1])) }
`,
);

/** What expire runs with. */
export interface ExpireArgs {
  keys: SessionKeys;
  /** ARGV[1]: the storage id. */
  id: string;
  /** ARGV[2]: the caller's clock, epoch milliseconds; the session is deleted if expiresAt <= now. */
  now: number;
}

export function encodeExpire({ keys, id, now }: ExpireArgs): ScriptCall {
  return { script: expire, keys: sessionKeyList(keys), args: [id, String(now)] };
}

/**
 * index (Cluster mode): one change of a session's index entry (ARGV: see IndexArgs). Returns 1 when
 * the index changed.
 */
const index = script(
  'index',
  COMMON,
  INDEX,
  `
index_keys(1)
local op, id = ARGV[1], ARGV[2]
if op == 'apply' then
  if ARGV[4] ~= '' then index_prune(tonumber(ARGV[4]), ${PRUNE_PER_CREATE}) end
  return index_apply(id, meta_decode(ARGV[3]), false)
end
local current = redis.call('HGET', IX.meta, id)
if not current then return 0 end
if op == 'drop' then
  local old = meta_decode(current)
  if tonumber(old.g) > tonumber(ARGV[3]) then return 0 end
  index_write(id, old, nil)
  return 1
end
if current ~= ARGV[3] then return 0 end
if ARGV[4] == '' then
  index_write(id, meta_decode(current), nil)
else
  index_write(id, meta_decode(current), meta_decode(ARGV[4]))
end
return 1
`,
);

/** One change of an index entry: ARGV[1] the op, ARGV[2] the storage id, then the op's arguments. */
export type IndexChange = { id: string } & (
  | {
      /** Applies the record's entry unless the index holds a later (gen, version) of it. */
      op: 'apply';
      /** ARGV[3]: the entry, as a session script returned it. */
      meta: string;
      /**
       * ARGV[4]: first prune entries of sessions whose keys Redis has expired, those whose expiresAt +
       * this grace (milliseconds, expiryGraceMs) has passed by Redis's clock; '' for no pruning.
       */
      pruneGraceMs: number | undefined;
    }
  | {
      /** Removes the entry unless it belongs to a later incarnation of the id. */
      op: 'drop';
      /** ARGV[3]: the gen of the incarnation that was deleted. */
      gen: string;
    }
  | {
      /** Repairs an entry a reader found stale, only if nobody changed it since it was read. */
      op: 'cas';
      /** ARGV[3]: the entry as it was read. */
      expected: string;
      /** ARGV[4]: the entry the record calls for, or null ('') to remove it. */
      replacement: string | null;
    }
);

/** What index runs with. */
export type IndexArgs = IndexChange & {
  /** KEYS: the six index keys. */
  keys: readonly string[];
};

export function encodeIndex(args: IndexArgs): ScriptCall {
  const rest =
    args.op === 'apply'
      ? [args.meta, args.pruneGraceMs === undefined ? '' : String(args.pruneGraceMs)]
      : args.op === 'drop'
        ? [args.gen]
        : [args.expected, args.replacement ?? ''];
  return { script: index, keys: args.keys, args: [args.op, args.id, ...rest] };
}

/** due: the index entries due for sweep (ARGV: see DueArgs). Returns {id, meta, …}. */
const due = script(
  'due',
  COMMON,
  INDEX,
  `
index_keys(1)
local ids = redis.call('ZRANGEBYSCORE', IX.exp, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', IX.meta, id) or ''
end
return out
`,
);

/** What due runs with. */
export interface DueArgs {
  /** KEYS: the six index keys. */
  keys: readonly string[];
  /** ARGV[1]: entries with expiresAt <= now (epoch milliseconds) are due. */
  now: number;
  /** ARGV[2]: at most this many entries. */
  max: number;
}

export function encodeDue({ keys, now, max }: DueArgs): ScriptCall {
  return { script: due, keys, args: [String(now), String(max)] };
}

/**
 * list: walks ids in byte order from `after`, skipping entries the index says are expired or in
 * another state, until it has `wanted` candidates or has looked at `budget` ids (ARGV: see ListArgs).
 * Returns {done (1 when the range is exhausted), last id looked at, id, meta, id, meta, …}.
 */
const list = script(
  'list',
  COMMON,
  INDEX,
  `
index_keys(1)
local now, state, by_owner, owner, after = tonumber(ARGV[1]), ARGV[2], ARGV[3] == 'o', ARGV[4], ARGV[5]
local wanted, budget = tonumber(ARGV[6]), tonumber(ARGV[7])
local key, prefix, hi = IX.all, '', '+'
if by_owner then key, prefix, hi = IX.own, owner .. '\\0', '(' .. owner .. '\\1' end
local lo = '[' .. prefix
if after ~= '' then lo = '(' .. prefix .. after elseif not by_owner then lo = '-' end
local out = { 0, after }
local found, looked = 0, 0
while found < wanted and looked < budget do
  local step = math.min(100, budget - looked)
  local batch = redis.call('ZRANGEBYLEX', key, lo, hi, 'LIMIT', 0, step)
  for _, member in ipairs(batch) do
    local id = string.sub(member, #prefix + 1)
    looked = looked + 1
    out[2] = id
    local meta = redis.call('HGET', IX.meta, id)
    local m = meta_decode(meta)
    local keep = true
    if m and m.exp and tonumber(m.exp) <= now then keep = false end
    if m and state ~= '' and m.state ~= state then keep = false end
    if keep then
      out[#out + 1] = id
      out[#out + 1] = meta or ''
      found = found + 1
      if found >= wanted then break end
    end
  end
  if found < wanted and #batch < step then
    out[1] = 1
    break
  end
  lo = '(' .. prefix .. out[2]
end
return out
`,
);

/** What list runs with. */
export interface ListArgs {
  /** KEYS: the six index keys. */
  keys: readonly string[];
  /** ARGV[1]: the caller's clock, epoch milliseconds; entries with expiresAt <= now are skipped. */
  now: number;
  /** ARGV[2]: only this state ('' for any). */
  state: SessionState | undefined;
  /** ARGV[3] 'o' and ARGV[4] the owner: walk the owner index instead ('' '' for every owner). */
  owner: string | undefined;
  /** ARGV[5]: start after this id ('' from the start). */
  after: string | null;
  /** ARGV[6]: stop at this many candidates. */
  wanted: number;
  /** ARGV[7]: stop after looking at this many ids. */
  budget: number;
}

export function encodeList(args: ListArgs): ScriptCall {
  return {
    script: list,
    keys: args.keys,
    args: [
      String(args.now),
      args.state ?? '',
      args.owner === undefined ? '' : 'o',
      args.owner ?? '',
      args.after ?? '',
      String(args.wanted),
      String(args.budget),
    ],
  };
}

/**
 * stats: counts come from the running sums, minus the entries already past their expiry (the only
 * part that depends on now, and kept small by sweep and pruning); ARGV: see StatsArgs. Returns
 * {active, idle, suspended, closed, expired, messages, oldest createdAt or ''}.
 */
const stats = script(
  'stats',
  COMMON,
  INDEX,
  `
index_keys(1)
local now = tonumber(ARGV[1])
local sums = redis.call('HMGET', IX.sum, 'active', 'idle', 'suspended', 'closed', 'messages')
local counts = {
  active = tonumber(sums[1] or 0), idle = tonumber(sums[2] or 0),
  suspended = tonumber(sums[3] or 0), closed = tonumber(sums[4] or 0),
}
local messages = tonumber(sums[5] or 0)
local expired = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', IX.exp, '-inf', ARGV[1])) do
  local m = index_get(id)
  if m then
    expired = expired + 1
    counts[m.state] = counts[m.state] - 1
    messages = messages - tonumber(m.mc)
  end
end
local oldest = ''
local start = 0
while oldest == '' do
  local batch = redis.call('ZRANGE', IX.born, start, start + 99, 'WITHSCORES')
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    local exp = redis.call('ZSCORE', IX.exp, batch[i])
    if not exp or tonumber(exp) > now then
      oldest = batch[i + 1]
      break
    end
  end
  start = start + 100
end
return { counts.active, counts.idle, counts.suspended, counts.closed, expired, messages, oldest }
`,
);

/** What stats runs with. */
export interface StatsArgs {
  /** KEYS: the six index keys. */
  keys: readonly string[];
  /** ARGV[1]: the caller's clock, epoch milliseconds: entries with expiresAt <= now are expired. */
  now: number;
}

export function encodeStats({ keys, now }: StatsArgs): ScriptCall {
  return { script: stats, keys, args: [String(now)] };
}

/**
 * count: live index entries in the given states (ARGV: see CountArgs). With an owner, walks that owner's
 * range of the owner index and reads each entry's meta (expiry, state), so the cost grows with that
 * owner's sessions only; without one, takes the running sums of the states and subtracts the entries
 * already past their expiry, as stats does. Returns the count.
 */
const count = script(
  'count',
  COMMON,
  INDEX,
  `
index_keys(1)
local now, by_owner, owner, states = tonumber(ARGV[1]), ARGV[2] == 'o', ARGV[3], ARGV[4]
local wanted = nil
if states ~= '' then
  wanted = {}
  for s in string.gmatch(states, '[^,]+') do wanted[s] = true end
end
local function counted(m)
  return m and (not m.exp or tonumber(m.exp) > now) and (not wanted or wanted[m.state])
end
local n = 0
if by_owner then
  local prefix = owner .. '\\0'
  local lo, hi = '[' .. prefix, '(' .. owner .. '\\1'
  while true do
    local batch = redis.call('ZRANGEBYLEX', IX.own, lo, hi, 'LIMIT', 0, 1000)
    for _, member in ipairs(batch) do
      if counted(index_get(string.sub(member, #prefix + 1))) then n = n + 1 end
    end
    if #batch < 1000 then return n end
    lo = '(' .. batch[#batch]
  end
end
local names = { 'active', 'idle', 'suspended', 'closed' }
if wanted then
  names = {}
  for s in pairs(wanted) do names[#names + 1] = s end
end
for _, sum in ipairs(redis.call('HMGET', IX.sum, unpack(names))) do n = n + tonumber(sum or 0) end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', IX.exp, '-inf', ARGV[1])) do
  local m = index_get(id)
  if m and (not wanted or wanted[m.state]) then n = n - 1 end
end
return n
`,
);

/** What count runs with. */
export interface CountArgs {
  /** KEYS: the six index keys. */
  keys: readonly string[];
  /** ARGV[1]: the caller's clock, epoch milliseconds; entries with expiresAt <= now are not counted. */
  now: number;
  /**
   * ARGV[2] 'o' and ARGV[3] the owner: count that owner's entries of the owner index ('' '' for every
   * owner, from the running sums).
   */
  owner: string | undefined;
  /** ARGV[4]: only these states, joined by commas ('' for any; `count` never gets an empty list). */
  states: readonly SessionState[] | undefined;
}

export function encodeCount({ keys, now, owner, states }: CountArgs): ScriptCall {
  return {
    script: count,
    keys,
    args: [String(now), owner === undefined ? '' : 'o', owner ?? '', states?.join(',') ?? ''],
  };
}

/** Every script this store runs. */
export const SCRIPTS = {
  create,
  update,
  append,
  replace,
  read,
  remove,
  expire,
  index,
  due,
  list,
  stats,
  count,
};
