import { assertValidLogName, type JsonValue, type LogEntry } from '@mcp-session/core';
import { UsageError } from '../args.js';
import type { Command, Context } from '../context.js';
import { describeAttempts, findSession } from '../lookup.js';
import { clip, renderFields } from '../output/table.js';
import { formatCount, formatExpiry, formatRelative, formatTimestamp } from '../output/times.js';

/** Characters of one log entry shown per line without --full. */
const ENTRY_WIDTH = 160;

export const showCommand: Command = {
  name: 'show',
  summary: 'Show one session: record, context and its last messages',
  usesStore: true,
  options: {
    messages: { type: 'string', short: 'm' },
    log: { type: 'string' },
    full: { type: 'boolean' },
    'no-hash': { type: 'boolean' },
  },
  help: `Usage: mcp-session show <id> [options]

Shows a session's record, its context and the last messages of its history. Owner binding does not apply:
an operator sees every session, closed tombstones and expired sessions not swept yet included.

<id> is a session id (what clients send as Mcp-Session-Id) or a storage id (what "list" prints). The
SHA-256 digest of <id> is looked up first, as the session manager stores it by default, then <id> as given.

Options:
  -m, --messages <n>  how many of the newest log entries to show (default 10; 0 for none)
  --log <name>        which log to show (default "history")
  --full              print entries whole instead of one clipped line each
  --no-hash           look <id> up only as given (for managers run with hashIds: false)

Examples:
  mcp-session show 3q2-Xb8lGk0V6l1bT1s0mUe2h5t9vS3d --store sqlite:./data/sessions.db
  mcp-session show 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 --messages 50
  mcp-session show <id> --json | jq .record.context`,

  async run(context: Context): Promise<number> {
    const { args } = context;
    const [input = ''] = args.expectPositionals(['id']);
    const limit = args.integer('messages', 10, 0);
    const log = args.string('log') ?? 'history';
    try {
      assertValidLogName(log);
    } catch (error) {
      throw new UsageError(`--log: ${error instanceof Error ? error.message : String(error)}`);
    }
    const hash = !args.flag('no-hash');
    const store = await context.open(context.storeUrl(), { mustExist: true });
    const now = context.now();
    const found = await findSession(store, input, { now, hash, includeExpired: true });
    if (!found) {
      context.note(
        `mcp-session show: no session found for "${input}" (tried ${describeAttempts(input, hash)}). ` +
          'It never existed here, or it expired and was swept.',
      );
      return 1;
    }
    const { record } = found;
    // An expired record is only readable at a time before its expiry.
    const readAt = found.expired ? 0 : now;
    // Seqs of a log are contiguous (trimming drops the oldest), so first and last give the count.
    const read = (options: { afterSeq?: number; order?: 'desc'; limit: number }) =>
      store.read(record.id, log, { now: readAt, ...options });
    const [oldest] = await read({ afterSeq: 0, limit: 1 });
    const entries = limit === 0 ? [] : (await read({ order: 'desc', limit })).reverse();
    const newest = entries.at(-1) ?? (await read({ order: 'desc', limit: 1 }))[0];
    const retained = oldest && newest ? newest.seq - oldest.seq + 1 : 0;

    if (context.json) {
      await context.printJson({
        matchedBy: found.matchedBy,
        expired: found.expired,
        record,
        log,
        retained,
        entries,
      });
      return 0;
    }
    const matched =
      found.matchedBy === 'digest'
        ? 'found by the SHA-256 digest of the given id'
        : 'found as given';
    const when = (at: number) => `${formatTimestamp(at)} (${formatRelative(at, now)})`;
    await context.print(
      renderFields([
        ['Storage id', `${record.id}  (${matched})`],
        [
          'State',
          found.expired
            ? `${record.state}, EXPIRED (not swept yet; "sweep" deletes it)`
            : record.state,
        ],
        ['Owner', record.owner ?? '(none: visible to every caller)'],
        ['Created', when(record.createdAt)],
        ['Last active', when(record.lastActivityAt)],
        [
          'Expires',
          record.expiresAt === null
            ? 'never'
            : `${formatTimestamp(record.expiresAt)} (${formatExpiry(record.expiresAt, now)})`,
        ],
        ['Version', String(record.version)],
        ['Messages', `${formatCount(record.messageCount)} added in total`],
        ['Metadata', JSON.stringify(record.metadata)],
      ]),
    );
    const keys = Object.keys(record.context).length;
    const bytes = Buffer.byteLength(JSON.stringify(record.context), 'utf8');
    await context.print(
      `\nContext (${formatCount(keys)} key${keys === 1 ? '' : 's'}, ${formatCount(bytes)} bytes):`,
    );
    await context.print(indent(JSON.stringify(record.context, null, 2)));
    await context.print(
      `\nLog "${log}": ${formatCount(retained)} entr${retained === 1 ? 'y' : 'ies'} retained` +
        (limit === 0 || retained === 0 ? '' : `, newest ${formatCount(entries.length)} shown:`),
    );
    for (const entry of entries) {
      await context.print(formatEntry(entry, now, args.flag('full')));
    }
    return 0;
  },
};

function formatEntry(entry: LogEntry, now: number, full: boolean): string {
  const head = `  #${entry.seq}  ${formatRelative(entry.at, now)}  `;
  if (full) return `${head}\n${indent(JSON.stringify(entry.data, null, 2), 4)}`;
  return head + clip(describeData(entry.data).replace(/\s+/g, ' '), ENTRY_WIDTH);
}

/** A history message reads as `role: content`; any other entry as compact JSON. */
function describeData(data: JsonValue): string {
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    const { role, content } = data;
    if (typeof role === 'string' && content !== undefined) {
      return `${role}: ${typeof content === 'string' ? content : JSON.stringify(content)}`;
    }
  }
  return JSON.stringify(data);
}

function indent(text: string, spaces = 2): string {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line) => pad + line)
    .join('\n');
}
