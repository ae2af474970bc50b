// Bundles the CLI with esbuild after tsc has type-checked and emitted dist/: dist/cli.js becomes
// one minified entry with a chunk per command, so `entra-sidecar sidecar` parses only the code it
// runs (minified sources cost a long-running process less memory: see the README's Performance).
// @kubernetes/client-node and node-forge stay external (webhook and emulator only).
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

rmSync('dist/chunks', { recursive: true, force: true });
rmSync('dist/cli.js.map', { force: true });
await build({
  entryPoints: { cli: 'src/cli.ts' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: false,
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  external: ['@kubernetes/client-node', 'node-forge'],
  banner: { js: "import { createRequire as __entraCreateRequire } from 'node:module'; const require = __entraCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
