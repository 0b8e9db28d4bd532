export {
  type MigrateOptions,
  type MigrationResult,
  migrate,
  SCHEMA_VERSION,
} from './migrations.js';
export type { PostgresSessionStoreOptions } from './options.js';
export {
  INLINE_NOTIFY_BYTES,
  MESSAGE_RETENTION_MS,
  type PostgresBusContext,
  PostgresMessageBus,
} from './postgres-bus.js';
export { PostgresSessionStore, storeFromUrl } from './postgres-store.js';
