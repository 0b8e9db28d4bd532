import { fileURLToPath } from 'node:url';
import { MemorySessionStore } from '@mcp-session/memory';
import { runStoreConformance } from '../src/index.js';
import { memoryDamage } from './fixtures/memory-damage.js';

const damage = memoryDamage();
let locations = 0;

// The suite tests itself against the reference in-memory store. Each case gets its own location name,
// which the store ignores, so the damagePayload hook finds the stores of that case.
runStoreConformance({
  name: 'memory (suite self-test)',
  location: () => `memory:?case=${++locations}`,
  open: (location) => damage.track(location, new MemorySessionStore({ sweepIntervalMs: 0 })),
  damagePayload: damage.damagePayload,
  childModule: fileURLToPath(new URL('./fixtures/memory-child.ts', import.meta.url)),
});
