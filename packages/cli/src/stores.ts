import { createStore, type SessionStore, type StoreAdapterModule } from '@mcp-session/core';

/**
 * Adapter package of each built-in scheme. The CLI imports the adapter itself first because the
 * adapters are its (optional peer) dependencies: they sit next to the CLI, where neither core (which
 * looks next to itself) nor the working directory (core's fallback) may see them — a global install, or
 * `npx` from any directory. Failing that, `createStore` tries its own ways and, when the package is
 * really missing, throws the error that names what to install.
 */
const ADAPTERS: Readonly<Record<string, string>> = {
  memory: '@mcp-session/memory',
  file: '@mcp-session/file',
  sqlite: '@mcp-session/sqlite',
  redis: '@mcp-session/redis',
  rediss: '@mcp-session/redis',
  postgres: '@mcp-session/postgres',
  postgresql: '@mcp-session/postgres',
};

/** Opens the store a URL names. */
export async function openStore(url: string): Promise<SessionStore> {
  const trimmed = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
  const adapter = scheme === undefined ? undefined : ADAPTERS[scheme];
  if (adapter !== undefined) {
    const module = await importBesideCli(adapter);
    if (module) return module.storeFromUrl(trimmed);
  }
  return createStore(trimmed);
}

async function importBesideCli(name: string): Promise<StoreAdapterModule | null> {
  try {
    const module = (await import(name)) as Partial<StoreAdapterModule>;
    return typeof module.storeFromUrl === 'function' ? (module as StoreAdapterModule) : null;
  } catch (error) {
    const code = (error as { code?: unknown })?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return null;
    throw error;
  }
}
