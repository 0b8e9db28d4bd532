import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDirectory, storeUrlsWithSecret, URL_SECRET } from '@mcp-session/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli.js';
import { cli, openSqlite, runInProcess, sqliteUrl } from './helpers.js';

const dir = freshDirectory('cli-usage');
afterAll(() => dir.remove());

describe('help', () => {
  it('--help lists every command and the exit codes', async () => {
    const run = await cli(['--help']);
    expect(run.code).toBe(0);
    for (const command of COMMANDS)
      expect(run.stdout).toMatch(new RegExp(`^  ${command.name} `, 'm'));
    expect(run.stdout).toContain(
      'Exit codes: 0 ok, 1 the operation failed, 2 the command line is wrong.',
    );
  });

  it.each(COMMANDS.map((command) => [command.name, command] as const))(
    '%s --help documents every option it accepts, with an example',
    async (name, command) => {
      const run = await runInProcess([name, '--help']);
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toMatch(new RegExp(`^Usage: mcp-session ${name}`));
      const options = {
        ...command.options,
        json: {},
        quiet: {},
        help: {},
        ...(command.usesStore ? { store: {} } : {}),
      };
      for (const option of Object.keys(options)) expect(run.stdout).toContain(`--${option}`);
      expect(run.stdout).toMatch(new RegExp(`Examples:\\n  mcp-session ${name} `));
    },
  );

  it('the binary prints it for --help, -h and "help <command>" alike', async () => {
    const help = await cli(['sweep', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: mcp-session sweep/);
    expect(await cli(['sweep', '-h'])).toEqual(help);
    expect(await cli(['help', 'sweep'])).toEqual(help);
  });

  it('--help wins over everything else on the line, even without a store', async () => {
    const run = await cli(['migrate', '--from', 'x:', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: mcp-session migrate');
  });
});

describe('usage errors exit 2 and point at --help', () => {
  it.each([
    [[], /Usage: mcp-session <command>/],
    [['frobnicate'], /unknown command "frobnicate"\. Commands: list, show, stats/],
    [
      ['list', '--bogus'],
      /mcp-session list: unknown option "--bogus"\nRun "mcp-session list --help" for usage\./,
    ],
    [['list'], /no store given: pass --store <url> .* or set SESSION_STORE_URL/],
    [['list', '--store', 'nosuch://x'], /Unknown store scheme "nosuch:"\. Known: .*sqlite:/],
  ])('the binary: %j', async (args, message) => {
    const run = await cli(args, { cwd: dir.path });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
  });

  it.each([
    [['--store', 'memory:', 'list'], /put the command first/],
    [['list', '--bogus'], /mcp-session list: unknown option "--bogus"/],
    [
      ['list', '--store', 'memory:', '--limit', '0'],
      /--limit must be a whole number, 1 to 10000; got "0"/,
    ],
    [['list', '--store', 'memory:', '--limit', 'ten'], /--limit must be a whole number/],
    // Decimal digits only (Number() would take "0x10" as 16 and "1e3" as 1000).
    [
      ['list', '--store', 'memory:', '--limit', '0x10'],
      /--limit must be a whole number.*got "0x10"/,
    ],
    [['list', '--store', 'memory:', '--limit', '1e3'], /--limit must be a whole number.*got "1e3"/],
    [['list', '--store', 'memory:', '--limit', '2.5'], /--limit must be a whole number/],
    [
      ['sweep', '--store', 'memory:', '--batch-size', '0x10'],
      /--batch-size must be a whole number/,
    ],
    [
      ['show', 'abc', '--store', 'memory:', '--messages', '1e3'],
      /--messages must be a whole number/,
    ],
    [
      ['export', '--store', 'memory:', '--concurrency', '0x8'],
      /--concurrency must be a whole number/,
    ],
    [
      ['close', 'abc', '--store', 'memory:', '--retention', '0x10'],
      /--retention must be a positive duration.*got "0x10"/,
    ],
    [
      ['close', 'abc', '--store', 'memory:', '--retention', '1e3'],
      /--retention must be a positive duration.*got "1e3"/,
    ],
    [['list', '--store', 'memory:?sweepIntervalMs=0x10'], /sweepIntervalMs must be a whole number/],
    [
      ['list', '--store', 'sqlite:./x.db?busyTimeoutMs=1e3'],
      /busyTimeoutMs must be a whole number/,
    ],
    [
      ['list', '--store', 'memory:', '--state', 'sleeping'],
      /--state must be one of active, idle, suspended, closed/,
    ],
    [['list', '--store', 'memory:', 'extra'], /unexpected argument "extra"/],
    [['list', '--store'], /--store <value>' argument missing/],
    [['show', '--store', 'memory:'], /mcp-session show: missing <id>/],
    [
      ['close', 'abc', '--store', 'memory:', '--retention', 'soon'],
      /--retention must be a positive duration/,
    ],
    [['show', 'abc', '--store', 'memory:', '--log', 'bad log'], /--log: Log name must be/],
    [
      ['export', '--store', 'memory:', '--concurrency', '0'],
      /--concurrency must be a whole number, 1 to 256/,
    ],
    [['import', 'a', 'b', '--store', 'memory:'], /unexpected argument "b"/],
    [['migrate', '--from', 'memory:'], /mcp-session migrate: missing --to <url>/],
    [
      ['migrate', '--from', 'sqlite:./a.db', '--to', 'sqlite:./a.db'],
      /--from and --to name the same store/,
    ],
    [
      ['migrate', '--from', 'memory:', '--to', 'memory:?x', '--store', 'memory:'],
      /unknown option "--store"/,
    ],
    [['list', '--store', '  '], /no store given/],
    [['list', '--store', 'no-scheme-here'], /has no scheme/],
    [['list', '--store', 'sqlite:./x.db?cache=huge'], /Unknown sqlite store option "cache"/],
    [['list', '--store', 'memory:somewhere'], /A memory store URL has no location/],
  ])('%j', async (args, message) => {
    const run = await runInProcess(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/Run "mcp-session (\w+ )?--help" for usage\.\n$/);
  });

  it('SESSION_STORE_URL stands in for --store, and --store wins over it', async () => {
    const url = sqliteUrl(dir.path, 'env.db');
    // stats opens existing stores only (issue 19).
    await openSqlite(url).close();
    const fromEnv = await cli(['stats', '--json'], { env: { SESSION_STORE_URL: url } });
    expect(fromEnv.code).toBe(0);
    expect(JSON.parse(fromEnv.stdout).store).toBe(url);
    const overridden = await cli(['stats', '--json', '--store', 'memory:'], {
      env: { SESSION_STORE_URL: url },
    });
    expect(JSON.parse(overridden.stdout).store).toBe('memory:');
  });
});

describe('operational failures exit 1 and say what to do', () => {
  it('a backend package that is not installed is named, with the install command', async () => {
    // An installation with the CLI and core only: nothing else resolvable from the CLI, core or the cwd.
    const app = join(dir.path, 'app');
    const cliCopy = join(app, 'node_modules', '@mcp-session', 'cli');
    mkdirSync(cliCopy, { recursive: true });
    cpSync(fileURLToPath(new URL('../src', import.meta.url)), join(cliCopy, 'src'), {
      recursive: true,
    });
    cpSync(
      fileURLToPath(new URL('../package.json', import.meta.url)),
      join(cliCopy, 'package.json'),
    );
    symlinkSync(
      fileURLToPath(new URL('../../core', import.meta.url)),
      join(app, 'node_modules', '@mcp-session', 'core'),
    );
    const bin = join(cliCopy, 'src', 'bin.ts');

    const postgres = await cli(['stats', '--store', 'postgres://app@127.0.0.1/app'], {
      cwd: app,
      bin,
    });
    expect(postgres.code).toBe(1);
    expect(postgres.stderr).toBe(
      'mcp-session stats: The "postgres:" session store needs @mcp-session/postgres and pg. Install it: npm install @mcp-session/postgres pg. ' +
        "If it is installed and this code is bundled, hand the adapter to createStore (`adapters` option) or import '@mcp-session/postgres/register'.\n",
    );
    const sqlite = await cli(['list', '--store', 'sqlite:./s.db'], { cwd: app, bin });
    expect(sqlite.code).toBe(1);
    expect(sqlite.stderr).toContain('npm install @mcp-session/sqlite better-sqlite3');
  });

  it('an unreachable store fails with exit 1 and never prints the password', async () => {
    const run = await cli([
      'stats',
      '--store',
      'postgres://app:s3cr3t-pw@127.0.0.1:1/app?connect_timeout=2',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^mcp-session stats: /);
    expect(run.stderr).not.toContain('s3cr3t-pw');
    expect(run.stderr).not.toContain('unexpected error');
  });

  it('a --store URL carrying a password, in any form, fails without printing it (regression: a URL without a scheme printed its password)', async () => {
    for (const url of storeUrlsWithSecret()) {
      const run = await runInProcess(['stats', '--store', url]);
      expect(run.code, url).not.toBe(0);
      expect(run.stderr, url).toMatch(/^mcp-session stats: /);
      expect(run.stdout + run.stderr, url).not.toContain(URL_SECRET);
      expect(run.stdout + run.stderr, url).not.toContain('Hunter%32pw');
    }
    const binary = await cli(['list', '--store', `//admin:${URL_SECRET}@db.example/app`]);
    expect(binary.code).not.toBe(0);
    expect(binary.stderr).toContain('//admin:***@db.example/app');
    expect(binary.stderr).not.toContain(URL_SECRET);
  });

  it('a SQLite file in a missing directory fails with exit 1', async () => {
    const run = await cli(['list', '--store', `sqlite:${join(dir.path, 'missing', 'x.db')}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^mcp-session list: .*missing/);
  });
});
