import type { Command, Context } from '../context.js';
import { formatCount } from '../output/times.js';

export const sweepCommand: Command = {
  name: 'sweep',
  summary: 'Delete expired sessions and their logs (--dry-run counts them)',
  usesStore: true,
  options: {
    'dry-run': { type: 'boolean' },
    'batch-size': { type: 'string' },
  },
  help: `Usage: mcp-session sweep [options]

Deletes every session past its expiry, with all its logs, in bounded batches so other clients of the store
are never blocked for long. Closed sessions are deleted once their tombstone expires. Stores that expire
data on their own (Redis) usually have little to sweep.

Options:
  --dry-run            count what would be deleted, delete nothing
  --batch-size <n>     sessions deleted per store call (default 1000)

Examples:
  mcp-session sweep --store sqlite:./data/sessions.db --dry-run
  mcp-session sweep --json`,

  async run(context: Context): Promise<number> {
    const { args } = context;
    args.expectPositionals([]);
    const batchSize = args.integer('batch-size', 1000);
    const store = await context.open(context.storeUrl(), { mustExist: true });
    const now = context.now();
    const { expired } = await store.stats(now);

    if (args.flag('dry-run')) {
      if (context.json) await context.printJson({ dryRun: true, expired, deleted: 0 });
      else {
        await context.print(
          `${formatCount(expired)} expired session${expired === 1 ? '' : 's'} would be deleted (dry run: nothing was deleted).`,
        );
      }
      return 0;
    }
    const progress = context.progress('sweep', expired);
    let deleted = 0;
    for (;;) {
      await context.checkpoint(
        `${formatCount(deleted)} expired sessions were deleted before the stop`,
      );
      const count = await store.sweep(now, { limit: batchSize });
      deleted += count;
      progress.add(count);
      if (count < batchSize) break;
    }
    progress.finish();
    if (context.json) await context.printJson({ dryRun: false, expired, deleted });
    else
      await context.print(
        `Deleted ${formatCount(deleted)} expired session${deleted === 1 ? '' : 's'}.`,
      );
    return 0;
  },
};
