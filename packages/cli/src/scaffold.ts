import { readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './args.js';

/** What a new adapter package is called. */
export interface AdapterNames {
  /** The npm package name, e.g. `@acme/mcp-session-dynamo`. */
  packageName: string;
  /** The URL scheme, lower case, without the colon, e.g. `dynamo`. */
  scheme: string;
  /** The store class, e.g. `DynamoSessionStore`. */
  className: string;
}

/** One file of the generated package: its path relative to the package directory, and its text. */
export interface ScaffoldFile {
  path: string;
  content: string;
}

/**
 * The templates, beside the sources (`src` is published), so the CLI finds them from `src/` and from
 * `dist/` alike.
 */
const TEMPLATES = new URL('../src/templates/adapter/', import.meta.url);

/** Template → path in the package; `package.json` is written from code, its versions being looked up. */
const TEMPLATE_FILES: readonly { template: string; path: (storeModule: string) => string }[] = [
  { template: 'gitignore.tmpl', path: () => '.gitignore' },
  { template: 'README.md.tmpl', path: () => 'README.md' },
  { template: 'src/index.ts.tmpl', path: () => 'src/index.ts' },
  { template: 'src/store.ts.tmpl', path: (storeModule) => `src/${storeModule}.ts` },
  { template: 'test/child.ts.tmpl', path: () => 'test/child.ts' },
  { template: 'test/conformance.test.ts.tmpl', path: () => 'test/conformance.test.ts' },
  { template: 'tsconfig.build.json.tmpl', path: () => 'tsconfig.build.json' },
  { template: 'tsconfig.json.tmpl', path: () => 'tsconfig.json' },
  { template: 'vitest.config.ts.tmpl', path: () => 'vitest.config.ts' },
];

/** The development tools of a generated package, at the versions this CLI was built and tested with. */
const TOOLS = ['@types/node', 'tsx', 'typescript', 'vitest'] as const;

const CORE = '@mcp-session/core';
const TEST_SUITE = '@mcp-session/test-suite';

/** Every file of a new adapter package, in path order. Reads the templates; writes nothing. */
export function scaffoldAdapter(names: AdapterNames): {
  files: ScaffoldFile[];
  dependencies: Record<string, string>;
} {
  const storeModule = `${names.scheme}-store`;
  const values: Record<string, string> = {
    ...names,
    backend: pascalCase(names.scheme),
    storeModule,
  };
  const dependencies = dependencyRanges();
  const files = TEMPLATE_FILES.map(({ template, path }) => ({
    path: path(storeModule),
    content: render(template, values),
  }));
  files.push({ path: 'package.json', content: packageJson(names, dependencies) });
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { files, dependencies };
}

/**
 * Every identifier the generated TypeScript uses (imports, its own declarations, globals such as `URL`
 * and `Map`), which a class of the same name would clash with or shadow.
 */
function templateIdentifiers(): Set<string> {
  const names = new Set<string>();
  for (const { template } of TEMPLATE_FILES) {
    if (!template.endsWith('.ts.tmpl')) continue;
    const code = readTemplate(template)
      .replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
      .replace(/'(?:[^'\\\n]|\\.)*'|`[^`]*`/g, '')
      .replace(/\{\{\w+\}\}/g, '');
    for (const [name] of code.matchAll(/[A-Za-z_$][\w$]*/g)) names.add(name);
  }
  return names;
}

function readTemplate(template: string): string {
  return readFileSync(new URL(template, TEMPLATES), 'utf8');
}

function render(template: string, values: Readonly<Record<string, string>>): string {
  return readTemplate(template).replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`Template ${template} uses an unknown {{${key}}}`);
    return value;
  });
}

