import {
  isExpired,
  type ListPage,
  type SessionRecord,
  type SessionState,
  type SessionStore,
} from '@mcp-session/core/adapter';
import type { Command, Context } from '../context.js';
import { renderTable } from '../output/table.js';
import { formatCount, formatExpiry, formatRelative } from '../output/times.js';
import { emptyStoreNote } from '../stores.js';

interface ListFilters {
  state?: SessionState;
  owner?: string;
}

export const listCommand: Command = {
  name: 'list',
  summary: 'List sessions: filter by state, owner or expiry, page with --limit/--cursor or --all',
  usesStore: true,
  options: {
    state: { type: 'string' },
    owner: { type: 'string' },
    expired: { type: 'boolean' },
    limit: { type: 'string', short: 'n' },
    cursor: { type: 'string' },
    all: { type: 'boolean' },
  },
  help: `Usage: mcp-session list [options]

Lists sessions ordered by storage id, 50 at a time. Without --expired only live (not expired) sessions are
listed; closed sessions stay listed as tombstones until they expire.

IDs are storage ids. The session manager stores the SHA-256 digest of each session id by default, so the
session ids themselves cannot be recovered from a listing; "show" and "close" accept either form.

Options:
  --state <state>     only sessions in this state: active, idle, suspended or closed
  --owner <owner>     only sessions bound to exactly this owner
  --expired           only sessions past their expiry that were not swept yet
  -n, --limit <n>     sessions per page (default 50, at most 10000)
  --cursor <cursor>   continue after a previous page (its "next cursor")
  --all               every page, not just the first

Examples:
  mcp-session list --store sqlite:./data/sessions.db
  mcp-session list --state active --owner user-42 --limit 20
  mcp-session list --cursor eyJpZCI6... 
  mcp-session list --expired --all --json | jq '.sessions | length'`,

  async run(context: Context): Promise<number> {
    const { args } = context;
    args.expectPositionals([]);
    const filters: ListFilters = {};
    const state = args.state();
    if (state !== undefined) filters.state = state;
    const owner = args.string('owner');
    if (owner !== undefined) filters.owner = owner;
    const limit = args.integer('limit', 50, 1, 10_000);
    const store = await context.open(context.storeUrl(), { mustExist: true });
    const now = context.now();
    const fetch = (cursor: string | null) =>
      args.flag('expired')
        ? expiredPage(store, filters, limit, cursor, now)
        : store.list({ now, limit, cursor, ...filters });

    const sessions: SessionRecord[] = [];
    let page = await fetch(args.string('cursor') ?? null);
    sessions.push(...page.records);
    while (args.flag('all') && page.nextCursor !== null) {
      page = await fetch(page.nextCursor);
      sessions.push(...page.records);
    }

    if (context.json) {
      await context.printJson({ sessions, nextCursor: page.nextCursor });
      return 0;
    }
    if (sessions.length === 0) {
      if (Object.keys(filters).length === 0 && !args.flag('expired') && !args.string('cursor')) {
        context.note(emptyStoreNote(context.storeUrl()));
      }
      await context.print(
        args.flag('expired') ? 'No expired sessions match.' : 'No sessions match.',
      );
    } else {
      await context.print(sessionTable(sessions, now));
    }
    const shown = `${formatCount(sessions.length)} session${sessions.length === 1 ? '' : 's'}`;
    await context.print(
      page.nextCursor === null
        ? `\n${shown}.`
        : `\n${shown} shown. Next page: --cursor ${page.nextCursor} (or --all for every page)`,
    );
    return 0;
  },
};

function sessionTable(sessions: readonly SessionRecord[], now: number): string {
  return renderTable(
    [
      { header: 'id', cell: (r: SessionRecord) => r.id },
      { header: 'state', cell: (r) => r.state },
      { header: 'owner', cell: (r) => r.owner ?? '-', maxWidth: 24 },
      { header: 'messages', cell: (r) => formatCount(r.messageCount), right: true },
      { header: 'created', cell: (r) => formatRelative(r.createdAt, now) },
      { header: 'last active', cell: (r) => formatRelative(r.lastActivityAt, now) },
      { header: 'expires', cell: (r) => formatExpiry(r.expiresAt, now) },
    ],
    sessions,
  );
}

/**
 * One page of expired records. `store.list` hides expired records, except when asked at `now: 0`, when
 * nothing counts as expired; so list that way and keep what is expired by the real clock. A page is
 * filled across store pages; when the last store page holds more matches than fit, it is listed again
 * up to the last record kept, so the cursor handed out points right after it and nothing is skipped.
 */
async function expiredPage(
  store: SessionStore,
  filters: ListFilters,
  limit: number,
  cursor: string | null,
  now: number,
): Promise<ListPage> {
  const records: SessionRecord[] = [];
  let next = cursor;
  do {
    const from = next;
    const page = await store.list({ now: 0, limit, cursor: from, ...filters });
    const matches = page.records.filter((record) => isExpired(record, now));
    const room = limit - records.length;
    if (matches.length > room) {
      const lastKept = page.records.indexOf(matches[room - 1] as SessionRecord) + 1;
      const cut = await store.list({ now: 0, limit: lastKept, cursor: from, ...filters });
      records.push(...cut.records.filter((record) => isExpired(record, now)).slice(0, room));
      return { records, nextCursor: cut.nextCursor };
    }
    records.push(...matches);
    next = page.nextCursor;
  } while (records.length < limit && next !== null);
  return { records, nextCursor: next };
}
