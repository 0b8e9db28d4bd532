import { readFileSync } from 'node:fs';
import { isSessionError } from '@mcp-session/core';
import { Args, GLOBAL_OPTIONS, STORE_OPTION, UsageError } from './args.js';
import { closeCommand } from './commands/close.js';
import { dashboardCommand } from './commands/dashboard.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { listCommand } from './commands/list.js';
import { migrateCommand } from './commands/migrate.js';
import { newAdapterCommand } from './commands/new-adapter.js';
import { reencryptCommand } from './commands/reencrypt.js';
import { showCommand } from './commands/show.js';
import { statsCommand } from './commands/stats.js';
import { sweepCommand } from './commands/sweep.js';
import {
  type CliIo,
  type Command,
  Context,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  InterruptedError,
} from './context.js';
import { errorCode } from './transfer.js';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  listCommand,
  showCommand,
  statsCommand,
  sweepCommand,
  closeCommand,
  exportCommand,
  importCommand,
  migrateCommand,
  reencryptCommand,
  dashboardCommand,
  newAdapterCommand,
];

const NAME_WIDTH = Math.max(...COMMANDS.map((command) => command.name.length));

const MAIN_HELP = `mcp-session: inspect and manage the sessions in an @mcp-session store, or start a new store adapter

Usage: mcp-session <command> [options]

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(NAME_WIDTH + 1)} ${command.summary}`).join('\n')}

Every command takes --help. Commands on one store take --store <url> or read SESSION_STORE_URL:
  memory:  file:./data/sessions  sqlite:./data/sessions.db  redis://host:6379/0?prefix=mcp
  postgres://user@host/db?schema=mcp
Commands that read or tidy a store (list, show, stats, sweep, close, export, reencrypt, and migrate's
--from)
open existing stores only: a missing SQLite file, file-store directory or Postgres schema is an error,
never created. import and migrate's --to create the store when needed.
The backend's package must be installed next to the CLI (e.g. npm install @mcp-session/sqlite
better-sqlite3); passwords in URLs are never printed.

Output is for people (tables, relative times) unless --json is given. Progress goes to stderr.

Exit codes: 0 ok, 1 the operation failed, 2 the command line is wrong.

Run "mcp-session <command> --help" for a command's options and examples, "mcp-session --version" for
the version.`;

const GLOBAL_HELP = `Global options:
  --json               print the result as JSON on stdout (progress and notes stay on stderr)
  -q, --quiet          no progress output
  -h, --help           show this help`;

const STORE_HELP = `  -s, --store <url>    the store (default: $SESSION_STORE_URL), e.g. sqlite:./data/sessions.db`;

/** The full `--help` text of a command. */
function commandHelp(command: Command): string {
  const globals = command.usesStore
    ? GLOBAL_HELP.replace('Global options:\n', `Global options:\n${STORE_HELP}\n`)
    : GLOBAL_HELP;
  return `${command.help}\n\n${globals}`;
}

/**
 * Runs the `mcp-session` command line and resolves to its exit code: 0 ok, 1 the operation failed, 2 the
 * command line is wrong. `argv` excludes the node binary and script (`process.argv.slice(2)`); `io`
 * defaults to the current process's streams and environment. Never calls `process.exit`.
 */
export async function runCli(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const full: CliIo = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: io.stdin ?? process.stdin,
    env: io.env ?? process.env,
    ...(io.signal === undefined ? {} : { signal: io.signal }),
  };
  const [name, ...rest] = argv;
  if (name === undefined) {
    full.stderr.write(`${MAIN_HELP}\n`);
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    full.stdout.write(`${MAIN_HELP}\n`);
    return EXIT_OK;
  }
  if (name === '--version' || name === '-v') {
    full.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  const lookup = name === 'help' ? rest[0] : name;
  const command = COMMANDS.find((c) => c.name === lookup);
  if (!command) {
    const problem = lookup?.startsWith('-')
      ? `put the command first: mcp-session <command> [options] (got option "${lookup}")`
      : `unknown command "${lookup}". Commands: ${COMMANDS.map((c) => c.name).join(', ')}`;
    full.stderr.write(`mcp-session: ${problem}\nRun "mcp-session --help" for usage.\n`);
    return EXIT_USAGE;
  }
  if (name === 'help') {
    full.stdout.write(`${commandHelp(command)}\n`);
    return EXIT_OK;
  }

  let args: Args;
  try {
    args = new Args(rest, {
      ...GLOBAL_OPTIONS,
      ...(command.usesStore ? STORE_OPTION : {}),
      ...command.options,
    });
  } catch (error) {
    return reportError(full, command, error);
  }
  if (args.flag('help')) {
    full.stdout.write(`${commandHelp(command)}\n`);
    return EXIT_OK;
  }
  const context = new Context(full, args, command);
  try {
    return await command.run(context);
  } catch (error) {
    context.clearProgress();
    return reportError(full, command, error);
  } finally {
    await context.dispose();
  }
}

/** Prints an error the way an operator can act on it and returns the exit code. */
function reportError(io: CliIo, command: Command, error: unknown): number {
  const prefix = `mcp-session ${command.name}:`;
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UsageError || isSessionError(error, 'INVALID_STORE_URL')) {
    io.stderr.write(`${prefix} ${message}\nRun "mcp-session ${command.name} --help" for usage.\n`);
    return EXIT_USAGE;
  }
  // The reader went away (`| head`): stop quietly, as tools killed by SIGPIPE do.
  if (code === 'EPIPE') return EXIT_FAILURE;
  if (error instanceof InterruptedError || code !== undefined) {
    // Errors with a code (ours, and Node's system errors such as ENOENT) say what happened on their own.
    io.stderr.write(`${prefix} ${message}\n`);
    return EXIT_FAILURE;
  }
  // Anything else is a bug: keep the stack for the report.
  io.stderr.write(
    `${prefix} unexpected error: ${error instanceof Error ? (error.stack ?? message) : message}\n`,
  );
  return EXIT_FAILURE;
}

function version(): string {
  const manifest = JSON.parse(
    readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  return manifest.version;
}
