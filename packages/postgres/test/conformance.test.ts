import { fileURLToPath } from 'node:url';
import { runStoreConformance } from '@mcp-session/test-suite';
import { conformanceLocations } from '@mcp-session/test-utils';
import { freshPostgresSchema } from '@mcp-session/test-utils/postgres';
import { storeFromUrl } from '../src/index.js';

// Every case gets its own schema, migrated on open and dropped afterwards.
runStoreConformance({
  name: 'postgres',
  ...conformanceLocations(() => {
    const { url, drop } = freshPostgresSchema();
    return { location: url, cleanup: drop };
  }),
  open: (location) => storeFromUrl(location),
  childModule: fileURLToPath(new URL('./child-store.ts', import.meta.url)),
});
