/**
 * What an npm user meets (issue 19): packs every publishable package, installs the tarballs into a fresh
 * npm project outside the workspace — with exactly the packages the READMEs' `npm install` lines name, so
 * a README that forgets one fails here — and then:
 *
 * 1. typechecks a strict consumer (`skipLibCheck: false`) under node16 and bundler resolution, in a
 *    project that has SDK 1.x only (the handles entry must not need `@modelcontextprotocol/server`);
 * 2. runs one smoke script per backend (memory, sqlite, file, redis, postgres: real services), an SDK
 *    1.x server with a real client, and the dashboard served from its packaged front-end; each must exit
 *    by itself once it closed what it opened;
 * 3. runs the `mcp-session` binary: stats on the store the sqlite smoke made, exit 1 on a misspelt path;
 * 4. bundles a script with esbuild and runs it where no @mcp-session package is installed;
 * 5. installs SDK 2.x and typechecks the handle tool helpers against it.
 *
 * Everything happens in a temporary directory that is removed at the end, pass or fail. better-sqlite3 is
 * installed without its install script and given the workspace's compiled addon (same version, same
 * Node): compiling it again would take two minutes on every run, and its code is the real driver either
 * way.
 *
 * Usage: tsx scripts/consumer/check.ts [--keep]   (`pnpm build` first; `pnpm test` does)
 */
