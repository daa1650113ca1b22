import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // The interop suite needs real gateways: `npm run test:interop`.
    exclude: ['tests/interop/**', '**/node_modules/**'],
    // Tests that run `ois` or worker processes use the compiled output; build it once per run.
    globalSetup: ['tests/helpers/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Two cores: keep subprocess-heavy files from starving each other.
    maxWorkers: 2,
  },
});
