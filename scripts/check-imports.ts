/**
 * Fails when the TypeScript sources of the workspace import each other in a circle, or break a layering
 * rule below. Layers point one way (design.md): a cycle means two modules cannot be understood, tested or
 * split apart separately.
 *
 * Every `src/**` file of packages/* and apps/* is a node; an edge is any import or re-export, type-only
 * ones included (a type cycle is still a layering cycle), and dynamic `import()`. Relative specifiers are
 * resolved to files; `@mcp-session/*` specifiers to the package's source entry (its `@mcp-session/source`
 * export condition), so cycles across packages count too. Prints each cycle as a path and each broken
 * rule as an import, and exits 1.
 *
 * Usage: tsx scripts/check-imports.ts [root]
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const root = resolve(process.argv[2] ?? join(import.meta.dirname, '..'));
const SOURCE_CONDITION = '@mcp-session/source';

/**
 * Folders of one source tree that stand side by side on the same floor and never import each other
 * (they share only what lies below them in that tree).
 */
const SIBLING_LAYERS: readonly { tree: string; siblings: readonly string[] }[] = [
  { tree: 'packages/mcp/src', siblings: ['server', 'handles', 'client', 'metrics'] },
];

interface WorkspacePackage {
  name: string;
  dir: string;
  /** Export subpath ("." or "./handles") → source file. */
  entries: Map<string, string>;
}

function workspacePackages(): WorkspacePackage[] {
  const found: WorkspacePackage[] = [];
  for (const group of ['packages', 'apps']) {
    const groupDir = join(root, group);
    if (!existsSync(groupDir)) continue;
    for (const name of readdirSync(groupDir)) {
      const dir = join(groupDir, name);
      const manifest = join(dir, 'package.json');
      if (!existsSync(manifest)) continue;
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as {
        name: string;
        exports?: Record<string, unknown>;
      };
      const entries = new Map<string, string>();
      for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
        const source = (target as Record<string, unknown> | string)?.[
          SOURCE_CONDITION as never
        ] as unknown;
        if (typeof source === 'string') entries.set(subpath, resolve(dir, source));
      }
      found.push({ name: pkg.name, dir, entries });
    }
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
    else if (/\.(ts|tsx|mts)$/.test(name) && !name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

function resolveRelative(from: string, specifier: string): string | null {
  const base = resolve(dirname(from), specifier);
  const candidates = [
    base,
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.mjs$/, '.mts'),
    `${base}.ts`,
    join(base, 'index.ts'),
  ];
  return (
    candidates.find((candidate) => existsSync(candidate) && statSync(candidate).isFile()) ?? null
  );
}

function resolvePackage(specifier: string, packages: WorkspacePackage[]): string | null {
  for (const pkg of packages) {
    if (specifier !== pkg.name && !specifier.startsWith(`${pkg.name}/`)) continue;
    const subpath = specifier === pkg.name ? '.' : `.${specifier.slice(pkg.name.length)}`;
    return pkg.entries.get(subpath) ?? null;
  }
  return null;
}

function importGraph(packages: WorkspacePackage[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const pkg of packages) {
    for (const file of sourceFiles(join(pkg.dir, 'src'))) {
      const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
      const targets = new Set<string>();
      for (const { fileName } of info.importedFiles) {
        const target = fileName.startsWith('.')
          ? resolveRelative(file, fileName)
          : resolvePackage(fileName, packages);
        if (target !== null && target !== file) targets.add(target);
      }
      graph.set(file, [...targets]);
    }
  }
  return graph;
}

/** Strongly connected components with more than one file (Tarjan), each as one cycle through them. */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) as number, index.get(next) as number));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) components.push(component);
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return components.map((component) => shortestCycle(graph, new Set(component)));
}

/** A shortest cycle inside one component, as the path a reader would follow. */
function shortestCycle(graph: Map<string, string[]>, members: Set<string>): string[] {
  const start = [...members].sort()[0] as string;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift() as string;
    for (const next of graph.get(node) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0] as string) as string);
        return [...path, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start];
}

/** Imports from one sibling layer into another, as `[from, to]` pairs. */
function layerViolations(graph: Map<string, string[]>): [string, string][] {
  const layerOf = (file: string): string | null => {
    for (const { tree, siblings } of SIBLING_LAYERS) {
      const path = relative(join(root, tree), file).split(sep);
      if (path.length > 1 && siblings.includes(path[0] as string)) return `${tree}/${path[0]}`;
    }
    return null;
  };
  const violations: [string, string][] = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file);
    if (from === null) continue;
    for (const target of targets) {
      const to = layerOf(target);
      if (to !== null && to !== from) violations.push([file, target]);
    }
  }
  return violations;
}

const packages = workspacePackages();
const graph = importGraph(packages);
const found = cycles(graph);
const violations = layerViolations(graph);
for (const cycle of found) {
  console.error(`Import cycle:\n  ${cycle.map((file) => relative(root, file)).join('\n  → ')}`);
}
for (const [from, to] of violations) {
  console.error(
    `Layer rule broken: ${relative(root, from)} imports ${relative(root, to)} (sibling layers never import each other)`,
  );
}
if (found.length > 0 || violations.length > 0) process.exit(1);
console.log(
  `No import cycles or layer breaks in ${graph.size} source files of ${packages.length} packages.`,
);
