import { createStore, type SessionStore, type StoreOpenOptions } from '@mcp-session/core';

/**
 * Opens the store a URL names. Besides core's own ways, the adapter package is looked up beside the CLI:
 * installed globally or run with `npx -p`, the CLI and the adapters the user added sit together, where
 * core's usual places (its own location, the working directory) may not see them. With `mustExist` the
 * store must exist already: nothing is created (see `StoreOpenOptions`).
 */
export function openStore(url: string, options: StoreOpenOptions = {}): Promise<SessionStore> {
  return createStore(url.trim(), { resolveFrom: [import.meta.url], ...options });
}

/**
 * A note for a store that opened but holds no sessions, where that may mean a misspelt URL the backend
 * cannot tell from an empty store: any Redis prefix or database opens, as there is nothing to create.
 */
export function emptyStoreNote(url: string, what = 'the store'): string {
  const note = `note: ${what} holds no sessions.`;
  return /^rediss?:/i.test(url.trim())
    ? `${note} Any Redis prefix and database open, so check the URL's ?prefix= and /<db> if you expected some.`
    : note;
}
