/**
 * `import '@mcp-session/postgres/register'`: makes `createStore` open `postgres:` and `postgresql:` URLs
 * with this package. A static import that bundlers follow, for applications bundled without their
 * node_modules.
 */
import { registerStore } from '@mcp-session/core/adapter';
import { storeFromUrl } from './postgres-store.js';

registerStore('postgres', storeFromUrl);
registerStore('postgresql', storeFromUrl);
