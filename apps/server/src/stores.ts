import { registerStore, type StoreAdapterModule } from '@mcp-session/core';

const BUNDLED: Readonly<Record<string, string>> = {
  memory: '@mcp-session/memory',
  sqlite: '@mcp-session/sqlite',
  file: '@mcp-session/file',
  redis: '@mcp-session/redis',
  rediss: '@mcp-session/redis',
  postgres: '@mcp-session/postgres',
  postgresql: '@mcp-session/postgres',
};

/**
 * Registers the built-in store schemes with loaders that import the adapters from this app, so
 * `SESSION_STORE_URL` works whatever the working directory (core alone looks for adapters next to
 * itself, then in the working directory).
 */
export function registerBundledStores(): void {
  for (const [scheme, adapter] of Object.entries(BUNDLED)) {
    registerStore(scheme, async (url) => {
      const module = (await import(adapter)) as StoreAdapterModule;
      return module.storeFromUrl(url);
    });
  }
}
