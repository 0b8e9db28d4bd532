import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

export default mergeConfig(
  shared,
  defineConfig({
    // Builds the front-end once into a temporary directory, so tests never depend on `pnpm build`.
    test: { globalSetup: ['./test/build-assets.ts'] },
  }),
);
