import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = join(import.meta.dirname, '..', 'check-imports.ts');
const roots: string[] = [];

/** A workspace in a temporary directory: path → file contents. */
function workspace(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'check-imports-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function manifest(name: string, exports: Record<string, string> = { '.': './src/index.ts' }) {
  return JSON.stringify({
    name,
    exports: Object.fromEntries(
      Object.entries(exports).map(([subpath, source]) => [
        subpath,
        { '@mcp-session/source': source, default: './dist/index.js' },
      ]),
    ),
  });
}

function check(root: string) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, root], { encoding: 'utf8' });
  return { status: run.status, output: run.stdout + run.stderr };
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('scripts/check-imports.ts', () => {
  it('passes a workspace whose imports point one way', () => {
    const root = workspace({
      'packages/a/package.json': manifest('@x/a'),
      'packages/a/src/index.ts': "export { b } from './b.js';\n",
      'packages/a/src/b.ts': 'export const b = 1;\n',
      'packages/c/package.json': manifest('@x/c'),
      'packages/c/src/index.ts': "import { b } from '@x/a';\nexport const c = b;\n",
    });
    expect(check(root)).toMatchObject({
      status: 0,
      output: expect.stringContaining('No import cycles'),
    });
  });

  it('fails on a cycle of relative imports, type-only ones included, and prints its path', () => {
    const root = workspace({
      'packages/a/package.json': manifest('@x/a'),
      'packages/a/src/index.ts': "export * from './one.js';\n",
      'packages/a/src/one.ts': "import type { Two } from './two.js';\nexport type One = Two;\n",
      'packages/a/src/two.ts': "import { one } from './one.js';\nexport type Two = typeof one;\n",
    });
    const { status, output } = check(root);
    expect(status).toBe(1);
    expect(output).toMatch(
      /packages\/a\/src\/one\.ts\s+→ packages\/a\/src\/two\.ts\s+→ packages\/a\/src\/one\.ts/,
    );
  });

  it('follows package names to their source entries, so a cycle across packages counts', () => {
    const root = workspace({
      'packages/a/package.json': manifest('@x/a'),
      'packages/a/src/index.ts': "import '@x/b';\n",
      'apps/b/package.json': manifest('@x/b', { '.': './src/main.ts' }),
      'apps/b/src/main.ts': "export const later = () => import('@x/a');\n",
    });
    const { status, output } = check(root);
    expect(status).toBe(1);
    expect(output).toContain('apps/b/src/main.ts');
  });

  it('fails when a sibling layer of packages/mcp imports another', () => {
    const root = workspace({
      'packages/mcp/package.json': manifest('@x/mcp'),
      'packages/mcp/src/index.ts': "export * from './client/transport.js';\n",
      'packages/mcp/src/protocol.ts': 'export const HEADER = "mcp-session-id";\n',
      'packages/mcp/src/server/http.ts': "export { HEADER } from '../protocol.js';\n",
      'packages/mcp/src/client/transport.ts':
        "import { HEADER } from '../server/http.js';\nexport const h = HEADER;\n",
    });
    const { status, output } = check(root);
    expect(status).toBe(1);
    expect(output).toContain(
      'packages/mcp/src/client/transport.ts imports packages/mcp/src/server/http.ts',
    );
  });
});
