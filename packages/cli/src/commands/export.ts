import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { assertValidLogName } from '@mcp-session/core';
import { type Args, UsageError } from '../args.js';
import { type Command, type Context, displayUrl } from '../context.js';
import { EXPORT_FORMAT, exportHeader } from '../export-format.js';
import { formatCount } from '../output/times.js';
import { listPages, mapLimit, readSession } from '../transfer.js';

export const exportCommand: Command = {
  name: 'export',
  summary: 'Write sessions with their history as NDJSON to stdout or a file',
  usesStore: true,
  options: {
    output: { type: 'string', short: 'o' },
    log: { type: 'string', multiple: true },
    state: { type: 'string' },
    owner: { type: 'string' },
    'batch-size': { type: 'string' },
    concurrency: { type: 'string' },
  },
  help: `Usage: mcp-session export [options]

Writes every live session (closed tombstones included) with its record, context and history as NDJSON:
a header line {"format":"${EXPORT_FORMAT}","version":1,...}, then one line {"record":…,"logs":…} per
session. "mcp-session import" reads it back; the format is described in the README.

Only the "history" log is exported, plus the logs named with --log: a store cannot list a session's log
names. The MCP event logs of resumable streams are not exported (they are short-lived replay buffers).

Options:
  -o, --output <file>    write to this file instead of stdout; it appears only once complete
  --log <name>           also export this log (repeatable)
  --state <state>        only sessions in this state
  --owner <owner>        only sessions bound to this owner
  --batch-size <n>       sessions listed per store call (default 500)
  --concurrency <n>      sessions read at once (default 8)

Progress goes to stderr. With --output the summary is printed on stdout (as JSON with --json).

Examples:
  mcp-session export --store sqlite:./data/sessions.db > sessions.ndjson
  mcp-session export --store redis://localhost:6379 -o backup.ndjson --log events
  mcp-session export --state active | gzip > active.ndjson.gz`,

  async run(context: Context): Promise<number> {
    const { args } = context;
    args.expectPositionals([]);
    const logs = logNames(args);
    const state = args.state();
    const owner = args.string('owner');
    const batchSize = args.integer('batch-size', 500, 1, 10_000);
    const concurrency = args.integer('concurrency', 8, 1, 256);
    const output = args.string('output');
    const url = context.storeUrl();
    const store = await context.open(url, { mustExist: true });
    const now = context.now();
    const stats = await store.stats(now);
    const total =
      owner !== undefined ? null : state !== undefined ? stats.byState[state] : stats.total;

    const sink = output === undefined ? null : await openOutput(`${output}.partial`);
    const write = async (text: string) => {
      if (sink === null) return context.write(text);
      if (sink.failed) throw sink.failed;
      if (!sink.stream.write(text)) await once(sink.stream, 'drain');
    };
    const progress = context.progress('export', total);
    let exported = 0;
    let vanished = 0;
    try {
      await write(`${JSON.stringify(exportHeader(displayUrl(url), logs, now))}\n`);
      const filters = {
        ...(state === undefined ? {} : { state }),
        ...(owner === undefined ? {} : { owner }),
      };
      for await (const page of listPages(store, { now, limit: batchSize, ...filters })) {
        await context.checkpoint(
          output === undefined
            ? 'the export on stdout is incomplete'
            : `nothing was written to ${output}`,
        );
        const copies = await mapLimit(page, concurrency, (record) =>
          readSession(store, record, logs, now),
        );
        for (const copy of copies) {
          if (copy === null) {
            vanished++;
            continue;
          }
          await write(`${JSON.stringify(copy)}\n`);
          exported++;
        }
        progress.add(page.length);
      }
      if (sink !== null && output !== undefined) {
        sink.stream.end();
        await finished(sink.stream);
        await rename(`${output}.partial`, output);
      }
    } catch (error) {
      if (sink !== null) {
        sink.stream.destroy();
        await rm(`${output}.partial`, { force: true });
      }
      throw error;
    }
    progress.finish();

    const summary = { exported, vanished, logs, output: output ?? null };
    const text =
      `Exported ${formatCount(exported)} session${exported === 1 ? '' : 's'}` +
      (output === undefined ? '' : ` to ${output}`) +
      (vanished > 0 ? ` (${formatCount(vanished)} expired or were deleted while exporting)` : '') +
      '.';
    if (output === undefined) context.note(text);
    else if (context.json) await context.printJson(summary);
    else await context.print(text);
    return 0;
  },
};

/**
 * Opens the file an export is written to, failing at once (missing directory, no permission) rather than
 * after the store was read. A later write error is kept and fails the next write.
 */
async function openOutput(path: string): Promise<{ stream: WriteStream; failed: Error | null }> {
  const stream = createWriteStream(path, { flags: 'w' });
  await once(stream, 'open');
  const sink = { stream, failed: null as Error | null };
  stream.on('error', (error) => {
    sink.failed = error;
  });
  return sink;
}

/** `history` plus the logs named with `--log`, checked. */
export function logNames(args: Args): string[] {
  const names = [...new Set(['history', ...args.strings('log')])];
  for (const name of names) {
    try {
      assertValidLogName(name);
    } catch (error) {
      throw new UsageError(`--log: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return names;
}
