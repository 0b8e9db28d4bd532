import { loadKeyringFile, reencryptStore } from '@mcp-session/core';
import { UsageError } from '../args.js';
import { type Command, type Context, InterruptedError } from '../context.js';
import { formatCount } from '../output/times.js';

export const reencryptCommand: Command = {
  name: 'reencrypt',
  summary: 'Rewrite every context value and history entry under the current encryption key',
  usesStore: true,
  options: {
    'keys-file': { type: 'string' },
    'batch-size': { type: 'string' },
  },
  help: `Usage: mcp-session reencrypt --keys-file <path> [options]

Re-encrypts the store's context values and history entries with the keys file's "current" key: values
under older keys, and values in clear written before encryption was enabled. Safe while servers keep
running: each session is rewritten with a guarded write that retries when it races a live one, and what
is already under the current key is skipped, so an interrupted run is finished by running it again.
Run it once every server uses the new current key; then older keys can leave the keys file.

The keys file (the one the servers use, SESSION_ENCRYPTION_KEYS_FILE):
  {"current": "2026-12", "keys": {"2026-06": "<base64 of 32 bytes>", "2026-12": "<base64 of 32 bytes>"}}
Generate a key with: openssl rand -base64 32

Options:
  --keys-file <path>   the keys file (default: $SESSION_ENCRYPTION_KEYS_FILE)
  --batch-size <n>     sessions per store page, and history entries per rewrite (default 100)

Exit codes: 0 everything is under the current key; 1 a value did not decrypt (a key missing from the
file, or tampered data), the store cannot rewrite history (an adapter older than replaceEntries), or the
run was interrupted; 2 the command line is wrong.

Examples:
  mcp-session reencrypt --store sqlite:./data/sessions.db --keys-file ./keys.json
  mcp-session reencrypt --store redis://127.0.0.1:6379/0?prefix=mcp --keys-file /run/secrets/keys --json`,

  async run(context: Context): Promise<number> {
    const { args } = context;
    args.expectPositionals([]);
    const batchSize = args.integer('batch-size', 100);
    const keysFile = args.string('keys-file') ?? context.io.env.SESSION_ENCRYPTION_KEYS_FILE;
    if (keysFile === undefined || keysFile.trim() === '') {
      throw new UsageError(
        'no keys file given: pass --keys-file <path> or set SESSION_ENCRYPTION_KEYS_FILE',
      );
    }
    const keyring = await loadKeyringFile(keysFile);
    const store = await context.open(context.storeUrl(), { mustExist: true });
    let progress: ReturnType<Context['progress']> | undefined;
    const result = await reencryptStore(store, keyring, {
      batchSize,
      ...(context.io.signal === undefined ? {} : { signal: context.io.signal }),
      onProgress: ({ done, total }) => {
        progress ??= context.progress('reencrypt', total);
        progress.add(done - progress.count);
      },
    });
    progress?.finish();
    if (!result.complete) {
      throw new InterruptedError(
        `${formatCount(result.done)} of ${formatCount(result.total)} sessions were re-encrypted before the stop; run the command again to finish (what is already under the current key is skipped)`,
      );
    }
    const summary = {
      currentKeyId: keyring.currentKeyId,
      sessions: result.done,
      contextValues: result.contextValues,
      historyEntries: result.historyEntries,
      vanished: result.vanished,
    };
    if (context.json) await context.printJson(summary);
    else {
      await context.print(
        `Re-encrypted ${formatCount(result.done)} session${result.done === 1 ? '' : 's'} under key "${keyring.currentKeyId}": ` +
          `${formatCount(result.contextValues)} context value${result.contextValues === 1 ? '' : 's'} and ` +
          `${formatCount(result.historyEntries)} history entr${result.historyEntries === 1 ? 'y' : 'ies'} rewritten, the rest already current.` +
          (result.vanished > 0
            ? ` ${formatCount(result.vanished)} expired or were deleted meanwhile.`
            : ''),
      );
    }
    return 0;
  },
};
