import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDirectory } from '@mcp-session/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, runInProcess } from './helpers.js';

const WORKSPACE = fileURLToPath(new URL('../../../', import.meta.url));
const PACKAGES = join(WORKSPACE, 'packages');
const CLI_PACKAGE = join(PACKAGES, 'cli');
const TOOLS = ['@types/node', 'tsx', 'typescript', 'vitest'];

const dir = freshDirectory('cli-new-adapter');
afterAll(() => dir.remove());

/** Files every generated package has, for the scheme `acme-kv`. */
const FILES = [
  '.gitignore',
  'README.md',
  'package.json',
  'src/acme-kv-store.ts',
  'src/index.ts',
  'test/child.ts',
  'test/conformance.test.ts',
  'tsconfig.build.json',
  'tsconfig.json',
  'vitest.config.ts',
];

interface Manifest {
  name: string;
  version: string;
  files?: string[];
  exports?: Record<string, string | Record<string, string>>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [field: string]: unknown;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** What a finished child process printed. */
interface Run {
  code: number | null;
  output: string;
}

/**
 * Runs Node on a script in `cwd` with the environment an author's shell has: none of vitest's variables,
 * and no `@mcp-session/source` condition (a published package has no TypeScript sources to point at).
 */
function node(args: readonly string[], cwd: string): Promise<Run> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !/^(VITEST.*|TEST|NODE_OPTIONS|NODE_PATH)$/.test(key),
    ),
  );
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/**
 * Installs core, the suite and the CLI in `root/node_modules` as npm would from the registry: each
 * package's `files` with `dist/` compiled from this workspace's sources (by one tsc run), its manifest
 * without the `@mcp-session/source` condition, and the tools linked from this workspace. The workspace
 * packages themselves have no `dist/`: their tests run on the sources.
 */
