export { MemoryMessageBus } from './memory-bus.js';
export {
  MemorySessionStore,
  type MemorySessionStoreOptions,
  storeFromUrl,
} from './memory-store.js';
