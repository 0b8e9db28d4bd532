import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKeyring, type Keyring, SessionManager } from '@mcp-session/core';
import { freshDirectory } from '@mcp-session/test-utils';
import { dumpStore } from '@mcp-session/test-utils/dump';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/stores.js';
import { BACKENDS, cli, cliJson } from './helpers.js';

const dir = freshDirectory('cli-reencrypt');
afterAll(() => dir.remove());

/** Every row of every table of a SQLite database, as text: what a SQL dump shows, not stale pages. */
function sqliteRows(url: string): Buffer {
  const path = url.replace(/^sqlite:/, '').replace(/\?.*$/, '');
  const db = new Database(path, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
      name: string;
    }[];
    expect(tables.length).toBeGreaterThan(0);
    const rows = tables.flatMap(({ name }) =>
      db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`).all(),
    );
    return Buffer.from(
      JSON.stringify(rows, (_, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : v)),
    );
  } finally {
    db.close();
  }
}

function keysFile(name: string, current: string, keys: Record<string, Buffer>): string {
  const path = join(dir.path, `${name}-${randomBytes(4).toString('hex')}.json`);
  const spelt = Object.fromEntries(
    Object.entries(keys).map(([id, key]) => [id, key.toString('base64')]),
  );
  writeFileSync(path, JSON.stringify({ current, keys: spelt }));
  return path;
}

describe.each(BACKENDS)('reencrypt on $name', (backend) => {
  it('after a rotation to {current k2, k1}, rewrites everything so a keyring with only k2 reads it, and the raw store holds no plaintext and no k1', async () => {
    const { url, drop } = backend.fresh();
    const store = await openStore(url);
    try {
      const oldId = `old-${randomBytes(4).toString('hex')}`;
      const newId = `new-${randomBytes(4).toString('hex')}`;
      const k1 = randomBytes(32);
      const k2 = randomBytes(32);
      const before = createKeyring({ current: oldId, keys: { [oldId]: k1 } });
      const rotated = createKeyring({ current: newId, keys: { [oldId]: k1, [newId]: k2 } });
      const onlyNew: Keyring = createKeyring({ current: newId, keys: { [newId]: k2 } });
      const secret = `sk-cli-${randomBytes(12).toString('hex')}`;
      const manager = (keyring?: Keyring) =>
        new SessionManager({ store, ...(keyring === undefined ? {} : { encryption: keyring }) });
      const as = { owner: 'alice' };

      // Written with k1; one session from before encryption was enabled; one more write after rotation.
      const ids: string[] = [];
      for (const i of [0, 1, 2]) {
        const writer = manager(before);
        const { id } = await writer.createSession({ ...as, context: { secret, n: i } });
        for (const k of [0, 1, 2])
          await writer.addMessage(id, { role: 'user', content: `${secret} ${k}` }, as);
        ids.push(id);
      }
      const legacy = await manager().createSession({ ...as, context: { secret } });
      await manager().addMessage(legacy.id, { role: 'user', content: secret }, as);
      ids.push(legacy.id);
      await manager(rotated).setContext(ids[0] as string, 'after', secret, as);

      const rotatedFile = keysFile('rotated', newId, { [oldId]: k1, [newId]: k2 });
      const run = await cli(['reencrypt', '--store', url, '--keys-file', rotatedFile]);
      expect(run.stderr).toMatch(/reencrypt: 4 done/);
      expect(run.stdout).toMatch(
        new RegExp(
          `Re-encrypted 4 sessions under key "${newId}": 7 context values and 10 history entries rewritten`,
        ),
      );
      expect(run.code).toBe(0);
      // Idempotent: nothing left to do.
      expect(
        await cliJson(['reencrypt', '--store', url, '--keys-file', rotatedFile, '--quiet']),
      ).toEqual({
        currentKeyId: newId,
        sessions: 4,
        contextValues: 0,
        historyEntries: 0,
        vanished: 0,
      });

      const reader = manager(onlyNew);
      for (const [i, id] of ids.entries()) {
        const context = await reader.getContext(id, as);
        expect(context.secret).toBe(secret);
        const history = await reader.getHistory(id, as);
        expect(history.length).toBe(i === 3 ? 1 : 3);
        for (const entry of history) expect(String(entry.data.content)).toContain(secret);
      }
      expect(await reader.getContext(ids[0] as string, 'after', as)).toBe(secret);

      const raw =
        backend.name === 'sqlite' ? sqliteRows(url) : await dumpStore(backend.name as 'file', url);
      expect(raw.includes(`mcpenc:1:${newId}:`)).toBe(true);
      for (const needle of [secret, Buffer.from(secret).toString('base64'), oldId]) {
        expect(raw.includes(needle), `raw ${backend.name} store holds ${needle}`).toBe(false);
      }
    } finally {
      await store.close();
      await drop();
    }
  }, 60_000);

  it('exits 1 naming the key id when the keys file lacks a key the store uses, 2 without a keys file', async () => {
    const { url, drop } = backend.fresh();
    const store = await openStore(url);
    try {
      const k1 = randomBytes(32);
      const oldId = `gone-${randomBytes(4).toString('hex')}`;
      const sessions = new SessionManager({
        store,
        encryption: createKeyring({ current: oldId, keys: { [oldId]: k1 } }),
      });
      await sessions.createSession({ context: { a: 1 } });
      const k2 = randomBytes(32);
      const onlyNewFile = keysFile('only-new', 'k2', { k2 });
      const missing = await cli([
        'reencrypt',
        '--store',
        url,
        '--keys-file',
        onlyNewFile,
        '--quiet',
      ]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(`key id "${oldId}"`);
      expect(missing.stderr).not.toContain(k1.toString('base64'));
      expect(missing.stderr).not.toContain(k2.toString('base64'));

      const usage = await cli(['reencrypt', '--store', url]);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toMatch(/--keys-file/);

      const badFile = join(dir.path, `bad-${randomBytes(4).toString('hex')}.json`);
      writeFileSync(badFile, `{"current": "k2", "keys": {"k2": "${k2.toString('base64')}"`);
      const bad = await cli(['reencrypt', '--store', url, '--keys-file', badFile]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain(badFile);
      expect(bad.stderr).not.toContain(k2.toString('base64'));
    } finally {
      await store.close();
      await drop();
    }
  }, 60_000);
});
