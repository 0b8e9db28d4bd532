import { fileURLToPath } from 'node:url';
import { runStoreConformance } from '@mcp-session/test-suite';
import { FileSessionStore } from '../src/index.js';
import { freshDirectory, removeDirectory } from './helpers.js';

runStoreConformance({
  name: 'file',
  location: freshDirectory,
  // Warnings would mean a repair happened; none is expected in the suite, so let them print.
  open: (location) => FileSessionStore.open(location),
  destroy: removeDirectory,
  childModule: fileURLToPath(new URL('./fixtures/child-store.ts', import.meta.url)),
});
