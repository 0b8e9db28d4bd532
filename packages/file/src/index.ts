export { FileSessionStore, storeFromUrl } from './file-store.js';
export type { FileSessionStoreOptions, FileStoreWarning } from './options.js';
