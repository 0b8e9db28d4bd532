// Issue 19: what a first-time visitor meets. The README's commands, run as they are: `pnpm start` with a
// client (`pnpm try`) talking to it, Ctrl-C without pnpm's failure banner, and the store URLs the READMEs
// show opening in a directory where nothing exists yet.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createStore } from '@mcp-session/core';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'mcp-session-first-run-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function collect(child: ChildProcess): { output: () => string; exit: Promise<number | null> } {
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const exit = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  return { output: () => output, exit };
}

describe('pnpm start, pnpm try, Ctrl-C', () => {
  it('a client talks to the server, and Ctrl-C stops pnpm start with exit 0 and no failure banner', {
    timeout: 90_000,
  }, async () => {
    // A process group of its own, as a terminal gives a foreground job: Ctrl-C signals the whole group.
    const server = spawn('pnpm', ['start'], {
      cwd: root,
      detached: true,
      env: {
        ...process.env,
        PORT: '0',
        SESSION_STORE_URL: `sqlite:${join(work, 'start', 's.db')}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = collect(server);
    try {
      const url = await new Promise<string>((done, fail) => {
        const timer = setInterval(() => {
          const match = /listening on (http:\/\/\S+\/mcp)/.exec(started.output());
          if (match?.[1]) {
            clearInterval(timer);
            done(match[1]);
          }
        }, 100);
        started.exit.then(() => {
          clearInterval(timer);
          fail(new Error(`pnpm start ended:\n${started.output()}`));
        });
      });
      const client = spawn('pnpm', ['try'], {
        cwd: root,
        env: { ...process.env, MCP_URL: url },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const tried = collect(client);
      expect(await tried.exit, tried.output()).toBe(0);
      expect(tried.output()).toMatch(
        /remember colour=(\w+) → .*\n.*recall colour → .*"value":"\1"/,
      );
    } finally {
      process.kill(-(server.pid as number), 'SIGINT');
    }
    expect(await started.exit, started.output()).toBe(0);
    expect(started.output()).toMatch(/SIGINT: closing transports/);
    expect(started.output()).not.toMatch(/ELIFECYCLE|ERR_PNPM|Command failed/);
  });

  it('pnpm try says how to start a server when none is running', { timeout: 30_000 }, async () => {
    const client = spawn('pnpm', ['try'], {
      cwd: root,
      env: { ...process.env, MCP_URL: 'http://127.0.0.1:9/mcp' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tried = collect(client);
    expect(await tried.exit).not.toBe(0);
    expect(tried.output()).toMatch(/Cannot reach an MCP server .*Start one with "pnpm start"/);
  });
});

describe('the store URLs the READMEs show', () => {
  const readmes = ['README.md', 'packages/core/README.md', 'packages/mcp/README.md'];
  const urls = [
    ...new Set(
      readmes.flatMap((readme) =>
        [
          ...readFileSync(join(root, readme), 'utf8').matchAll(
            /['`]((?:sqlite|file):\.\/[^'`\s]+)['`]/g,
          ),
        ].map((match) => match[1] as string),
      ),
    ),
  ];

  it('are found', () => {
    expect(urls).toContain('sqlite:./sessions.db');
  });

  it.each(urls)('%s opens on a first run, in a directory where nothing exists yet', async (url) => {
    const fresh = mkdtempSync(join(work, 'fresh-'));
    // The relative path, resolved against a fresh working directory.
    const store = await createStore(url.replace(/^(\w+):\.\//, `$1:${fresh}/`), {
      resolveFrom: [join(root, 'packages/cli/package.json')],
    });
    await store.close();
  });
});
