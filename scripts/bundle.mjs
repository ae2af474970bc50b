// Bundles the CLI with esbuild after tsc has type-checked and emitted dist/: dist/cli.js becomes
// one minified entry with a chunk per command, so `entra-sidecar sidecar` parses only the code it
// runs (minified sources cost a long-running process less memory: see the README's Performance).
// @kubernetes/client-node and node-forge stay external (webhook and emulator only).
import { build } from 'esbuild';
import { realpathSync, rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * msal-node imports `jsonwebtoken` at the top of its client-assertion module, for one call
 * (`jwt.sign`, certificate credentials only). Loaded eagerly, it and what it pulls in (jws, jwa,
 * semver, lodash.*) were resident in every sidecar, federated ones too. This hands msal-node a
 * `jwt` whose `sign` loads the bundled package on first use: same code, evaluated only when a
 * certificate assertion is signed.
 */
export const lazyJsonWebToken = {
  name: 'lazy-jsonwebtoken',
  setup(b) {
    b.onResolve({ filter: /^jsonwebtoken$/ }, (args) =>
      args.kind === 'import-statement' && args.importer.includes('@azure/msal-node')
        ? { path: 'jsonwebtoken', namespace: 'lazy-jsonwebtoken', pluginData: { resolveDir: args.resolveDir } }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-jsonwebtoken' }, (args) => ({
      contents: "export default { sign: (...args) => require('jsonwebtoken').sign(...args) };",
      resolveDir: args.pluginData.resolveDir,
      loader: 'js',
    }));
  },
};

// run as a script (npm run build); imported, it only lends the plugin (the bench's row 3c)
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
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
    plugins: [lazyJsonWebToken],
  });
}
