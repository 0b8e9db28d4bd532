import { SqliteSessionStore } from '../src/index.js';

/** Opened in child processes by the conformance suite. */
export function open(path: string): SqliteSessionStore {
  return new SqliteSessionStore({ database: path });
}
