import { fileURLToPath } from 'node:url';
import { runStoreConformance } from '@mcp-session/test-suite';
import { conformanceLocations, freshSqliteFile } from '@mcp-session/test-utils';
import { SqliteSessionStore } from '../src/index.js';

// A directory per case: removing it takes the database's -wal and -shm files with it.
runStoreConformance({
  name: 'sqlite',
  ...conformanceLocations(() => {
    const { file, remove } = freshSqliteFile();
    return { location: file, cleanup: remove };
  }),
  open: (path) => new SqliteSessionStore({ database: path }),
  childModule: fileURLToPath(new URL('./child-store.ts', import.meta.url)),
});
