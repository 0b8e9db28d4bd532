export { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
export {
  DEFAULT_MESSAGE_POLL_INTERVAL_MS,
  DEFAULT_MESSAGE_RETENTION_MS,
  SqliteMessageBus,
  type SqliteMessageBusOptions,
} from './sqlite-bus.js';
export {
  SqliteSessionStore,
  type SqliteSessionStoreOptions,
  storeFromUrl,
} from './sqlite-store.js';
