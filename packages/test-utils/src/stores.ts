import { freshDirectory } from './files.js';
import { freshPostgresSchema } from './postgres.js';
import { freshRedisStore } from './redis.js';

/** Every backend a test can ask for. */
export const STORE_KINDS = ['memory', 'sqlite', 'file', 'redis', 'postgres'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** A fresh store location for one test: its URL, and the clean-up that removes everything it wrote. */
export interface TestStore {
  name: StoreKind;
  url: string;
  cleanup(): Promise<void>;
}

/**
 * A store URL of `kind` nobody else uses: SQLite and file stores in a fresh directory (the database's own
 * directory not created yet, as a newcomer's would not be), Redis on a fresh prefix, Postgres on a fresh
 * schema.
 */
export async function testStore(kind: StoreKind): Promise<TestStore> {
  switch (kind) {
    case 'memory':
      return { name: kind, url: 'memory:', cleanup: async () => {} };
    case 'sqlite': {
      const dir = freshDirectory('sqlite');
      return {
        name: kind,
        url: `sqlite:${dir.path}/data/sessions.db`,
        cleanup: async () => dir.remove(),
      };
    }
    case 'file': {
      const dir = freshDirectory('file');
      return { name: kind, url: `file:${dir.path}/sessions`, cleanup: async () => dir.remove() };
    }
    case 'redis': {
      const store = freshRedisStore();
      return { name: kind, url: store.url, cleanup: store.remove };
    }
    case 'postgres': {
      const schema = freshPostgresSchema({}, 'mcp_e2e');
      return { name: kind, url: schema.url, cleanup: schema.drop };
    }
  }
}
