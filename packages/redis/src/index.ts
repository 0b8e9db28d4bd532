export { type RedisBusContext, RedisMessageBus } from './redis-bus.js';
export {
  type RedisClient,
  RedisSessionStore,
  type RedisSessionStoreOptions,
  storeFromUrl,
} from './redis-store.js';
