/**
 * `import '@mcp-session/memory/register'`: makes `createStore` open `memory:` URLs with this package. A
 * static import that bundlers follow, for applications bundled without their node_modules.
 */
import { registerStore } from '@mcp-session/core/adapter';
import { storeFromUrl } from './memory-store.js';

registerStore('memory', storeFromUrl);
