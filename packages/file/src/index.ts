export { FileSessionStore, storeFromUrl } from './file-store.js';
export {
  DEFAULT_MESSAGE_POLL_INTERVAL_MS,
  DEFAULT_MESSAGE_RETENTION_MS,
  FileMessageBus,
  type FileMessageBusOptions,
} from './message-bus.js';
export type { FileSessionStoreOptions, FileStoreWarning } from './options.js';