import { type SpawnOptions, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const keep = process.argv.includes('--keep');

/** Packages whose README install lines count: the publishable ones, and the root README. */
const PUBLISHED = [
  'core',
  'memory',
  'file',
  'sqlite',
  'redis',
  'postgres',
  'mcp',
  'cli',
  'dashboard',
  'test-suite',
];
/** SDK 2.x packages, left out of the first install so that project has SDK 1.x only. */
const SDK_V2 = ['@modelcontextprotocol/server', '@modelcontextprotocol/node'];
/** What the check itself needs besides what users install. */
const TOOLING = ['typescript', '@types/node', 'esbuild'];
/** How long a smoke script may take, including exiting once it closed everything, in milliseconds. */
const SMOKE_TIMEOUT_MS = 60_000;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<Result> {
  return new Promise((done, fail) => {
    // pnpm and npx set NODE_PATH, through which require() would find the workspace's packages: a user's
    // project has none.
    const { NODE_PATH: _, ...env } = process.env;
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env, ...options });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            stderr += `\n[killed: still running after ${options.timeoutMs} ms — something was left open]`;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

let passed = 0;
const failures: string[] = [];

async function step(name: string, body: () => Promise<void>): Promise<void> {
  const started = Date.now();
  try {
    await body();
    passed++;
    console.log(`  ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failures.push(name);
    console.log(
      `  FAIL ${name}\n${String((error as Error).message ?? error).replace(/^/gm, '       ')}`,
    );
  }
}

async function expectSuccess(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<Result> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`.trim(),
    );
  }
  return result;
}

/** Every package named by an `npm install` line in a code block of the publishable READMEs. */
function readmeInstalls(): Set<string> {
  const names = new Set<string>();
  const readmes = [
    join(root, 'README.md'),
    ...PUBLISHED.map((p) => join(root, 'packages', p, 'README.md')),
  ];
  for (const readme of readmes) {
    for (const line of readFileSync(readme, 'utf8').split('\n')) {
      const match = /^\s*npm install\s+(.*)$/.exec(line);
      if (!match?.[1]) continue;
      const words = match[1].replace(/#.*$/, '').replace(/&&.*$/, '').trim().split(/\s+/);
      for (const word of words) {
        if (word === '' || word.startsWith('-')) continue;
        // `npm install --global pnpm@…` sets up the repository, not an application.
        if (line.includes('--global') && !word.startsWith('@mcp-session/')) continue;
        names.add(word.replace(/(.)@.*$/, '$1'));
      }
    }
  }
  return names;
}

/** The version the workspace has installed, so npm's cache serves it and the addon copy matches. */
function workspaceVersion(name: string): string | undefined {
  for (const dir of [
    'packages/mcp',
    'packages/sqlite',
    'packages/postgres',
    'packages/redis',
    'packages/test-suite',
    '.',
  ]) {
    try {
      const manifest = createRequire(join(root, dir, 'package.json')).resolve(
        `${name}/package.json`,
      );
      return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
    } catch {}
  }
  return undefined;
}

function spec(name: string): string {
  const version = workspaceVersion(name);
  return version === undefined ? name : `${name}@${version}`;
}

const work = mkdtempSync(join(tmpdir(), 'mcp-session-consumer-'));
const tarballs = join(work, 'tarballs');
const project = join(work, 'project');
const deploy = join(work, 'deploy');
const tarballOf = (name: string) =>
  join(tarballs, `${name.replace('@', '').replace('/', '-')}-0.0.0.tgz`);
const started = Date.now();
console.log(`consumer check in ${work}`);
try {
  await step('build (turbo, cached) and pack every publishable package (pnpm pack)', async () => {
    await expectSuccess('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only'], {
      cwd: root,
    });
    mkdirSync(tarballs);
    for (const pkg of PUBLISHED) {
      await expectSuccess('pnpm', ['pack', '--pack-destination', tarballs], {
        cwd: join(root, 'packages', pkg),
      });
    }
  });

  await step(
    'each tarball ships LICENSE and README, names its repository, links absolutely',
    async () => {
      const problems: string[] = [];
      for (const pkg of PUBLISHED) {
        const tarball = tarballOf(`@mcp-session/${pkg}`);
        const files = (await expectSuccess('tar', ['tzf', tarball])).stdout.split('\n');
        for (const file of ['package/LICENSE', 'package/README.md', 'package/dist/index.d.ts']) {
          if (!files.includes(file)) problems.push(`${pkg}: ${file} is not in the tarball`);
        }
        const manifest = JSON.parse(
          (await expectSuccess('tar', ['xzOf', tarball, 'package/package.json'])).stdout,
        ) as Record<string, { url?: string; directory?: string } | string | undefined>;
        const repository = manifest.repository as { url?: string; directory?: string } | undefined;
        if (
          repository?.directory !== `packages/${pkg}` ||
          !repository.url?.startsWith('git+https://')
        ) {
          problems.push(
            `${pkg}: repository is not { type, url: git+https://…, directory: packages/${pkg} }`,
          );
        }
        if (typeof manifest.homepage !== 'string') problems.push(`${pkg}: no homepage`);
        if (typeof (manifest.bugs as { url?: string } | undefined)?.url !== 'string') {
          problems.push(`${pkg}: no bugs url`);
        }
        const readme = (await expectSuccess('tar', ['xzOf', tarball, 'package/README.md'])).stdout;
        // The registry shows the README without the repository around it: relative links break there.
        for (const [, target] of readme.matchAll(/\]\(([^)\s]+)\)/g)) {
          if (!/^(https?:|#|mailto:)/.test(target ?? ''))
            problems.push(`${pkg}: README links to ${target}`);
        }
      }
      if (problems.length > 0) throw new Error(problems.join('\n'));
    },
  );

  const installs = readmeInstalls();
  await step('npm install the tarballs and what the READMEs name, in a fresh project', async () => {
    cpSync(join(import.meta.dirname, 'project'), project, { recursive: true });
    const manifest = { name: 'consumer', private: true, type: 'module' };
    writeFileSync(join(project, 'package.json'), `${JSON.stringify(manifest)}\n`);
    const ours = [...installs].filter((name) => name.startsWith('@mcp-session/'));
    for (const pkg of PUBLISHED) {
      if (!ours.includes(`@mcp-session/${pkg}`)) {
        throw new Error(`no README tells users to install @mcp-session/${pkg}`);
      }
    }
    const theirs = [...installs].filter(
      (name) => !name.startsWith('@mcp-session/') && !SDK_V2.includes(name),
    );
    await expectSuccess(
      'npm',
      [
        'install',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        ...ours.map(tarballOf),
        ...[...theirs, ...TOOLING].map(spec),
      ],
      { cwd: project },
    );
    const addon = join('build', 'Release', 'better_sqlite3.node');
    const built = join(
      dirname(
        createRequire(join(root, 'packages/sqlite/package.json')).resolve(
          'better-sqlite3/package.json',
        ),
      ),
      addon,
    );
    mkdirSync(dirname(join(project, 'node_modules/better-sqlite3', addon)), { recursive: true });
    cpSync(built, join(project, 'node_modules/better-sqlite3', addon));
    if (existsSync(join(project, 'node_modules/@modelcontextprotocol/server'))) {
      throw new Error(
        '@modelcontextprotocol/server was installed: the SDK 1.x project must not have it',
      );
    }
  });

  const tsc = join(project, 'node_modules/typescript/bin/tsc');
  await step(
    'strict consumer typechecks with node16 resolution (skipLibCheck off, SDK 1.x only)',
    async () => {
      await expectSuccess(process.execPath, [tsc, '-p', 'tsconfig.node16.json'], { cwd: project });
    },
  );
  await step(
    'strict consumer typechecks with bundler resolution (skipLibCheck off, SDK 1.x only)',
    async () => {
      await expectSuccess(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], { cwd: project });
    },
  );

  for (const smoke of ['memory', 'sqlite', 'file', 'redis', 'postgres', 'mcp-sdk1', 'dashboard']) {
    await step(`smoke: ${smoke} (exits by itself once closed)`, async () => {
      await expectSuccess(process.execPath, [join('out', `${smoke}.js`)], {
        cwd: project,
        timeoutMs: SMOKE_TIMEOUT_MS,
      });
    });
  }

  const bin = join(project, 'node_modules/.bin/mcp-session');
  await step(
    'mcp-session stats on the store the sqlite smoke made; exit 1 on a misspelt path',
    async () => {
      const stats = await expectSuccess(
        bin,
        ['stats', '--store', 'sqlite:./sessions.db', '--json'],
        {
          cwd: project,
        },
      );
      if ((JSON.parse(stats.stdout) as { total?: unknown }).total !== 0) {
        throw new Error(`unexpected stats: ${stats.stdout}`);
      }
      const typo = await run(bin, ['stats', '--store', 'sqlite:./sesions.db'], { cwd: project });
      if (typo.code !== 1 || !/does not exist/.test(typo.stderr)) {
        throw new Error(`a misspelt path should exit 1: exit ${typo.code}\n${typo.stderr}`);
      }
      if (existsSync(join(project, 'sesions.db')))
        throw new Error('stats created the misspelt file');
    },
  );

  await step('esbuild bundle runs where no @mcp-session package is installed', async () => {
    mkdirSync(join(deploy, 'node_modules'), { recursive: true });
    await expectSuccess(
      join(project, 'node_modules/.bin/esbuild'),
      [
        'src/bundled.ts',
        '--bundle',
        '--platform=node',
        '--format=esm',
        '--external:better-sqlite3',
        `--outfile=${join(deploy, 'bundle.mjs')}`,
      ],
      { cwd: project },
    );
    // Only the native driver beside the bundle.
    symlinkSync(
      join(project, 'node_modules/better-sqlite3'),
      join(deploy, 'node_modules/better-sqlite3'),
    );
    const result = await expectSuccess(process.execPath, ['bundle.mjs'], {
      cwd: deploy,
      timeoutMs: SMOKE_TIMEOUT_MS,
    });
    if (
      !/bundled sqlite .*: ok/.test(result.stdout) ||
      !/bundled file .*: ok/.test(result.stdout)
    ) {
      throw new Error(`the bundle did not run both stores:\n${result.stdout}`);
    }
  });

  await step(
    'with SDK 2.x installed, the handle tool helpers typecheck against it (node16, bundler)',
    async () => {
      await expectSuccess(
        'npm',
        [
          'install',
          '--ignore-scripts',
          '--no-audit',
          '--no-fund',
          ...SDK_V2.filter((n) => installs.has(n)).map(spec),
        ],
        { cwd: project },
      );
      await expectSuccess(process.execPath, [tsc, '-p', 'tsconfig.sdk-v2.json'], { cwd: project });
      await expectSuccess(process.execPath, [tsc, '-p', 'tsconfig.sdk-v2-bundler.json'], {
        cwd: project,
      });
    },
  );
} finally {
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
console.log(
  `consumer check: ${passed} passed, ${failures.length} failed (${((Date.now() - started) / 1000).toFixed(0)} s)`,
);
process.exitCode = failures.length === 0 ? 0 : 1;
