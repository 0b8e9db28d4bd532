import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { type Args, UsageError } from '../args.js';
import type { Command, Context } from '../context.js';
import {
  checkClassName,
  checkPackageName,
  checkScheme,
  pascalCase,
  scaffoldAdapter,
} from '../scaffold.js';
import { errorCode } from '../transfer.js';

export const newAdapterCommand: Command = {
  name: 'new-adapter',
  summary: 'Write a new store adapter package that passes the conformance suite',
  usesStore: false,
  options: {
    name: { type: 'string' },
    scheme: { type: 'string' },
    class: { type: 'string' },
  },
  help: `Usage: mcp-session new-adapter <directory> --name <npm-name> --scheme <scheme> [--class <ClassName>]

Writes a new session store package into <directory>, which must be empty or missing: a store class on
BaseSessionStore (@mcp-session/core/adapter) with storeFromUrl for "<scheme>:" URLs, its conformance test
(test/conformance.test.ts runs @mcp-session/test-suite), package.json, tsconfig.json, vitest.config.ts and
a README with the next steps. The store keeps sessions in a Map in the process, so the suite passes as
generated; replace the Map with your backend method by method, each method's comment saying what must be
atomic there.

@mcp-session/core is a peer dependency; it and the dev dependencies (@mcp-session/test-suite, vitest, tsx,
typescript, @types/node) get caret ranges of the versions this CLI works with.

Options:
  --name <npm-name>     the package name, e.g. mcp-session-dynamo or @acme/session-store
  --scheme <scheme>     the URL scheme it opens, e.g. dynamo for "dynamo:" URLs
  --class <ClassName>   the store class (default: from the scheme, e.g. DynamoSessionStore)

With --json it prints { directory, name, scheme, className, files, dependencies }.

Examples:
  mcp-session new-adapter ./mcp-session-dynamo --name mcp-session-dynamo --scheme dynamo
  mcp-session new-adapter packages/kv --name @acme/session-kv --scheme acme-kv --class AcmeKvStore`,

  async run(context: Context): Promise<number> {
    const { args } = context;
    const [directory = ''] = args.expectPositionals(['directory']);
    const name = checkPackageName(required(args, 'name', '<npm-name>'));
    const scheme = checkScheme(required(args, 'scheme', '<scheme>'));
    const className = checkClassName(args.string('class') ?? `${pascalCase(scheme)}SessionStore`);
    const target = resolve(directory);
    await checkEmptyOrMissing(directory, target);
    const { files, dependencies } = scaffoldAdapter({ packageName: name, scheme, className });

    // Written in place, not renamed into place: the directory may be the shell's working directory. What
    // this run created is taken back if a write fails (no space, no permission); nothing else is touched.
    const created: string[] = [];
    try {
      const made = await mkdir(target, { recursive: true });
      if (made !== undefined) created.push(made);
      for (const file of files) {
        const path = join(target, file.path);
        const parent = await mkdir(dirname(path), { recursive: true });
        if (parent !== undefined) created.push(parent);
        await writeFile(path, file.content, { flag: 'wx' });
        created.push(path);
      }
    } catch (error) {
      for (const path of created.reverse()) await rm(path, { recursive: true, force: true });
      throw error;
    }

    const unknown = Object.entries(dependencies).filter(([, range]) => range === 'latest');
    for (const [dependency] of unknown) {
      context.note(
        `mcp-session new-adapter: ${dependency} is not installed beside the CLI, so package.json asks for its "latest" version; pin it after installing.`,
      );
    }
    if (context.json) {
      await context.printJson({
        directory: target,
        name,
        scheme,
        className,
        files: files.map((file) => file.path),
        dependencies,
      });
      return 0;
    }
    await context.print(`Wrote the session store package ${name} to ${directory}:`);
    for (const file of files) await context.print(`  ${file.path}`);
    await context.print(
      `\n${className} opens "${scheme}:" URLs and keeps sessions in a Map in the process: it passes the conformance suite as it is.`,
    );
    await context.print(`Next: cd ${directory} && npm install && npm test`);
    await context.print(
      'Then replace the Map with your backend, method by method; README.md lists the steps.',
    );
    return 0;
  },
};

function required(args: Args, option: string, placeholder: string): string {
  const value = args.string(option);
  if (value === undefined) throw new UsageError(`missing --${option} ${placeholder}`);
  return value;
}

/**
 * Refuses a directory that holds anything (nothing is ever overwritten), or a path through a file.
 */
async function checkEmptyOrMissing(shown: string, path: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    if (errorCode(error) === 'ENOTDIR') {
      throw new UsageError(`${shown} is a file, or inside one: name a new or empty directory`);
    }
    throw error;
  }
  if (entries.length > 0) {
    throw new UsageError(
      `${shown} is not empty (it holds ${entries.length === 1 ? `"${entries[0]}"` : `${entries.length} entries, e.g. "${entries.sort()[0]}"`}); new-adapter never overwrites files: name a new or empty directory`,
    );
  }
}
