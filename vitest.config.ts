import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The emit tripwire: hands the emit tests their evidence directory, and checks it after all files.
    globalSetup: ['test/global-setup.ts'],
    // CI also keeps a machine-readable report, from which .ci/run prints its closing line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
  },
});
