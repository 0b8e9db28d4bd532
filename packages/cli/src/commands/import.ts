import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { UsageError } from '../args.js';
import type { Command, Context } from '../context.js';
import { parseHeader, parseSessionLine } from '../export-format.js';
import { formatCount } from '../output/times.js';
import { CheckedWriter, type WriteOutcome } from '../transfer.js';

/** A session the target already holds in another version: reported, never overwritten. */
interface Conflict {
  id: string;
  line: number;
  reason: string;
}

/** Import counts, as printed with --json. */
interface ImportSummary {
  imported: number;
  alreadyPresent: number;
  expired: number;
  conflicts: Conflict[];
  /** Lines read, header included. */
  lines: number;
}

/** A bad line or a failed write: where it stopped and why. */
class ImportStopped extends Error {
  constructor(
    /** `input`: a bad line; `write`: the store failed; `interrupted`: a signal. */
    readonly kind: 'input' | 'write' | 'interrupted',
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

export const importCommand: Command = {
  name: 'import',
  summary: 'Create sessions from an NDJSON export (stdin or a file)',
  usesStore: true,
  options: {
    concurrency: { type: 'string' },
  },
  help: `Usage: mcp-session import [file] [options]

Reads an export written by "mcp-session export" from <file> (or stdin when no file or "-" is given) and
creates each session with its logs in one atomic step, keeping versions, times and log seqs.

Existing sessions are never overwritten. A session already in the store at the same version and message
count is skipped (so an interrupted import can simply be run again); one that differs is reported as a
conflict and the command exits 1. Sessions that have expired by now are skipped.

Every line is checked before it is written. At the first bad line the import stops and says which line
and why, and how many sessions were imported before it; fix the line and run the import again.

Options:
  --concurrency <n>   sessions written at once (default 8)

Examples:
  mcp-session import sessions.ndjson --store postgres://app@db.internal/app
  gunzip -c active.ndjson.gz | mcp-session import --store sqlite:./data/sessions.db --json`,

  async run(context: Context): Promise<number> {
    const { args } = context;
    const [file = '-'] = args.expectPositionals([], ['file']);
    const concurrency = args.integer('concurrency', 8, 1, 256);
    const fromStdin = file === '-';
    if (fromStdin && (context.io.stdin as { isTTY?: boolean }).isTTY) {
      throw new UsageError(
        'no input: name an export file, or pipe one in (mcp-session import < sessions.ndjson)',
      );
    }
    const store = await context.open(context.storeUrl());
    const total = fromStdin ? null : await countSessionLines(file);
    const input = fromStdin ? context.io.stdin : createReadStream(file);
    const progress = context.progress('import', total);
    const now = context.now();
    const summary: ImportSummary = {
      imported: 0,
      alreadyPresent: 0,
      expired: 0,
      conflicts: [],
      lines: 0,
    };
    const tally = (outcome: WriteOutcome, id: string, line: number) => {
      if (outcome.kind === 'copied') summary.imported++;
      else if (outcome.kind === 'present') summary.alreadyPresent++;
      else if (outcome.kind === 'expired') summary.expired++;
      else summary.conflicts.push({ id, line, reason: outcome.reason });
      progress.add();
    };

    const writer = new CheckedWriter(store);
    const pending = new Set<Promise<void>>();
    let stopped: ImportStopped | null = null;
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const text of lines) {
        const line = ++summary.lines;
        if (stopped) break;
        try {
          await context.checkpoint('interrupted');
        } catch {
          stopped = new ImportStopped('interrupted', line, 'interrupted');
          break;
        }
        if (line === 1) {
          try {
            parseHeader(text);
          } catch (error) {
            stopped = new ImportStopped('input', line, messageOf(error));
            break;
          }
          continue;
        }
        if (text.trim() === '') continue;
        let copy: ReturnType<typeof parseSessionLine>;
        try {
          copy = parseSessionLine(text);
        } catch (error) {
          stopped = new ImportStopped('input', line, messageOf(error));
          break;
        }
        const task: Promise<void> = writer
          .write(copy, () => now)
          .then((outcome) => tally(outcome, copy.record.id, line))
          .catch((error: unknown) => {
            stopped ??= new ImportStopped(
              'write',
              line,
              `writing session ${copy.record.id} failed: ${messageOf(error)}`,
            );
          })
          .finally(() => pending.delete(task));
        pending.add(task);
        if (pending.size >= concurrency) await Promise.race(pending);
      }
    } finally {
      await Promise.all(pending);
      lines.close();
    }
    if (summary.lines === 0 && !stopped) {
      stopped = new ImportStopped(
        'input',
        1,
        'the input is empty; expected the header line of an export',
      );
    }
    progress.clear();
    if (stopped) {
      const done = `${formatCount(summary.imported)} session${summary.imported === 1 ? ' was' : 's were'} imported before it stopped`;
      const again = 'run the same import again to finish: sessions already imported are skipped.';
      context.note(
        stopped.kind === 'interrupted'
          ? `mcp-session import: interrupted at line ${stopped.line}; ${done}. To finish, ${again}`
          : stopped.kind === 'input'
            ? `mcp-session import: line ${stopped.line}: ${stopped.message}. ${done}; nothing from line ${stopped.line} on was imported. Fix the input, then ${again}`
            : `mcp-session import: line ${stopped.line}: ${stopped.message}. ${done}. Once the cause is fixed, ${again}`,
      );
      if (context.json)
        await context.printJson({
          ...summary,
          ok: false,
          stoppedAtLine: stopped.line,
          error: stopped.message,
        });
      return 1;
    }
    progress.finish();
    const ok = summary.conflicts.length === 0;
    if (context.json) {
      await context.printJson({ ...summary, ok });
    } else {
      await context.print(
        `Imported ${formatCount(summary.imported)} session${summary.imported === 1 ? '' : 's'}` +
          `; ${formatCount(summary.alreadyPresent)} already present, ${formatCount(summary.expired)} expired (skipped)` +
          `, ${formatCount(summary.conflicts.length)} conflict${summary.conflicts.length === 1 ? '' : 's'}.`,
      );
      for (const conflict of summary.conflicts.slice(0, 20)) {
        await context.print(`  line ${conflict.line}: ${conflict.id}: ${conflict.reason}`);
      }
      if (summary.conflicts.length > 20) {
        await context.print(
          `  … and ${formatCount(summary.conflicts.length - 20)} more (see --json)`,
        );
      }
    }
    if (!ok) {
      context.note(
        'mcp-session import: some sessions already exist in the store in a different version and were not overwritten.',
      );
    }
    return ok ? 0 : 1;
  },
};

/** Session lines of an export file (lines after the header), for the progress total. */
async function countSessionLines(file: string): Promise<number> {
  let newlines = 0;
  let last = 0x0a;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) newlines++;
    if (chunk.length > 0) last = chunk[chunk.length - 1] ?? last;
  }
  const lines = newlines + (last === 0x0a ? 0 : 1);
  return Math.max(0, lines - 1);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
