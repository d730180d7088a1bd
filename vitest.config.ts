import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['contracts/**/*.test.ts', 'server-common/**/*.test.ts', 'gateway/src/**/*.test.ts', 'sfu/src/**/*.test.ts', 'client/src/**/*.test.ts', 'client/widget/**/*.test.ts', 'bench/**/*.test.ts', 'scripts/**/*.test.ts', 'fuzz/**/*.test.ts'],
    // One real PostgreSQL server for the run; each test takes a database of its own.
    globalSetup: ['server-common/test-support/postgresGlobalSetup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests bind real ports; running files one at a time keeps them from fighting.
    fileParallelism: false,
  },
});
