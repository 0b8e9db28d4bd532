import { fileURLToPath } from 'node:url';
import { runStoreConformance } from '@mcp-session/test-suite';
import { afterAll } from 'vitest';
import { storeFromUrl } from '../src/index.js';
import { adminPool, dropSchema, freshSchema, urlWith } from './helpers.js';

const admin = adminPool();
afterAll(() => admin.end());

// Every case gets its own schema, migrated on open and dropped afterwards.
runStoreConformance({
  name: 'postgres',
  location: () => urlWith({ schema: freshSchema() }),
  open: (location) => storeFromUrl(location),
  destroy: (location) => dropSchema(admin, new URL(location).searchParams.get('schema') as string),
  childModule: fileURLToPath(new URL('./child-store.ts', import.meta.url)),
});
