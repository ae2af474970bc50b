// Preloaded with NODE_OPTIONS=--import=<this file>: appends every module the process loads to the
// file named by BENCH_MODULE_LOG, one per line — ES modules through a resolve hook (they run in
// the loader thread), CommonJS through Module._resolveFilename (every require, nested ones too).
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';

const out = process.env.BENCH_MODULE_LOG;
if (out) {
  register('./record-modules-loader.mjs', import.meta.url, { data: { out } });
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function recordResolve(...args) {
    const resolved = resolveFilename.apply(this, args);
    appendFileSync(out, `cjs ${resolved}\n`);
    return resolved;
  };
}
