import { fileURLToPath } from 'node:url';
import { runStoreConformance } from '@mcp-session/test-suite';
import { conformanceLocations, freshDirectory } from '@mcp-session/test-utils';
import { FileSessionStore } from '../src/index.js';

runStoreConformance({
  name: 'file',
  ...conformanceLocations(() => {
    const { path, remove } = freshDirectory('file');
    return { location: path, cleanup: remove };
  }),
  // Warnings would mean a repair happened; none is expected in the suite, so let them print.
  open: (location) => FileSessionStore.open(location),
  childModule: fileURLToPath(new URL('./fixtures/child-store.ts', import.meta.url)),
});
