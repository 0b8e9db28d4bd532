// Bundled with esbuild and run from a directory that holds none of the @mcp-session packages, only the
// native driver: the adapters reach the bundle through static imports (issue 19, finding 2).
import '@mcp-session/sqlite/register';
import { createStore, isSessionError } from '@mcp-session/core';
import { check, smoke } from './smoke.js';

const adapters = { file: () => import('@mcp-session/file') };
await smoke('bundled sqlite (register entry)', await createStore('sqlite:./bundled.db'));
await smoke('bundled file (adapters option)', await createStore('file:./bundled', { adapters }));
// Neither form for memory: in a bundle, createStore cannot find the package by its name.
const missing = await createStore('memory:').catch((error: unknown) => error);
check(
  isSessionError(missing, 'STORE_PACKAGE_MISSING'),
  'bundled: an adapter not handed over is missing',
);
