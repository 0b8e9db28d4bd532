import { createStore, type SessionStore } from '@mcp-session/core';

/**
 * Opens the store a URL names. Besides core's own ways, the adapter package is looked up beside the CLI:
 * installed globally or run with `npx -p`, the CLI and the adapters the user added sit together, where
 * core's usual places (its own location, the working directory) may not see them.
 */
export function openStore(url: string): Promise<SessionStore> {
  return createStore(url.trim(), { resolveFrom: [import.meta.url] });
}
