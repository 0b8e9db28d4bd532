import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** File names Vite gives the built assets; anything else (`..`, `/`) is never looked up. */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export interface Asset {
  body: Uint8Array;
  contentType: string;
}

/**
 * The built front-end, read from disk once per file and kept in memory: it is a few tens of kilobytes,
 * and never changes while the process runs.
 */
export class AssetFiles {
  readonly #dir: string;
  readonly #cache = new Map<string, Promise<Asset | null>>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** `index.html`. */
  page(): Promise<Asset | null> {
    return this.#load('index.html', join(this.#dir, 'index.html'));
  }

  /** A file of the `assets/` folder Vite writes (content-hashed names), or null. */
  asset(name: string): Promise<Asset | null> {
    if (!ASSET_NAME.test(name)) return Promise.resolve(null);
    return this.#load(`assets/${name}`, join(this.#dir, 'assets', name));
  }

  #load(key: string, path: string): Promise<Asset | null> {
    let cached = this.#cache.get(key);
    if (!cached) {
      const contentType = CONTENT_TYPES[extname(path)] ?? 'application/octet-stream';
      cached = readFile(path).then(
        (body) => ({ body: new Uint8Array(body), contentType }),
        () => null,
      );
      this.#cache.set(key, cached);
    }
    return cached;
  }
}
