/**
 * `import '@mcp-session/sqlite/register'`: makes `createStore` open `sqlite:` URLs with this package. A
 * static import that bundlers follow, for applications bundled without their node_modules.
 */
import { registerStore } from '@mcp-session/core/adapter';
import { storeFromUrl } from './sqlite-store.js';

registerStore('sqlite', storeFromUrl);
