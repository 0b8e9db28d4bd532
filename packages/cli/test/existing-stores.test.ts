// Issue 19: read commands created the store they were pointed at. `stats` on a misspelt SQLite path
// created the file, on a misspelt Postgres schema created the schema and its tables, and reported an
// empty store; `migrate --from <wrong path>` exited 0 after "copying and verifying" 0 sessions.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { freshDirectory } from '@mcp-session/test-utils';
import { adminPool, freshPostgresSchema } from '@mcp-session/test-utils/postgres';
import { freshRedisStore } from '@mcp-session/test-utils/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/stores.js';
import { cli, makeSession, seed, sqliteUrl } from './helpers.js';

const dir = freshDirectory('cli-existing');
const admin = adminPool();
afterAll(async () => {
  dir.remove();
  await admin.end();
});

const READ_COMMANDS: readonly (readonly string[])[] = [
  ['list'],
  ['show', 'some-session-id'],
  ['stats'],
  ['sweep'],
  ['close', 'some-session-id'],
  ['export'],
];

async function schemaExists(name: string): Promise<boolean> {
  const result = await admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [name]);
  return result.rowCount === 1;
}

describe('read commands open existing stores only, and fail clearly on a misspelt one', () => {
  it.each(READ_COMMANDS)(
    '%s on a missing SQLite file exits 1 and creates no file',
    async (...args) => {
      const path = join(dir.path, `typo-${args[0]}.db`);
      const run = await cli([...args, '--store', `sqlite:${path}`]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        new RegExp(
          `^mcp-session ${args[0]}: SQLite database ".*typo-${args[0]}\\.db" does not exist`,
        ),
      );
      expect(run.stdout).toBe('');
      expect(readdirSync(dir.path).filter((name) => name.startsWith(`typo-${args[0]}`))).toEqual(
        [],
      );
    },
  );

  it('stats on a missing file-store directory exits 1 and creates nothing', async () => {
    const directory = join(dir.path, 'no-such-dir', 'sessions');
    const run = await cli(['stats', '--store', `file:${directory}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/file store directory .*no-such-dir.sessions does not exist/);
    expect(existsSync(join(dir.path, 'no-such-dir'))).toBe(false);
  });

  it('stats and export on a missing Postgres schema exit 1 and create neither schema nor tables', async () => {
    const fresh = freshPostgresSchema({}, 'mcp_cli_typo');
    try {
      for (const command of ['stats', 'export']) {
        const run = await cli([command, '--store', fresh.url]);
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(
          new RegExp(`schema "${fresh.schema}" does not exist or holds no session store`),
        );
      }
      expect(await schemaExists(fresh.schema)).toBe(false);
    } finally {
      await fresh.drop();
    }
  });

  it('stats on an existing SQLite store still works, and says when it holds nothing', async () => {
    const url = sqliteUrl(dir.path, 'existing.db');
    const store = await openStore(url);
    await store.close();
    const run = await cli(['stats', '--store', url]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Live sessions\s+0/);
    expect(run.stderr).toBe('note: the store holds no sessions.\n');
  });

  it('stats on a Redis prefix that holds nothing says so, and names what to check', async () => {
    const { url, remove } = freshRedisStore();
    try {
      const run = await cli(['stats', '--store', url]);
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(
        /holds no sessions\. Any Redis prefix and database open.*\?prefix=/,
      );
    } finally {
      await remove();
    }
  });
});

describe('migrate', () => {
  it('--from a missing SQLite file exits 1, copies nothing and creates neither store', async () => {
    const from = join(dir.path, 'typo-source.db');
    const to = join(dir.path, 'never-target.db');
    const run = await cli(['migrate', '--from', `sqlite:${from}`, '--to', `sqlite:${to}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^mcp-session migrate: SQLite database ".*typo-source\.db" does not exist/,
    );
    expect(existsSync(from)).toBe(false);
    expect(existsSync(to)).toBe(false);
  });

  it('--to a store that does not exist yet creates it (and import does too)', async () => {
    const from = sqliteUrl(dir.path, 'real-source.db');
    const source = await openStore(from);
    await seed(source, [makeSession(1, Date.now()), makeSession(2, Date.now())]);
    await source.close();
    const to = join(dir.path, 'new-target.db');
    const migrated = await cli(['migrate', '--from', from, '--to', `sqlite:${to}`, '--quiet']);
    expect(migrated.code).toBe(0);
    expect(existsSync(to)).toBe(true);

    const exported = await cli(['export', '--store', from]);
    expect(exported.code).toBe(0);
    const imported = join(dir.path, 'imported', 'sessions');
    const run = await cli(['import', '--store', `file:${imported}`, '--quiet'], {
      input: exported.stdout,
    });
    expect(run.code).toBe(0);
    expect(existsSync(join(imported, 'mcp-session-store.json'))).toBe(true);
  });

  it('--from an empty Redis prefix says the source holds no sessions', async () => {
    const source = freshRedisStore();
    const to = join(dir.path, 'from-empty-redis.db');
    try {
      const run = await cli(['migrate', '--from', source.url, '--to', `sqlite:${to}`, '--quiet']);
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(
        /note: the source \(--from\) holds no sessions\. Any Redis prefix/,
      );
    } finally {
      await source.remove();
    }
  });
});
