import { defineConfig } from 'vitest/config';

/**
 * Tests that load the machine on purpose (thousands of sockets, CPU-bound churn): run after the
 * main suite, one file at a time, so they neither starve other tests nor are starved by them.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.isolated.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default'],
  },
});
