import { defineConfig } from 'vitest/config';

// The interop suite: real OpenClaw gateways (scripts/interop.sh installs them and runs this).
export default defineConfig({
  test: {
    include: ['tests/interop/**/*.test.ts'],
    globalSetup: ['tests/helpers/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Gateways are heavy on two cores: one file at a time.
    fileParallelism: false,
  },
});
