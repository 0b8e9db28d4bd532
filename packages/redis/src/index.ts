export {
  type RedisClient,
  RedisSessionStore,
  type RedisSessionStoreOptions,
  storeFromUrl,
} from './redis-store.js';
