import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  createStore,
  InvalidStoreUrlError,
  isSessionError,
  parsePathUrl,
  redactUrl,
  registerStore,
  type SessionStore,
  type StoreOpenOptions,
  StorePackageMissingError,
} from '../src/index.js';
import { importAdapter } from '../src/registry.js';

describe('createStore', () => {
  it('names what is wrong with a malformed URL', async () => {
    await expect(createStore('')).rejects.toThrow(InvalidStoreUrlError);
    await expect(createStore('./data/sessions.db')).rejects.toThrow(/has no scheme/);
    await expect(createStore('mongodb://localhost')).rejects.toThrow(
      /Unknown store scheme "mongodb:". Known: .*sqlite:/,
    );
  });

  it('names the packages to install when a backend is missing', async () => {
    // Every built-in adapter is installed in this workspace, so the missing one is made up.
    const error = await importAdapter('sqlite', [
      '@mcp-session/not-installed',
      'better-sqlite3',
    ]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StorePackageMissingError);
    expect((error as Error).message).toBe(
      'The "sqlite:" session store needs @mcp-session/not-installed and better-sqlite3. Install it: npm install @mcp-session/not-installed better-sqlite3. ' +
        "If it is installed and this code is bundled, hand the adapter to createStore (`adapters` option) or import '@mcp-session/not-installed/register'.",
    );
    expect((error as StorePackageMissingError).packages).toEqual([
      '@mcp-session/not-installed',
      'better-sqlite3',
    ]);
  });

  it('finds a package beside a tool that names its own location in resolveFrom', async () => {
    // A real package on disk, beside a "tool" that core cannot see from where it is installed.
    const tool = mkdtempSync(join(tmpdir(), 'mcp-session-tool-'));
    const adapterDir = join(tool, 'node_modules', '@mcp-session', 'beside-tool');
    mkdirSync(adapterDir, { recursive: true });
    writeFileSync(
      join(adapterDir, 'package.json'),
      JSON.stringify({ name: '@mcp-session/beside-tool', type: 'module', main: 'index.js' }),
    );
    writeFileSync(
      join(adapterDir, 'index.js'),
      'export const storeFromUrl = (url) => ({ opened: url });\n',
    );
    const packages = ['@mcp-session/beside-tool'];
    try {
      await expect(importAdapter('beside', packages)).rejects.toBeInstanceOf(
        StorePackageMissingError,
      );
      const adapter = await importAdapter('beside', packages, [
        pathToFileURL(join(tool, 'cli.js')),
      ]);
      expect(adapter.storeFromUrl('beside:x')).toEqual({ opened: 'beside:x' });
    } finally {
      rmSync(tool, { recursive: true, force: true });
    }
  });

  it('reports an adapter that does not export storeFromUrl', async () => {
    await expect(importAdapter('x', ['@mcp-session/core'])).rejects.toThrow(
      '@mcp-session/core does not export storeFromUrl(url)',
    );
  });

  it('never puts a password in an error message', async () => {
    const error = (await createStore('nosuch://user:hunter2@host').catch(
      (e: unknown) => e,
    )) as Error;
    expect(error.message).not.toContain('hunter2');
    expect(redactUrl('redis://:s3cret@localhost:6379/0')).toBe('redis://:***@localhost:6379/0');
    expect(redactUrl('postgres://me:pw@db/app?schema=x')).toBe('postgres://me:***@db/app?schema=x');
    expect(redactUrl('sqlite:./a.db')).toBe('sqlite:./a.db');
    // libpq and pg also take the password as a query parameter.
    expect(redactUrl('postgres://me@db/app?sslmode=require&password=pw&schema=x')).toBe(
      'postgres://me@db/app?sslmode=require&password=***&schema=x',
    );
    expect(redactUrl('postgres://me:a@db/app?PASSWORD=b')).toBe(
      'postgres://me:***@db/app?PASSWORD=***',
    );
  });

  it('hides credentials in every form a URL may take (regression: a URL without a scheme printed its password)', async () => {
    const forms: [string, string][] = [
      ['user:pw1@host/db', 'user:***@host/db'],
      ['//user:pw1@host', '//user:***@host'],
      [':pw1@host', ':***@host'],
      ['redis:user:pw1@host', 'redis:***@host'],
      ['redis://user:a/pw1@host/0', 'redis://user:***@host/0'],
      ['redis://user:a?pw1@host/0', 'redis://user:***@host/0'],
      ['redis://user:a#pw1@host/0', 'redis://user:***@host/0'],
      ['redis://user:a@pw1@host/0?x=a@b', 'redis://user:***@host/0?x=a@b'],
      ['redis://user:p%77%31@host/0', 'redis://user:***@host/0'],
      ['redis://host/0?token=pw1', 'redis://host/0?token=***'],
      [
        'postgres://me@db/app?sslpassword=pw1&schema=x',
        'postgres://me@db/app?sslpassword=***&schema=x',
      ],
      ['postgres://me@db/app?pass%77ord=pw1', 'postgres://me@db/app?pass%77ord=***'],
      ['postgres://me@db/app?api_key=pw1#top', 'postgres://me@db/app?api_key=***#top'],
      ['file:///tmp/a@b/sessions', 'file:///tmp/a@b/sessions'],
    ];
    for (const [url, shown] of forms) expect(redactUrl(url), url).toBe(shown);
    for (const url of ['user:pw1@host/db', '//user:pw1@host', ':pw1@host', 'nosuch://u:pw1@h']) {
      const error = await createStore(url).catch((caught: unknown) => caught);
      expect(isSessionError(error, 'INVALID_STORE_URL'), url).toBe(true);
      expect((error as Error).message, url).not.toContain('pw1');
    }
    for (const url of ['sqlite://user:pw1@host/x.db', 'sqlite:x.db%ZZ?password=pw1']) {
      expect(() => parsePathUrl(url)).toThrow(InvalidStoreUrlError);
      expect(() => parsePathUrl(url)).not.toThrow(/pw1/);
    }
  });

  it('uses registered loaders, case-insensitively, also over built-in schemes', async () => {
    const opened: string[] = [];
    const fake = { capabilities: {} } as SessionStore;
    registerStore('Custom', (url) => {
      opened.push(url);
      return fake;
    });
    expect(await createStore('custom://somewhere?x=1')).toBe(fake);
    expect(await createStore('CUSTOM:thing')).toBe(fake);
    expect(opened).toEqual(['custom://somewhere?x=1', 'CUSTOM:thing']);
    expect(() => registerStore('not a scheme', () => fake)).toThrow(InvalidStoreUrlError);
  });
});

