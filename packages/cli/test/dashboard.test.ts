import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshSqliteFile } from '@mcp-session/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeSession, openSqlite, seed, startCli } from './helpers.js';

const database = freshSqliteFile('cli-dashboard');
const url = database.url({ synchronous: 'normal' });

beforeAll(async () => {
  // The command serves the dashboard package's built front-end; build it here (a second or two) so this
  // test never depends on an earlier `pnpm build`.
  const dashboardDir = join(dirname(fileURLToPath(import.meta.url)), '../../dashboard');
  const vite = join(
    dirname(createRequire(join(dashboardDir, 'package.json')).resolve('vite/package.json')),
    'bin/vite.js',
  );
  execFileSync(process.execPath, [vite, 'build'], { cwd: dashboardDir, stdio: 'pipe' });
  const store = openSqlite(url);
  await seed(
    store,
    Array.from({ length: 30 }, (_, i) => makeSession(i, Date.now())),
  );
  await store.close();
}, 120_000);
afterAll(() => database.remove());

/** Starts `mcp-session dashboard … --json` and waits for the line with its URL. */
async function startDashboard(args: readonly string[]) {
  const started = startCli(['dashboard', '--store', url, '--json', ...args]);
  let stdout = '';
  const printed = new Promise<{ url: string; port: number; write: boolean; store: string }>(
    (resolve, reject) => {
      started.child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        try {
          resolve(JSON.parse(stdout));
        } catch {}
      });
      started.child.on('close', () => reject(new Error(`exited early: ${started.stderrSoFar()}`)));
    },
  );
  return { ...started, printed: await printed };
}

describe('mcp-session dashboard', () => {
  it('serves the store on 127.0.0.1 with a fresh 32-byte token; Ctrl-C closes it and exits 0', async () => {
    const run = await startDashboard([]);
    try {
      const link = new URL(run.printed.url);
      expect(link.hostname).toBe('127.0.0.1');
      const token = link.searchParams.get('token') ?? '';
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token, 'base64url')).toHaveLength(32);
      expect(run.printed.write).toBe(false);

      const login = await fetch(link, { redirect: 'manual' });
      expect(login.status).toBe(303);
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const stats = await fetch(new URL('/api/stats', link), { headers: { cookie } });
      expect(stats.status).toBe(200);
      const store = openSqlite(url);
      const { now: _, ...figures } = (await stats.json()) as Record<string, unknown>;
      expect(figures).toEqual(await store.stats(Date.now()));
      await store.close();

      expect((await fetch(new URL('/api/stats', link))).status).toBe(401);
      const close = await fetch(new URL('/api/sweep', link), {
        method: 'POST',
        headers: { cookie, origin: link.origin, 'content-type': 'application/json' },
        body: '{"confirm":"sweep"}',
      });
      expect(close.status).toBe(403);
    } finally {
      run.child.kill('SIGINT');
    }
    const result = await run.result;
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Ctrl-C stops');
    expect(result.stderr).not.toContain(new URL(run.printed.url).searchParams.get('token'));
  });

  it('--port and --write: listens there and allows the confirmed sweep', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const run = await startDashboard(['--port', String(port), '--write']);
    try {
      expect(run.printed.port).toBe(port);
      expect(run.printed.write).toBe(true);
      const link = new URL(run.printed.url);
      const token = link.searchParams.get('token') ?? '';
      const sweep = await fetch(new URL('/api/sweep', link), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          origin: link.origin,
          'content-type': 'application/json',
        },
        body: '{"confirm":"sweep"}',
      });
      expect(sweep.status).toBe(200);
      expect(((await sweep.json()) as { swept: number }).swept).toBeGreaterThan(0);
    } finally {
      run.child.kill('SIGINT');
    }
    expect((await run.result).code).toBe(0);
  });

  it('refuses a store that does not exist (exit 1) and a bad port (exit 2)', async () => {
    const missing = await cli(['dashboard', '--store', `${url.replace('.db', '-typo.db')}`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not exist/);
    const badPort = await cli(['dashboard', '--store', url, '--port', 'eighty']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('--port must be a whole number');
  });
});
