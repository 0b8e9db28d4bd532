import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidStoreUrlError, InvalidValueError, StorePackageMissingError } from './errors.js';
import type { SessionStore } from './store.js';

/** How `createStore` asks a loader to open a store. */
export interface StoreOpenOptions {
  /**
   * Open a store that already exists, and create nothing: no file, directory, schema or table, and no
   * migration. A missing store, or one whose layout is missing, fails with `StoreNotFoundError` saying what
   * is missing (one older than the adapter's, with `StoreUnavailableError` saying how to migrate it). Tools that only read or tidy a store (the CLI's `list`,
   * `stats`, `sweep`, `export`, migrate's source) open it this way, so a misspelt path, directory or schema
   * is an error instead of a new, empty store. A store that has no notion of existing (`memory:`, Redis,
   * where an empty prefix looks like any other) opens as usual. Default false.
   */
  mustExist?: boolean;
}

/**
 * Opens a store from a URL. Adapter packages export one as `storeFromUrl`, which is what the built-in
 * schemes call. A loader given `{ mustExist: true }` must create nothing (see `StoreOpenOptions`).
 */
export type StoreLoader = (
  url: string,
  options?: StoreOpenOptions,
) => SessionStore | Promise<SessionStore>;

/** What an adapter package must export to be loadable by scheme. */
export interface StoreAdapterModule {
  storeFromUrl: StoreLoader;
}

/**
 * An adapter handed to `createStore` directly: its module (`import * as sqlite from
 * '@mcp-session/sqlite'`), or a function that imports it (`() => import('@mcp-session/sqlite')`). Both are
 * static imports a bundler follows, where the name `createStore` imports by itself is not.
 */
export type StoreAdapter = StoreAdapterModule | (() => Promise<StoreAdapterModule>);

/** Built-in schemes and the packages each needs (the adapter first, then its driver). */
const BUILTIN_SCHEMES: Readonly<Record<string, readonly string[]>> = {
  memory: ['@mcp-session/memory'],
  file: ['@mcp-session/file'],
  sqlite: ['@mcp-session/sqlite', 'better-sqlite3'],
  redis: ['@mcp-session/redis', 'ioredis'],
  rediss: ['@mcp-session/redis', 'ioredis'],
  postgres: ['@mcp-session/postgres', 'pg'],
  postgresql: ['@mcp-session/postgres', 'pg'],
};

/** Schemes that are another spelling of a built-in one, for the keys of `adapters`. */
const SCHEME_ALIASES: Readonly<Record<string, string>> = {
  rediss: 'redis',
  postgresql: 'postgres',
};

const registered = new Map<string, StoreLoader>();

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

/**
 * Makes `createStore` open URLs of `scheme` with `loader` (overriding a built-in scheme of that name).
 * Community adapters call this once at start-up; each built-in adapter has an entry that does it for its
 * schemes (`import '@mcp-session/sqlite/register'`), for bundled applications.
 */
export function registerStore(scheme: string, loader: StoreLoader): void {
  const name = scheme.replace(/:$/, '').toLowerCase();
  if (!/^[a-z][a-z0-9+.-]*$/.test(name)) {
    throw new InvalidStoreUrlError(`"${scheme}" is not a valid URL scheme`);
  }
  if (typeof loader !== 'function')
    throw new InvalidStoreUrlError('registerStore needs a loader function');
  registered.set(name, loader);
}

/** Options of `createStore`. */
export interface CreateStoreOptions extends StoreOpenOptions {
  /**
   * Adapters by scheme, used before registered and built-in ones: for a bundled application, whose
   * bundler cannot follow the package name `createStore` imports by itself. Either form is a static import:
   * `{ sqlite: () => import('@mcp-session/sqlite') }` (loaded only when the URL names it) or
   * `{ sqlite: sqliteModule }`. `redis` also serves `rediss:`, `postgres` also `postgresql:`.
   */
  adapters?: Readonly<Record<string, StoreAdapter>>;
  /**
   * More places to look for a built-in scheme's package, as file paths or `file:` URLs (a tool that ships
   * beside its adapters passes its own `import.meta.url`). Tried after core's own location and the
   * working directory.
   */
  resolveFrom?: readonly (string | URL)[];
}

