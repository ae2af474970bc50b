import { defineConfig } from 'vitest/config';

/**
 * The cluster suite (test/cluster/): a real kube-apiserver and etcd built from source, real helm
 * and kubectl. Run with `npm run test:cluster` (scripts/test-cluster.sh builds the control plane
 * first). Each test file starts its own control plane; two files run at a time.
 */
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 300_000,
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default'],
  },
});
