import { fileURLToPath } from 'node:url';
import { MemorySessionStore } from '@mcp-session/memory';
import { runStoreConformance } from '../src/index.js';

// The suite tests itself against the reference in-memory store.
runStoreConformance({
  name: 'memory (suite self-test)',
  location: () => 'memory:',
  open: () => new MemorySessionStore({ sweepIntervalMs: 0 }),
  childModule: fileURLToPath(new URL('./fixtures/memory-child.ts', import.meta.url)),
});
