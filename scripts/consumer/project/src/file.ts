import { createStore } from '@mcp-session/core';
import { smoke } from './smoke.js';

await smoke('file', await createStore('file:./data/sessions'));
