import { createStore } from '@mcp-session/core';
import { smoke } from './smoke.js';

await smoke('memory', await createStore('memory:'));
