import { SESSION_STATES, type SessionRecord } from '@mcp-session/core';
import { type Command, type Context, displayUrl } from '../context.js';
import { renderFields } from '../output/table.js';
import { formatCount, formatDuration, formatTimestamp } from '../output/times.js';
import { emptyStoreNote } from '../stores.js';
import { listPages } from '../transfer.js';

/** "Expiring soon" in the scan means within this many milliseconds. */
const SOON_MS = 60 * 60_000;

interface Spread {
  /** Milliseconds. */
  median: number;
  /** Milliseconds. */
  p90: number;
  /** Milliseconds. */
  max: number;
}

/** What `--scan` adds: figures only a walk over every live session can give. */
interface ScanFigures {
  sessions: number;
  /** Time since creation. */
  age: Spread | null;
  /** Time since the last recorded activity. */
  idle: Spread | null;
  expiringWithinHour: number;
  neverExpiring: number;
  boundToOwner: number;
  distinctOwners: number;
}

export const statsCommand: Command = {
  name: 'stats',
  summary: 'Counts by state, messages, expired-but-not-swept, ages',
  usesStore: true,
  options: {
    scan: { type: 'boolean' },
  },
  help: `Usage: mcp-session stats [options]

Counts live sessions by state, messages, expired sessions not swept yet and the age of the oldest
session. The store computes these itself (one aggregate query where the backend can), so it is cheap on
any size of store.

Options:
  --scan   also walk every live session for age and idle-time percentiles, expiry and owner figures
           (reads every record: takes a while on a big store)

Examples:
  mcp-session stats --store postgres://app@db.internal/app?schema=mcp
  mcp-session stats --scan --json`,

  async run(context: Context): Promise<number> {
    context.args.expectPositionals([]);
    const url = context.storeUrl();
    const store = await context.open(url, { mustExist: true });
    const now = context.now();
    const stats = await store.stats(now);
    if (stats.total === 0 && stats.expired === 0) context.note(emptyStoreNote(url));
    const scan = context.args.flag('scan')
      ? await scanStore(context, store, now, stats.total)
      : undefined;
    const oldestAgeMs = stats.oldestCreatedAt === null ? null : now - stats.oldestCreatedAt;

    if (context.json) {
      await context.printJson({
        store: displayUrl(url),
        capabilities: store.capabilities,
        now,
        ...stats,
        oldestAgeMs,
        ...(scan ? { scan } : {}),
      });
      return 0;
    }
    const { capabilities } = store;
    const traits = [
      capabilities.durable ? 'durable' : 'not durable',
      capabilities.sharedAcrossProcesses ? 'shared across processes' : 'one process',
      ...(capabilities.nativeExpiry ? ['expires sessions on its own'] : []),
    ];
    const width = Math.max(
      ...SESSION_STATES.map((state) => formatCount(stats.byState[state]).length),
    );
    const fields: [string, string][] = [
      ['Store', `${displayUrl(url)} (${traits.join(', ')})`],
      ['Live sessions', formatCount(stats.total)],
      ...SESSION_STATES.map((state): [string, string] => [
        `  ${state}`,
        formatCount(stats.byState[state]).padStart(width) +
          (state === 'closed' ? '  (tombstones until they expire)' : ''),
      ]),
      [
        'Expired',
        stats.expired === 0
          ? 'none waiting to be swept'
          : `${formatCount(stats.expired)} not swept yet (run "mcp-session sweep")`,
      ],
      [
        'Messages',
        `${formatCount(stats.messages)} added in total` +
          (stats.total > 0
            ? ` (${(stats.messages / stats.total).toFixed(1)} per live session)`
            : ''),
      ],
      [
        'Oldest',
        stats.oldestCreatedAt === null || oldestAgeMs === null
          ? '-'
          : `created ${formatDuration(oldestAgeMs)} ago (${formatTimestamp(stats.oldestCreatedAt)})`,
      ],
    ];
    if (scan) {
      const spread = (s: Spread | null) =>
        s === null
          ? '-'
          : `median ${formatDuration(s.median)}, 90th percentile ${formatDuration(s.p90)}, max ${formatDuration(s.max)}`;
      fields.push(
        ['Age', spread(scan.age)],
        ['Idle', spread(scan.idle)],
        [
          'Expiring',
          `${formatCount(scan.expiringWithinHour)} within the next hour, ${formatCount(scan.neverExpiring)} never`,
        ],
        [
          'Owners',
          `${formatCount(scan.boundToOwner)} sessions bound to ${formatCount(scan.distinctOwners)} distinct owners, ${formatCount(scan.sessions - scan.boundToOwner)} unbound`,
        ],
      );
    }
    await context.print(renderFields(fields));
    return 0;
  },
};

async function scanStore(
  context: Context,
  store: Awaited<ReturnType<Context['open']>>,
  now: number,
  total: number,
): Promise<ScanFigures> {
  const progress = context.progress('scan', total);
  const ages: number[] = [];
  const idles: number[] = [];
  const owners = new Set<string>();
  let expiringWithinHour = 0;
  let neverExpiring = 0;
  let boundToOwner = 0;
  const count = (record: SessionRecord) => {
    ages.push(now - record.createdAt);
    idles.push(now - record.lastActivityAt);
    if (record.expiresAt === null) neverExpiring++;
    else if (record.expiresAt - now <= SOON_MS) expiringWithinHour++;
    if (record.owner !== null) {
      boundToOwner++;
      owners.add(record.owner);
    }
  };
  for await (const page of listPages(store, { now, limit: 1000 })) {
    await context.checkpoint('the scan was stopped; nothing was changed');
    page.forEach(count);
    progress.add(page.length);
  }
  progress.finish();
  return {
    sessions: ages.length,
    age: spreadOf(ages),
    idle: spreadOf(idles),
    expiringWithinHour,
    neverExpiring,
    boundToOwner,
    distinctOwners: owners.size,
  };
}

function spreadOf(values: number[]): Spread | null {
  if (values.length === 0) return null;
  const sorted = values.sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { median: at(0.5), p90: at(0.9), max: sorted.at(-1) ?? 0 };
}
