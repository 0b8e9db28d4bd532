export {
  MemorySessionStore,
  type MemorySessionStoreOptions,
  storeFromUrl,
} from './memory-store.js';
