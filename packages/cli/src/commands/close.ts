import { isSessionError } from '@mcp-session/core';
import type { Command, Context } from '../context.js';
import { describeAttempts, findSession } from '../lookup.js';
import { formatDuration, formatTimestamp } from '../output/times.js';

/** The session manager's default `closedRetentionMs`: one hour. */
const DEFAULT_RETENTION_MS = 60 * 60_000;

export const closeCommand: Command = {
  name: 'close',
  summary: 'Close a session (leaves a tombstone), or delete it with --purge',
  usesStore: true,
  options: {
    purge: { type: 'boolean' },
    retention: { type: 'string' },
    'no-hash': { type: 'boolean' },
  },
  help: `Usage: mcp-session close <id> [options]

Closes a session the way the session manager does: it becomes a "closed" tombstone that every caller sees
as missing and that cannot come back, and is swept once its retention ends. Owner binding does not apply:
an operator may close any session. With --purge the session and all its logs are deleted at once instead.

<id> is a session id or a storage id, looked up as "show" does.

Options:
  --purge               delete the session and its logs instead of leaving a tombstone
  --retention <time>    how long the tombstone stays before it expires (default 1h; e.g. 10m, 2h, 1d)
  --no-hash             look <id> up only as given (for managers run with hashIds: false)

Closing a session that is already closed succeeds and changes nothing.

Examples:
  mcp-session close 3q2-Xb8lGk0V6l1bT1s0mUe2h5t9vS3d --store sqlite:./data/sessions.db
  mcp-session close 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 --purge --json`,

  async run(context: Context): Promise<number> {
    const { args } = context;
    const [input = ''] = args.expectPositionals(['id']);
    const retentionMs = args.duration('retention', DEFAULT_RETENTION_MS);
    const hash = !args.flag('no-hash');
    const store = await context.open(context.storeUrl(), { mustExist: true });
    const now = context.now();
    const found = await findSession(store, input, { now, hash });
    if (!found) {
      context.note(
        `mcp-session close: no live session found for "${input}" (tried ${describeAttempts(input, hash)}); nothing to close.`,
      );
      return 1;
    }
    const { record, matchedBy } = found;
    const base = { storageId: record.id, matchedBy, previousState: record.state };

    if (args.flag('purge')) {
      const deleted = await store.delete(record.id);
      if (context.json) await context.printJson({ ...base, purged: deleted });
      else
        await context.print(`Deleted session ${record.id} and its logs (it was ${record.state}).`);
      return 0;
    }
    if (record.state === 'closed') {
      if (context.json)
        await context.printJson({
          ...base,
          closed: true,
          changed: false,
          expiresAt: record.expiresAt,
        });
      else await context.print(`Session ${record.id} was already closed; nothing changed.`);
      return 0;
    }
    // The same change SessionManager.closeSession makes, guarded so a racing close or transition to
    // closed is not overwritten; other states may change under us and closing is still right.
    const expiresAt = now + retentionMs;
    try {
      await store.update(
        record.id,
        { state: 'closed', lastActivityAt: now, expiresAt },
        { now, expectedState: ['active', 'idle', 'suspended'] },
      );
    } catch (error) {
      if (isSessionError(error, 'VERSION_CONFLICT')) {
        if (context.json) await context.printJson({ ...base, closed: true, changed: false });
        else
          await context.print(
            `Session ${record.id} was closed by someone else meanwhile; nothing changed.`,
          );
        return 0;
      }
      if (isSessionError(error, 'SESSION_NOT_FOUND')) {
        context.note(
          `mcp-session close: session ${record.id} expired or was deleted meanwhile; nothing to close.`,
        );
        return 1;
      }
      throw error;
    }
    if (context.json) {
      await context.printJson({ ...base, closed: true, changed: true, expiresAt });
    } else {
      await context.print(
        `Closed session ${record.id} (was ${record.state}). The tombstone expires at ${formatTimestamp(expiresAt)} (in ${formatDuration(retentionMs)}).`,
      );
    }
    return 0;
  },
};
