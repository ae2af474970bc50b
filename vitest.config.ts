import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/cluster/ needs a control plane built from source: its own run (vitest.cluster.config.ts);
    // *.isolated.test.ts load the machine on purpose: run alone afterwards (vitest.isolated.config.ts)
    exclude: ['**/node_modules/**', 'test/cluster/**', 'test/**/*.isolated.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default'],
  },
});
