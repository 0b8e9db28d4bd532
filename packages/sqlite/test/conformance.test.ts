import { fileURLToPath } from 'node:url';
import { runStoreConformance } from '@mcp-session/test-suite';
import { conformanceLocations, freshSqliteFile } from '@mcp-session/test-utils';
import BetterSqlite3 from 'better-sqlite3';
import { SqliteSessionStore } from '../src/index.js';

// A directory per case: removing it takes the database's -wal and -shm files with it.
runStoreConformance({
  name: 'sqlite',
  ...conformanceLocations(() => {
    const { file, remove } = freshSqliteFile();
    return { location: file, cleanup: remove };
  }),
  open: (path) => new SqliteSessionStore({ database: path }),
  // Text that is not JSON in every context value and log entry of the record: `json()` in the record
  // query and `JSON.parse` of an entry both fail on it.
  damagePayload: async (path, storageId) => {
    const db = new BetterSqlite3(path);
    try {
      const context = db
        .prepare("UPDATE session_context SET value = '{not json' WHERE session_id = ?")
        .run(storageId);
      const entries = db
        .prepare("UPDATE log_entries SET data = '{not json' WHERE session_id = ?")
        .run(storageId);
      if (context.changes === 0 || entries.changes === 0) {
        throw new Error(`Nothing to damage: record ${storageId} has no context or log entries`);
      }
    } finally {
      db.close();
    }
  },
  childModule: fileURLToPath(new URL('./child-store.ts', import.meta.url)),
});
