export {
  type MigrateOptions,
  type MigrationResult,
  migrate,
  SCHEMA_VERSION,
} from './migrations.js';
export type { PostgresSessionStoreOptions } from './options.js';
export { PostgresSessionStore, storeFromUrl } from './postgres-store.js';