async function installFromWorkspace(root: string): Promise<string> {
  const packages = ['core', 'test-suite', 'cli'];
  mkdirSync(root, { recursive: true });
  const built = join(root, 'built');
  const config = join(root, 'tsconfig.build.json');
  writeFileSync(
    config,
    JSON.stringify({
      extends: join(WORKSPACE, 'tsconfig.base.json'),
      compilerOptions: {
        rootDir: PACKAGES,
        outDir: built,
        declarationMap: false,
        sourceMap: false,
        typeRoots: [join(CLI_PACKAGE, 'node_modules', '@types')],
      },
      include: packages.map((name) => join(PACKAGES, name, 'src')),
    }),
  );
  const tsc = await node(
    [join(CLI_PACKAGE, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config],
    root,
  );
  expect(tsc, 'building core, test-suite and cli').toEqual({ code: 0, output: '' });

  const modules = join(root, 'node_modules');
  for (const name of packages) {
    const source = join(PACKAGES, name);
    const target = join(modules, '@mcp-session', name);
    mkdirSync(target, { recursive: true });
    const manifest = readJson<Manifest>(join(source, 'package.json'));
    for (const entry of Object.values(manifest.exports ?? {})) {
      if (typeof entry === 'object') delete entry['@mcp-session/source'];
    }
    writeFileSync(join(target, 'package.json'), JSON.stringify(manifest, null, 2));
    for (const file of manifest.files ?? []) {
      if (file === 'dist') renameSync(join(built, name, 'src'), join(target, 'dist'));
      else cpSync(join(source, file), join(target, file), { recursive: true });
    }
  }
  for (const tool of TOOLS) link(join(CLI_PACKAGE, 'node_modules', tool), join(modules, tool));
  return modules;
}

function link(existing: string, path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(realpathSync(existing), path, 'dir');
}

describe('new-adapter writes a package that works as generated', () => {
  it('from the built CLI: it typechecks, passes every conformance group that applies, builds and registers its scheme', {
    timeout: 300_000,
  }, async () => {
    const root = join(dir.path, 'install');
    const modules = await installFromWorkspace(root);
    const bin = join(modules, '@mcp-session', 'cli', 'dist', 'bin.js');
    const target = join(root, 'session-kv');

    const run = await cli(
      ['new-adapter', target, '--name', '@acme/session-kv', '--scheme', 'acme-kv', '--json'],
      { bin, cwd: root },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      directory: target,
      name: '@acme/session-kv',
      scheme: 'acme-kv',
      className: 'AcmeKvSessionStore',
      files: FILES,
    });
    for (const file of FILES) {
      expect(readFileSync(join(target, file), 'utf8'), file).not.toMatch(/\{\{|\}\}/);
    }

    // Versions: what this workspace holds, as caret ranges, never a workspace or catalog protocol.
    const version = (path: string) => readJson<Manifest>(join(path, 'package.json')).version;
    const manifest = readJson<Manifest>(join(target, 'package.json'));
    const core = `^${version(join(PACKAGES, 'core'))}`;
    expect(manifest).toMatchObject({
      name: '@acme/session-kv',
      type: 'module',
      engines: { node: '>=20.19' },
      exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
      files: ['dist', 'src'],
      scripts: {
        build: 'tsc -p tsconfig.build.json',
        test: 'vitest run',
        typecheck: 'tsc -p tsconfig.json --noEmit',
      },
    });
    expect(manifest.peerDependencies).toEqual({ '@mcp-session/core': core });
    expect(manifest.devDependencies).toEqual({
      '@mcp-session/core': core,
      '@mcp-session/test-suite': `^${version(join(PACKAGES, 'test-suite'))}`,
      ...Object.fromEntries(
        TOOLS.map((tool) => [tool, `^${version(join(CLI_PACKAGE, 'node_modules', tool))}`]),
      ),
    });

    for (const name of ['@mcp-session/core', '@mcp-session/test-suite', ...TOOLS]) {
      link(join(modules, name), join(target, 'node_modules', name));
    }
    const typecheck = await node(
      ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit'],
      target,
    );
    expect(typecheck).toEqual({ code: 0, output: '' });

    const report = join(root, 'conformance.json');
    const suite = await node(
      ['node_modules/vitest/vitest.mjs', 'run', '--reporter=json', `--outputFile=${report}`],
      target,
    );
    const results = readJson<{
      testResults: {
        assertionResults: {
          ancestorTitles: string[];
          title: string;
          status: string;
          failureMessages: string[];
        }[];
      }[];
    }>(report).testResults.flatMap((file) => file.assertionResults);
    const failures = results
      .filter((result) => result.status !== 'passed' && result.status !== 'skipped')
      .map(
        (result) =>
          `${[...result.ancestorTitles, result.title].join(' > ')}: ${result.failureMessages[0]?.split('\n')[0]}`,
      );
    expect(failures).toEqual([]);
    expect(suite.code, suite.output).toBe(0);
    const statuses = new Map<string, Set<string>>();
    for (const result of results) {
      const group = result.ancestorTitles.at(-1) ?? '';
      statuses.set(group, (statuses.get(group) ?? new Set()).add(result.status));
    }
    // Only the groups of the capabilities an in-process store does not have are skipped, wholly — and
    // the owner-first case, which needs the damagePayload hook a stand-in cannot give.
    expect(Object.fromEntries([...statuses].map(([group, set]) => [group, [...set]]))).toEqual({
      records: ['passed'],
      logs: ['passed'],
      replaceEntries: ['passed'],
      concurrency: ['passed'],
      expiry: ['passed'],
      listing: ['passed'],
      stats: ['passed'],
      isolation: ['passed', 'skipped'],
      manager: ['passed'],
      encryption: ['passed'],
      validation: ['passed'],
      lifecycle: ['passed'],
      durable: ['skipped'],
      processes: ['skipped'],
      messaging: ['skipped'],
    });

    const build = await node(
      ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'],
      target,
    );
    expect(build).toEqual({ code: 0, output: '' });
    expect(readdirSync(join(target, 'dist')).sort()).toEqual(
      expect.arrayContaining(['acme-kv-store.d.ts', 'acme-kv-store.js', 'index.d.ts', 'index.js']),
    );

    // The built package by its own name, as an application imports it after `npm install`.
    const app = `
        import { createStore, registerStore, SessionManager } from '@mcp-session/core';
        import { AcmeKvSessionStore, storeFromUrl } from '@acme/session-kv';
        registerStore('acme-kv', storeFromUrl);
        const store = await createStore('acme-kv:');
        const manager = new SessionManager({ store });
        const { id } = await manager.createSession({ context: { plan: 'pro' } });
        const result = {
          isStore: store instanceof AcmeKvSessionStore,
          capabilities: store.capabilities,
          context: (await manager.getSession(id))?.context,
          refused: {},
        };
        await store.close();
        for (const url of ['acme-kv://db.internal/sessions', 'acme-kv:?poolSize=4', 'redis://x']) {
          try {
            storeFromUrl(url);
          } catch (error) {
            result.refused[url] = error.code + ': ' + error.message;
          }
        }
        console.log(JSON.stringify(result));
      `;
    const used = await node(['--input-type=module', '-e', app], target);
    expect(used.code, used.output).toBe(0);
    expect(JSON.parse(used.output)).toEqual({
      isStore: true,
      capabilities: {
        durable: false,
        sharedAcrossProcesses: false,
        nativeExpiry: false,
        messaging: false,
      },
      context: { plan: 'pro' },
      refused: {
        'acme-kv://db.internal/sessions':
          'INVALID_STORE_URL: acme-kv: store URLs have no location yet: write "acme-kv:", got "acme-kv://db.internal/sessions"',
        'acme-kv:?poolSize=4':
          'INVALID_STORE_URL: Unknown AcmeKv store option "poolSize" in "acme-kv:?poolSize=4" (known: none)',
        'redis://x': 'INVALID_STORE_URL: "redis://x" does not start with "acme-kv:"',
      },
    });

    // Without the suite beside the CLI, the package asks for its latest version, and the CLI says so.
    rmSync(join(modules, '@mcp-session', 'test-suite'), { recursive: true });
    const second = join(root, 'second');
    const alone = await cli(['new-adapter', second, '--name', 'kv', '--scheme', 'kv', '--json'], {
      bin,
      cwd: root,
    });
    expect(alone.code).toBe(0);
    expect(alone.stderr).toBe(
      'mcp-session new-adapter: @mcp-session/test-suite is not installed beside the CLI, so package.json asks for its "latest" version; pin it after installing.\n',
    );
    expect(readJson<Manifest>(join(second, 'package.json')).devDependencies).toMatchObject({
      '@mcp-session/core': core,
      '@mcp-session/test-suite': 'latest',
    });
  });
});

