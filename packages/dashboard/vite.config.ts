import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * Builds the front-end (web/) into dist/assets at package build time; the handler serves that folder.
 * Relative asset URLs (`base: './'`) let the dashboard be mounted at any path.
 */
export default defineConfig({
  root: fileURLToPath(new URL('./web', import.meta.url)),
  base: './',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('./dist/assets', import.meta.url)),
    emptyOutDir: true,
    // The polyfill would be an inline script, which the Content-Security-Policy forbids.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: 'es2022',
  },
});
