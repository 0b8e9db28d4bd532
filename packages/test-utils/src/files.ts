import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary directory of the test's own, and the function that removes it. */
export interface FreshDirectory {
  path: string;
  remove(): void;
}

/** Creates an empty directory under the OS temp dir, named after `label`. */
export function freshDirectory(label = 'test'): FreshDirectory {
  const path = mkdtempSync(join(tmpdir(), `mcp-session-${label}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A SQLite database path in a fresh directory (the file does not exist yet). */
export interface FreshSqliteFile extends FreshDirectory {
  /** The database file. */
  file: string;
  /** `sqlite:<file>` with `params` as its query. */
  url(params?: Record<string, string>): string;
}

/** A path for a new SQLite database, in a directory removed with it. */
export function freshSqliteFile(label = 'sqlite', name = 'sessions.db'): FreshSqliteFile {
  const directory = freshDirectory(label);
  const file = join(directory.path, name);
  return {
    ...directory,
    file,
    url: (params = {}) => {
      const query = new URLSearchParams(params).toString();
      return `sqlite:${file}${query === '' ? '' : `?${query}`}`;
    },
  };
}
