import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runStoreConformance } from '@mcp-session/test-suite';
import { afterAll } from 'vitest';
import { SqliteSessionStore } from '../src/index.js';

const directory = mkdtempSync(join(tmpdir(), 'mcp-session-sqlite-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

runStoreConformance({
  name: 'sqlite',
  location: () => join(directory, `${randomUUID()}.db`),
  open: (path) => new SqliteSessionStore({ database: path }),
  destroy: (path) => {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  },
  childModule: fileURLToPath(new URL('./child-store.ts', import.meta.url)),
});