/**
 * Opens the store a URL names: `memory:`, `file:./sessions`, `sqlite:./sessions.db`,
 * `redis://host:6379/0?prefix=mcp`, `postgres://user@host/db?schema=mcp`, or a registered scheme.
 * Built-in schemes load their package on first use, so only the backend in use needs installing; in a
 * bundle, hand the adapter over (`adapters`) or import its `register` entry.
 * @throws InvalidStoreUrlError for a malformed URL or an unknown scheme.
 * @throws StorePackageMissingError naming what to install when the backend package is missing.
 * @throws StoreUnavailableError with `mustExist`, when the store does not exist.
 */
export async function createStore(
  url: string,
  options: CreateStoreOptions = {},
): Promise<SessionStore> {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new InvalidStoreUrlError(
      'A store URL is required, e.g. "sqlite:./data/sessions.db", "redis://localhost:6379" or "memory:".',
    );
  }
  const match = SCHEME.exec(url.trim());
  if (!match?.[1]) {
    throw new InvalidStoreUrlError(
      `Store URL "${redactUrl(url)}" has no scheme. Write it as <scheme>:<location>, e.g. "sqlite:./data/sessions.db".`,
    );
  }
  const scheme = match[1].toLowerCase();
  const open: StoreOpenOptions = { mustExist: options.mustExist === true };
  const given = handedAdapter(scheme, options.adapters);
  if (given !== undefined) return (await loadHanded(scheme, given)).storeFromUrl(url.trim(), open);
  const loader = registered.get(scheme);
  if (loader) return loader(url.trim(), open);
  const packages = BUILTIN_SCHEMES[scheme];
  if (!packages) {
    const known = [...new Set([...Object.keys(BUILTIN_SCHEMES), ...registered.keys()])].sort();
    throw new InvalidStoreUrlError(
      `Unknown store scheme "${scheme}:". Known: ${known.map((s) => `${s}:`).join(', ')}. ` +
        'A community adapter must be registered first with registerStore().',
    );
  }
  const adapter = await importAdapter(scheme, packages, options.resolveFrom);
  return adapter.storeFromUrl(url.trim(), open);
}

function handedAdapter(
  scheme: string,
  adapters: CreateStoreOptions['adapters'],
): StoreAdapter | undefined {
  if (adapters === undefined) return undefined;
  if (typeof adapters !== 'object' || adapters === null) {
    throw new InvalidValueError('adapters must be an object of adapters by scheme');
  }
  const alias = SCHEME_ALIASES[scheme];
  for (const [key, adapter] of Object.entries(adapters)) {
    const name = key.replace(/:$/, '').toLowerCase();
    if (name === scheme || name === alias) return adapter;
  }
  return undefined;
}

async function loadHanded(scheme: string, adapter: StoreAdapter): Promise<StoreAdapterModule> {
  const module: unknown = typeof adapter === 'function' ? await adapter() : adapter;
  if (typeof (module as Partial<StoreAdapterModule> | null)?.storeFromUrl !== 'function') {
    throw new InvalidValueError(
      `adapters.${scheme} must be an adapter module (exporting storeFromUrl) or a function importing one, e.g. () => import('@mcp-session/${scheme}')`,
    );
  }
  return module as StoreAdapterModule;
}

/** Query parameters whose values are secrets whatever the driver calls them: `password`, `sslpassword`, `token`, `api_key`… */
const SECRET_PARAM = /pass|pwd|secret|token|key|auth|credential/i;

/**
 * Hides the secrets of a URL for messages, in every form it may come in, well-formed or not: the password
 * of its user part (`redis://user:***@host`, and without a scheme or slashes: `user:***@host/db`,
 * `//user:***@host`, also when the password holds `/`, `?`, `#`, `@` or %-escapes), and the value of every
 * query parameter named like a secret (`?password=***`, `sslpassword`, `token`, `api_key`, also
 * %-encoded names). A user name is kept; everything else is shown as given.
 */
export function redactUrl(url: string): string {
  const text = String(url);
  const slashes = /^(?:[a-z][a-z0-9+.-]*:)?\/\//i.exec(text);
  const start = slashes ? slashes[0].length : 0;
  const queryAt = firstOf(text, '?#', start);
  // The user part ends at the last "@" before the query; a password holding "?" or "#" puts it after.
  let at = text.lastIndexOf('@', queryAt - 1);
  if (at < start) at = text.lastIndexOf('@');
  let shown = text;
  if (at >= start) {
    const colon = text.indexOf(':', start);
    if (colon !== -1 && colon < at) shown = `${text.slice(0, colon)}:***${text.slice(at)}`;
  }
  const hostAt = at >= start ? shown.indexOf('@', start) + 1 : start;
  const query = firstOf(shown, '?', hostAt);
  if (query === shown.length) return shown;
  const hash = shown.indexOf('#', query);
  const end = hash === -1 ? shown.length : hash;
  const params = shown
    .slice(query + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq === -1 ? pair : pair.slice(0, eq);
      return eq !== -1 && SECRET_PARAM.test(decodeLoosely(name)) ? `${name}=***` : pair;
    });
  return `${shown.slice(0, query + 1)}${params.join('&')}${shown.slice(end)}`;
}

