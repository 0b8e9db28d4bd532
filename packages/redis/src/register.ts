/**
 * `import '@mcp-session/redis/register'`: makes `createStore` open `redis:` and `rediss:` URLs with this
 * package. A static import that bundlers follow, for applications bundled without their node_modules.
 */
import { registerStore } from '@mcp-session/core/adapter';
import { storeFromUrl } from './redis-store.js';

registerStore('redis', storeFromUrl);
registerStore('rediss', storeFromUrl);
