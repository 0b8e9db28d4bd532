// The root README's URL, in a working directory that has nothing in it yet (issue 19, finding 5).
import { createStore } from '@mcp-session/core';
import { SqliteSessionStore } from '@mcp-session/sqlite';
import { check, smoke } from './smoke.js';

const store = await createStore('sqlite:./sessions.db');
check(store instanceof SqliteSessionStore, 'sqlite: createStore gives a SqliteSessionStore');
await smoke('sqlite', store);