function packageJson(names: AdapterNames, dependencies: Record<string, string>): string {
  const { [CORE]: core, ...devOnly } = dependencies;
  const manifest = {
    name: names.packageName,
    version: '0.1.0',
    description: `The ${pascalCase(names.scheme)} session store for @mcp-session, opened by ${names.scheme}: URLs.`,
    keywords: ['mcp', 'model-context-protocol', 'session-store', 'mcp-session'],
    type: 'module',
    sideEffects: false,
    engines: { node: '>=20.19' },
    exports: {
      '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      './package.json': './package.json',
    },
    main: './dist/index.js',
    types: './dist/index.d.ts',
    files: ['dist', 'src'],
    scripts: {
      build: 'tsc -p tsconfig.build.json',
      typecheck: 'tsc -p tsconfig.json --noEmit',
      test: 'vitest run',
      prepublishOnly: 'npm run build',
    },
    peerDependencies: { [CORE]: core },
    devDependencies: sortedKeys({ [CORE]: core, ...devOnly }),
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/**
 * The version ranges of core, the suite and the tools. A published CLI's manifest holds real ranges (pnpm
 * replaces `workspace:` and `catalog:` when packing); run from this repository, it holds those protocols,
 * so the installed version is used instead. Core is the copy this CLI runs with.
 */
function dependencyRanges(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const corePath = require.resolve(`${CORE}/package.json`);
  const manifest = readManifest(fileURLToPath(new URL('../package.json', import.meta.url)));
  const declared = {
    ...manifest.peerDependencies,
    ...manifest.devDependencies,
    ...manifest.dependencies,
  };
  const rangeOf = (name: string): string => {
    const range = declared[name];
    if (range !== undefined && !/^(workspace|catalog):/.test(range)) return caret(range);
    const version =
      installedVersion(name, fileURLToPath(import.meta.url)) ??
      (name.startsWith('@mcp-session/') ? siblingVersion(name, corePath) : null);
    return version === null ? 'latest' : `^${version}`;
  };
  return sortedKeys({
    [CORE]: `^${readManifest(corePath).version}`,
    [TEST_SUITE]: rangeOf(TEST_SUITE),
    ...Object.fromEntries(TOOLS.map((tool) => [tool, rangeOf(tool)])),
  });
}

interface Manifest {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

function readManifest(path: string): Manifest {
  return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
}

/**
 * The version of a package found in a `node_modules` directory at or above `from`, as Node would find it
 * (without going through its `exports`, which may not expose `package.json`).
 */
function installedVersion(name: string, from: string): string | null {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    try {
      const manifest = readManifest(join(dir, 'node_modules', name, 'package.json'));
      if (manifest.name === name && manifest.version !== undefined) return manifest.version;
    } catch {
      // Not installed at this level: look one level up.
    }
    if (dirname(dir) === dir) return null;
  }
}

/**
 * The version of an `@mcp-session/*` package in the directory beside core's: where npm puts the scope's
 * packages, and where this repository keeps its packages (`packages/core`, `packages/test-suite`).
 */
function siblingVersion(name: string, corePath: string): string | null {
  const path = join(dirname(dirname(corePath)), name.slice(name.indexOf('/') + 1), 'package.json');
  try {
    const manifest = readManifest(path);
    return manifest.name === name ? (manifest.version ?? null) : null;
  } catch {
    return null;
  }
}

/** `4.1.12` → `^4.1.12`; a range stays as it is. */
function caret(range: string): string {
  return /^\d+\.\d+\.\d+$/.test(range) ? `^${range}` : range;
}

function sortedKeys(record: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record)
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

/** `acme-kv` → `AcmeKv`. */
export function pascalCase(scheme: string): string {
  return scheme
    .split(/[^a-z0-9]+/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

const NPM_NAME = /^(?:@([^/]+)\/)?([^/]+)$/;

/** Checks a package name against npm's rules for new packages; returns it. */
export function checkPackageName(name: string): string {
  const fail = (why: string) => new UsageError(`--name "${name}" is not a valid npm name: ${why}`);
  if (name.length === 0 || name.length > 214) throw fail('it must be 1 to 214 characters long');
  if (name.trim() !== name) throw fail('it has leading or trailing spaces');
  if (name.toLowerCase() !== name) throw fail('new packages must be all lower case');
  const match = NPM_NAME.exec(name);
  if (!match) throw fail('write "name" or "@scope/name"');
  const [, scope, bare = ''] = match;
  for (const part of scope === undefined ? [bare] : [scope, bare]) {
    if (part.startsWith('.') || part.startsWith('_'))
      throw fail('it may not start with "." or "_"');
    if (!/^[a-z0-9._~-]+$/.test(part)) {
      throw fail('use only lower-case letters, digits and "-", ".", "_", "~"');
    }
  }
  if (scope === undefined && (builtinModules.includes(bare) || bare === 'node_modules')) {
    throw fail(`"${bare}" is reserved (a Node.js core module name)`);
  }
  return name;
}

/** Checks and normalises a URL scheme as `registerStore` does (`Dynamo:` → `dynamo`); returns it. */
export function checkScheme(scheme: string): string {
  const name = scheme.replace(/:$/, '').toLowerCase();
  if (!/^[a-z][a-z0-9+.-]*$/.test(name)) {
    throw new UsageError(
      `--scheme "${scheme}" is not a URL scheme: a letter, then letters, digits, "+", "-" or "."`,
    );
  }
  return name;
}

const RESERVED_WORDS = new Set(
  (
    'break case catch class const continue debugger default delete do else enum export extends false ' +
    'finally for function if import in instanceof new null return super switch this throw true try ' +
    'typeof var void while with yield let static implements interface package private protected ' +
    'public await any boolean number string symbol object never unknown bigint undefined'
  ).split(' '),
);

/** Checks a class name: an identifier the generated code does not already use; returns it. */
export function checkClassName(name: string): string {
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) {
    throw new UsageError(
      `--class "${name}" is not an identifier: a letter, "_" or "$", then letters, digits, "_" or "$"`,
    );
  }
  if (RESERVED_WORDS.has(name)) throw new UsageError(`--class "${name}" is a reserved word`);
  if (templateIdentifiers().has(name)) {
    throw new UsageError(
      `--class "${name}" is a name the generated code already uses (an import, a declaration or a global); pick another`,
    );
  }
  return name;
}