/** Index of the first of `chars` in `text` from `from` on, or the length when there is none. */
function firstOf(text: string, chars: string, from: number): number {
  for (let i = from; i < text.length; i++) if (chars.includes(text[i] as string)) return i;
  return text.length;
}

function decodeLoosely(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/**
 * Splits a path-style store URL: `sqlite:./data/s.db`, `sqlite:/abs/s.db`, `sqlite:///abs/s.db`,
 * `file:data/sessions?fsync=false`, `sqlite::memory:`. Relative paths stay relative (to the working
 * directory), unlike WHATWG URL parsing, which would make them absolute.
 */
export function parsePathUrl(url: string): {
  scheme: string;
  path: string;
  params: URLSearchParams;
} {
  const match = SCHEME.exec(url);
  if (!match?.[1]) throw new InvalidStoreUrlError(`Store URL "${redactUrl(url)}" has no scheme`);
  const scheme = match[1].toLowerCase();
  const rest = url.slice(match[0].length);
  const query = rest.indexOf('?');
  let path = query === -1 ? rest : rest.slice(0, query);
  const params = new URLSearchParams(query === -1 ? '' : rest.slice(query + 1));
  if (path.startsWith('//')) {
    const slash = path.indexOf('/', 2);
    const host = slash === -1 ? path.slice(2) : path.slice(2, slash);
    if (host !== '' && host !== 'localhost') {
      throw new InvalidStoreUrlError(
        `"${scheme}:" URLs name a local path; "${redactUrl(`//${host}`).slice(2)}" looks like a host. Write ${scheme}:///absolute/path or ${scheme}:./relative/path.`,
      );
    }
    path = slash === -1 ? '' : path.slice(slash);
  }
  try {
    path = decodeURIComponent(path);
  } catch {
    throw new InvalidStoreUrlError(
      `Store URL "${redactUrl(url)}" has a malformed %-escape in its path`,
    );
  }
  if (path === '') {
    throw new InvalidStoreUrlError(`"${scheme}:" needs a path, e.g. "${scheme}:./data/sessions"`);
  }
  return { scheme, path, params };
}

/** Loads the adapter package of a built-in scheme (exported for tests, not from the package). */
export async function importAdapter(
  scheme: string,
  packages: readonly string[],
  resolveFrom: readonly (string | URL)[] = [],
): Promise<StoreAdapterModule> {
  const [adapterPackage = ''] = packages;
  let module: unknown;
  try {
    module = await import(adapterPackage);
  } catch (error) {
    if (!isMissingModule(error, packages)) throw error;
    // Core cannot see the application's packages when it is linked rather than installed beside
    // them (workspaces, pnpm's isolated layout): resolve from the working directory, then from the
    // places the caller named.
    const bases = [join(process.cwd(), 'package.json'), ...resolveFrom];
    module = await importFromFirst(adapterPackage, bases).catch((second: unknown) => {
      throw isMissingModule(second, packages)
        ? new StorePackageMissingError(scheme, packages, { cause: second })
        : second;
    });
  }
  const adapter = module as Partial<StoreAdapterModule>;
  if (typeof adapter.storeFromUrl !== 'function') {
    throw new InvalidStoreUrlError(`${adapterPackage} does not export storeFromUrl(url)`);
  }
  return adapter as StoreAdapterModule;
}

/** Imports `specifier` as resolved from the first of `bases` that can resolve it. */
async function importFromFirst(
  specifier: string,
  bases: readonly (string | URL)[],
): Promise<unknown> {
  let lastError: unknown;
  for (const base of bases) {
    let resolved: string;
    try {
      resolved = createRequire(base).resolve(specifier);
    } catch (error) {
      lastError = error;
      continue;
    }
    return import(pathToFileURL(resolved).href);
  }
  throw lastError;
}

function isMissingModule(error: unknown, packages: readonly string[]): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  const missing =
    code === 'ERR_MODULE_NOT_FOUND' ||
    code === 'MODULE_NOT_FOUND' ||
    /cannot find (package|module)|failed to (load|resolve)/i.test(error.message);
  return missing && packages.some((name) => error.message.includes(name));
}