describe('new-adapter', () => {
  it('derives the class from the scheme, normalises the scheme as registerStore does, prints what it wrote', async () => {
    const target = join(dir.path, 'dynamo');
    const run = await runInProcess([
      'new-adapter',
      target,
      '--name',
      'mcp-session-dynamo',
      '--scheme',
      'My.Dynamo+DB:',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      `Wrote the session store package mcp-session-dynamo to ${target}:\n`,
    );
    expect(run.stdout).toContain('  src/my.dynamo+db-store.ts\n');
    expect(run.stdout).toContain('MyDynamoDbSessionStore opens "my.dynamo+db:" URLs');
    expect(run.stdout).toContain(`Next: cd ${target} && npm install && npm test`);
    const store = readFileSync(join(target, 'src', 'my.dynamo+db-store.ts'), 'utf8');
    expect(store).toContain('export class MyDynamoDbSessionStore extends BaseSessionStore {');
    expect(store).toContain("if (parsed.protocol !== 'my.dynamo+db:') {");
    expect(readFileSync(join(target, 'src', 'index.ts'), 'utf8')).toBe(
      "export { MyDynamoDbSessionStore, storeFromUrl } from './my.dynamo+db-store.js';\n",
    );
  });

  it('takes --class, and creates missing parent directories', async () => {
    const target = join(dir.path, 'nested', 'deeper', 'kv');
    const run = await runInProcess([
      'new-adapter',
      target,
      '--name',
      '@acme/kv',
      '--scheme',
      'kv',
      '--class',
      'AcmeKvStore',
      '--json',
    ]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ className: 'AcmeKvStore', name: '@acme/kv' });
    expect(readFileSync(join(target, 'test', 'child.ts'), 'utf8')).toContain('storeFromUrl');
    expect(readFileSync(join(target, 'src', 'kv-store.ts'), 'utf8')).toContain(
      'export class AcmeKvStore extends BaseSessionStore {',
    );
  });

  it('writes into an existing empty directory, which stays the same directory (it may be the cwd)', async () => {
    const target = join(dir.path, 'empty');
    mkdirSync(target);
    const before = statSync(target).ino;
    const run = await cli(['new-adapter', '.', '--name', 'kv', '--scheme', 'kv'], { cwd: target });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Wrote the session store package kv to .:\n');
    expect(statSync(target).ino).toBe(before);
    expect(readdirSync(target).sort()).toEqual([
      '.gitignore',
      'README.md',
      'package.json',
      'src',
      'test',
      'tsconfig.build.json',
      'tsconfig.json',
      'vitest.config.ts',
    ]);
  });

  it('never overwrites: a directory that holds anything, or a file, is refused with exit 2', async () => {
    const full = join(dir.path, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'package.json'), '{"name":"mine"}');
    const refused = await cli(['new-adapter', full, '--name', 'kv', '--scheme', 'kv']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(
      `mcp-session new-adapter: ${full} is not empty (it holds "package.json"); new-adapter never overwrites files: name a new or empty directory\nRun "mcp-session new-adapter --help" for usage.\n`,
    );
    expect(readdirSync(full)).toEqual(['package.json']);
    expect(readFileSync(join(full, 'package.json'), 'utf8')).toBe('{"name":"mine"}');

    const file = join(full, 'package.json');
    const onFile = await runInProcess(['new-adapter', file, '--name', 'kv', '--scheme', 'kv']);
    expect(onFile.code).toBe(2);
    expect(onFile.stderr).toContain(
      `${file} is a file, or inside one: name a new or empty directory`,
    );
    const inFile = await runInProcess([
      'new-adapter',
      join(file, 'kv'),
      '--name',
      'kv',
      '--scheme',
      'kv',
    ]);
    expect(inFile.code).toBe(2);
    expect(inFile.stderr).toContain('is a file, or inside one');
    expect(readdirSync(full)).toEqual(['package.json']);
  });

  it.each([
    [['--scheme', 'kv'], /missing <directory>/],
    [['DIR', '--scheme', 'kv'], /missing --name <npm-name>/],
    [['DIR', '--name', 'kv'], /missing --scheme <scheme>/],
    [['DIR', 'other', '--name', 'kv', '--scheme', 'kv'], /unexpected argument "other"/],
    [
      ['DIR', '--name', 'Acme-Store', '--scheme', 'kv'],
      /--name "Acme-Store" is not a valid npm name: new packages must be all lower case/,
    ],
    [['DIR', '--name', '.kv', '--scheme', 'kv'], /may not start with "\." or "_"/],
    [['DIR', '--name', '@acme/_kv', '--scheme', 'kv'], /may not start with "\." or "_"/],
    [['DIR', '--name', 'my store', '--scheme', 'kv'], /use only lower-case letters, digits/],
    [['DIR', '--name', 'kv!', '--scheme', 'kv'], /use only lower-case letters, digits/],
    [['DIR', '--name', '@acme/kv/extra', '--scheme', 'kv'], /write "name" or "@scope\/name"/],
    [['DIR', '--name', '@acme/', '--scheme', 'kv'], /write "name" or "@scope\/name"/],
    [['DIR', '--name', 'fs', '--scheme', 'kv'], /"fs" is reserved \(a Node\.js core module name\)/],
    [['DIR', '--name', 'node_modules', '--scheme', 'kv'], /"node_modules" is reserved/],
    [['DIR', '--name', 'k'.repeat(215), '--scheme', 'kv'], /1 to 214 characters long/],
    [['DIR', '--name', '', '--scheme', 'kv'], /1 to 214 characters long/],
    [
      ['DIR', '--name', 'kv', '--scheme', '2kv'],
      /--scheme "2kv" is not a URL scheme: a letter, then letters, digits/,
    ],
    [['DIR', '--name', 'kv', '--scheme', 'k_v'], /--scheme "k_v" is not a URL scheme/],
    [['DIR', '--name', 'kv', '--scheme', 'kv://'], /--scheme "kv:\/\/" is not a URL scheme/],
    [['DIR', '--name', 'kv', '--scheme', ''], /--scheme "" is not a URL scheme/],
    [
      ['DIR', '--name', 'kv', '--scheme', 'kv', '--class', '2Store'],
      /--class "2Store" is not an identifier/,
    ],
    [
      ['DIR', '--name', 'kv', '--scheme', 'kv', '--class', 'Kv-Store'],
      /--class "Kv-Store" is not an identifier/,
    ],
    [
      ['DIR', '--name', 'kv', '--scheme', 'kv', '--class', 'class'],
      /--class "class" is a reserved word/,
    ],
    [
      ['DIR', '--name', 'kv', '--scheme', 'kv', '--class', 'BaseSessionStore'],
      /--class "BaseSessionStore" is a name the generated code already uses/,
    ],
    [['DIR', '--name', 'kv', '--scheme', 'kv', '--class', 'storeFromUrl'], /already uses/],
    [['DIR', '--name', 'kv', '--scheme', 'kv', '--class', 'StoredSession'], /already uses/],
    [['DIR', '--name', 'kv', '--scheme', 'kv', '--class', 'URL'], /already uses/],
  ])('%j is refused with exit 2, writing nothing', async (args, message) => {
    const target = join(dir.path, `refused-${Math.random().toString(36).slice(2)}`);
    const run = await runInProcess([
      'new-adapter',
      ...args.map((arg) => (arg === 'DIR' ? target : arg)),
    ]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/Run "mcp-session new-adapter --help" for usage\.\n$/);
    expect(existsSync(target)).toBe(false);
  });

  it('the binary prints its help', async () => {
    const run = await cli(['new-adapter', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^Usage: mcp-session new-adapter <directory> --name <npm-name> --scheme <scheme> \[--class <ClassName>\]\n/,
    );
    expect(run.stdout).toContain('--class <ClassName>');
  });
});
