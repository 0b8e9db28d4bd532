import type { SessionStore } from '@mcp-session/core';
import { UsageError } from '../args.js';
import { type Command, type Context, displayUrl, InterruptedError } from '../context.js';
import { formatCount } from '../output/times.js';
import { emptyStoreNote } from '../stores.js';
import {
  CheckedWriter,
  compareSessions,
  errorCode,
  listPages,
  mapLimit,
  readLogs,
  readSession,
} from '../transfer.js';
import { logNames } from './export.js';

/** Everything `migrate` did and found, as printed with --json. */
export interface MigrateSummary {
  from: string;
  to: string;
  /** Logs copied with each session. */
  logs: string[];
  copy: {
    /** Created in the target by this run. */
    copied: number;
    /** Already in the target at the same version and message count (an earlier run copied them). */
    alreadyPresent: number;
    /** Expired between listing and copying. */
    expired: number;
    /** Deleted or expired in the source between listing and reading. */
    vanished: number;
    /** In the target already, but in another version: not overwritten. */
    conflicts: { id: string; reason: string }[];
  };
  verify: {
    /** Live source sessions compared with the target. */
    checked: number;
    /** Sessions missing from the target or different in it, with what differs. */
    problems: { id: string; differences: string[] }[];
  };
  /** Live sessions in the source when verification ended. */
  sourceSessions: number;
  /** Live sessions in the target when verification ended. */
  targetSessions: number;
  /** True when every live source session is in the target, identical. */
  ok: boolean;
}

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Copy every live session with context and history to another store, then verify',
  usesStore: false,
  options: {
    from: { type: 'string' },
    to: { type: 'string' },
    log: { type: 'string', multiple: true },
    'batch-size': { type: 'string' },
    concurrency: { type: 'string' },
  },
  help: `Usage: mcp-session migrate --from <url> --to <url> [options]

Copies every live session (closed tombstones included) from one store to another: the record exactly as
it is (state, context, metadata, owner, times, version, message count) and its history with the original
seqs and times. Each session is created in the target together with its history in one atomic step.

Then it verifies: every live session of the source is read again and compared, record fields and history,
with the target. Any difference is listed and the command exits 1.

Safe to interrupt and to run again. An interrupted run (Ctrl-C, a crash, a kill) leaves each session
either completely copied or absent; the next run skips sessions already in the target at the same version
and message count and copies the rest, so it ends in the same state as an uninterrupted run. Sessions
are never overwritten: one that exists in the target in another version is reported as a conflict.

Stop the servers writing to the source first: sessions changed while they are copied show up as
differences. Only the "history" log is copied, plus the logs named with --log (a store cannot list a
session's log names); the MCP event logs of resumable streams are not copied.

Options:
  --from <url>          the store to copy from
  --to <url>            the store to copy to (may already hold other sessions)
  --log <name>          also copy this log (repeatable)
  --batch-size <n>      sessions listed per store call (default 500)
  --concurrency <n>     sessions copied at once (default 8)

Examples:
  mcp-session migrate --from sqlite:./data/sessions.db --to postgres://app@db.internal/app?schema=mcp
  mcp-session migrate --from redis://localhost:6379/0?prefix=mcp --to sqlite:./sessions.db --json`,

  async run(context: Context): Promise<number> {
    const { args } = context;
    args.expectPositionals([]);
    const from = args.string('from');
    const to = args.string('to');
    if (from === undefined || to === undefined) {
      throw new UsageError(`missing ${from === undefined ? '--from <url>' : '--to <url>'}`);
    }
    if (from.trim() === to.trim()) throw new UsageError('--from and --to name the same store');
    const logs = logNames(args);
    const batchSize = args.integer('batch-size', 500, 1, 10_000);
    const concurrency = args.integer('concurrency', 8, 1, 256);
    // The source must exist: a misspelt --from would otherwise be created, and 0 sessions "verified".
    const source = await context.open(from, { mustExist: true });
    const target = await context.open(to);
    if ((await source.stats(context.now())).total === 0) {
      context.note(emptyStoreNote(from, 'the source (--from)'));
    }
    const summary: MigrateSummary = {
      from: displayUrl(from),
      to: displayUrl(to),
      logs,
      copy: { copied: 0, alreadyPresent: 0, expired: 0, vanished: 0, conflicts: [] },
      verify: { checked: 0, problems: [] },
      sourceSessions: 0,
      targetSessions: 0,
      ok: false,
    };
    await copyAll(context, source, target, summary, { logs, batchSize, concurrency });
    await verifyAll(context, source, target, summary, { logs, batchSize, concurrency });
    summary.ok = summary.copy.conflicts.length === 0 && summary.verify.problems.length === 0;
    await report(context, summary);
    return summary.ok ? 0 : 1;
  },
};

interface Tuning {
  logs: readonly string[];
  batchSize: number;
  concurrency: number;
}