describe('createStore for bundled applications and tools that only read', () => {
  const fake = { capabilities: {} } as SessionStore;
  const recorded = () => {
    const calls: [string, StoreOpenOptions | undefined][] = [];
    const storeFromUrl = (url: string, options?: StoreOpenOptions) => {
      calls.push([url, options]);
      return fake;
    };
    return { calls, module: { storeFromUrl } };
  };

  it('opens a URL with an adapter handed over as a module or as a function that imports it', async () => {
    const sqlite = recorded();
    const redis = recorded();
    const adapters = { sqlite: sqlite.module, redis: async () => redis.module };
    expect(await createStore('sqlite:./x.db', { adapters })).toBe(fake);
    expect(await createStore('rediss://host:6380', { adapters })).toBe(fake);
    expect(await createStore('REDIS://host', { adapters })).toBe(fake);
    expect(sqlite.calls).toEqual([['sqlite:./x.db', { mustExist: false }]]);
    expect(redis.calls.map(([url]) => url)).toEqual(['rediss://host:6380', 'REDIS://host']);
  });

  it('prefers a handed adapter over a registered loader of the same scheme', async () => {
    registerStore('handed', () => {
      throw new Error('the registered loader must not run');
    });
    const handed = recorded();
    expect(await createStore('handed:x', { adapters: { 'handed:': handed.module } })).toBe(fake);
    expect(handed.calls).toHaveLength(1);
  });

  it('refuses an adapter that is neither a module with storeFromUrl nor a function importing one', async () => {
    for (const adapter of [{}, null, async () => ({ default: {} })]) {
      const error = await createStore('sqlite:./x.db', {
        adapters: { sqlite: adapter as never },
      }).catch((caught: unknown) => caught);
      expect(isSessionError(error, 'INVALID_VALUE')).toBe(true);
      expect((error as Error).message).toMatch(/adapters\.sqlite must be an adapter module/);
    }
    await expect(createStore('sqlite:./x.db', { adapters: 'sqlite' as never })).rejects.toThrow(
      /adapters must be an object/,
    );
  });

  it('hands mustExist to handed, registered and built-in loaders alike', async () => {
    const handed = recorded();
    await createStore('exists:a', { adapters: { exists: handed.module }, mustExist: true });
    const registeredCalls: (StoreOpenOptions | undefined)[] = [];
    registerStore('exists-registered', (_url, options) => {
      registeredCalls.push(options);
      return fake;
    });
    await createStore('exists-registered:a', { mustExist: true });
    await createStore('exists-registered:a');
    expect(handed.calls).toEqual([['exists:a', { mustExist: true }]]);
    expect(registeredCalls).toEqual([{ mustExist: true }, { mustExist: false }]);
    // The built-in memory adapter has nothing that could be missing: it opens as usual.
    const memory = await createStore('memory:', { mustExist: true });
    expect(memory.capabilities.durable).toBe(false);
    await memory.close();
  });
});

describe('parsePathUrl', () => {
  it('keeps relative paths relative and reads options', () => {
    expect(parsePathUrl('sqlite:./data/s.db?busyTimeoutMs=100')).toMatchObject({
      scheme: 'sqlite',
      path: './data/s.db',
    });
    expect(parsePathUrl('file:data/sessions').path).toBe('data/sessions');
    expect(parsePathUrl('sqlite:/abs/s.db').path).toBe('/abs/s.db');
    expect(parsePathUrl('sqlite:///abs/s.db').path).toBe('/abs/s.db');
    expect(parsePathUrl('sqlite://localhost/abs/s.db').path).toBe('/abs/s.db');
    expect(parsePathUrl('sqlite::memory:').path).toBe(':memory:');
    expect(parsePathUrl('file:./with%20space').path).toBe('./with space');
    expect(parsePathUrl('sqlite:./s.db?a=1&b=two').params.get('b')).toBe('two');
  });

  it('rejects hosts and empty paths with a hint', () => {
    expect(() => parsePathUrl('sqlite://db.example.com/s.db')).toThrow(/looks like a host/);
    expect(() => parsePathUrl('file:')).toThrow(/needs a path/);
    expect(() => parsePathUrl('file:%zz')).toThrow(/malformed %-escape/);
  });
});
