/**
 * `import '@mcp-session/file/register'`: makes `createStore` open `file:` URLs with this package. A static
 * import that bundlers follow, for applications bundled without their node_modules.
 */
import { registerStore } from '@mcp-session/core/adapter';
import { storeFromUrl } from './file-store.js';

registerStore('file', storeFromUrl);