async function copyAll(
  context: Context,
  source: SessionStore,
  target: SessionStore,
  summary: MigrateSummary,
  tuning: Tuning,
): Promise<void> {
  const now = context.now();
  const { copy } = summary;
  const progress = context.progress('copy', (await source.stats(now)).total);
  const writer = new CheckedWriter(target);
  const resume = () =>
    `${formatCount(copy.copied)} sessions were copied by this run before it stopped; run the same command again to resume (copied sessions are skipped).`;
  try {
    for await (const page of listPages(source, { now, limit: tuning.batchSize })) {
      await mapLimit(page, tuning.concurrency, async (record) => {
        await context.checkpoint(resume);
        const session = await readSession(source, record, tuning.logs, now);
        if (session === null) copy.vanished++;
        else {
          // The current time, not the listing's: a session that expired meanwhile is not copied.
          const outcome = await writer.write(session, () => context.now());
          if (outcome.kind === 'copied') copy.copied++;
          else if (outcome.kind === 'present') copy.alreadyPresent++;
          else if (outcome.kind === 'expired') copy.expired++;
          else copy.conflicts.push({ id: record.id, reason: outcome.reason });
        }
        progress.add();
      });
    }
  } catch (error) {
    // Counted again now that the sessions in flight have settled.
    if (error instanceof InterruptedError) throw new InterruptedError(resume());
    throw Object.assign(
      new Error(`${error instanceof Error ? error.message : String(error)}\n${resume()}`),
      {
        code: errorCode(error) ?? 'MIGRATE_FAILED',
        cause: error,
      },
    );
  }
  progress.finish();
}

async function verifyAll(
  context: Context,
  source: SessionStore,
  target: SessionStore,
  summary: MigrateSummary,
  tuning: Tuning,
): Promise<void> {
  const now = context.now();
  const { verify } = summary;
  const progress = context.progress('verify', (await source.stats(now)).total);
  for await (const page of listPages(source, { now, limit: tuning.batchSize })) {
    await mapLimit(page, tuning.concurrency, async (record) => {
      await context.checkpoint(
        'verification was stopped; every copied session is complete, run the same command again to verify',
      );
      // One round trip's wait per session instead of three: the stores are quiet by now.
      const [original, found, copiedLogs] = await Promise.all([
        readSession(source, record, tuning.logs, now),
        target.get(record.id, { now }),
        readLogs(target, record.id, tuning.logs, now).catch((error: unknown) => {
          if (errorCode(error) === 'SESSION_NOT_FOUND') return null;
          throw error;
        }),
      ]);
      if (original !== null) {
        const copy =
          found === null || copiedLogs === null ? null : { record: found, logs: copiedLogs };
        const differences = compareSessions(original, copy);
        if (differences.length > 0) verify.problems.push({ id: record.id, differences });
        verify.checked++;
      }
      progress.add();
    });
  }
  progress.finish();
  summary.sourceSessions = (await source.stats(now)).total;
  summary.targetSessions = (await target.stats(now)).total;
}

async function report(context: Context, summary: MigrateSummary): Promise<void> {
  if (context.json) {
    await context.printJson(summary);
  } else {
    const { copy, verify } = summary;
    await context.print(
      `Copied ${formatCount(copy.copied)} session${copy.copied === 1 ? '' : 's'} from ${summary.from} to ${summary.to}; ` +
        `${formatCount(copy.alreadyPresent)} already there, ${formatCount(copy.expired + copy.vanished)} expired or deleted meanwhile, ` +
        `${formatCount(copy.conflicts.length)} conflict${copy.conflicts.length === 1 ? '' : 's'}.`,
    );
    for (const conflict of copy.conflicts.slice(0, 20)) {
      await context.print(`  conflict ${conflict.id}: ${conflict.reason}`);
    }
    if (verify.problems.length === 0) {
      await context.print(
        `Verified ${formatCount(verify.checked)} live session${verify.checked === 1 ? '' : 's'}: every record and history is identical in the target.`,
      );
    } else {
      await context.print(
        `Verification failed: ${formatCount(verify.problems.length)} of ${formatCount(verify.checked)} sessions are missing from the target or differ:`,
      );
      for (const problem of verify.problems.slice(0, 20)) {
        await context.print(`  ${problem.id}: ${problem.differences.join(', ')}`);
      }
      if (verify.problems.length > 20) {
        await context.print(
          `  … and ${formatCount(verify.problems.length - 20)} more (see --json)`,
        );
      }
    }
    await context.print(
      `Live sessions: ${formatCount(summary.sourceSessions)} in the source, ${formatCount(summary.targetSessions)} in the target` +
        (summary.targetSessions > summary.sourceSessions
          ? ' (the target also holds sessions that are not in the source).'
          : '.'),
    );
  }
  if (!summary.ok) {
    context.note(
      'mcp-session migrate: the target does not match the source. If writers were still running, stop them and run the migration again; conflicting sessions must be resolved by hand (close --purge them in the target, then migrate again).',
    );
  }
}
