export { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
export {
  SqliteSessionStore,
  type SqliteSessionStoreOptions,
  storeFromUrl,
} from './sqlite-store.js';
