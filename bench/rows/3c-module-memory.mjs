// Row 3c: where the sidecar's resident memory goes. Each library the sidecar bundles is loaded
// alone in a bare `node` process keeping a timer — bundled and minified exactly as
// scripts/bundle.mjs bundles the CLI, run with the heap flags the webhook injects — and its RSS
// after settling is compared with the bare process's. The Node built-ins the sidecar's own code
// imports are measured the same way (they are shared by every library, so the libraries' "alone"
// figures overlap by them), then the built-ins and the libraries the build imports stacked in the
// order the sidecar needs them (each step's increment is that module's share), and finally the
// sidecar itself, idle with 3 targets held. Reported, not gated: rows 3 and 4 carry
// the targets; this row says which module each MiB above bare node belongs to.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { lazyJsonWebToken } from '../../scripts/bundle.mjs';
import { emulator, resultLine } from '../lib/context.mjs';
import { BUILD, REPO, scratchDir } from '../lib/paths.mjs';
import { rssBytes, sleep, startProcess } from '../lib/proc.mjs';
import { INJECTED_NODE_OPTIONS, startSidecar, THREE_TARGETS } from '../lib/sidecar.mjs';
import { median, MiB, round } from '../lib/stats.mjs';

/** The Node built-ins src/sidecar, src/identity, src/config, src/contract and src/log.ts import. */
const BUILTINS = ['node:crypto', 'node:fs', 'node:fs/promises', 'node:http', 'node:https', 'node:path', 'node:perf_hooks', 'node:url', 'node:util'];

/** Libraries the sidecar bundles, in the order it needs them. */
const LIBRARIES = ['prom-client', '@azure/msal-node', 'express'];

/**
 * What is measured: each library alone over bare node, then a stack (built-ins, then each library
 * added in turn) whose steps account for every MiB from bare node up to the sidecar's libraries.
 * express only stacks when the sidecar's build still imports it.
 */
export function entries(sidecarLibraries) {
  const alone = [
    { key: 'bare', imports: [] },
    ...[['node built-ins', BUILTINS], ...LIBRARIES.map((l) => [l, [l]])].map(([key, imports]) => ({ key: `alone: ${key}`, imports })),
  ];
  const stack = [];
  let imports = [...BUILTINS];
  stack.push({ key: 'stack: node built-ins', imports });
  for (const l of sidecarLibraries) {
    imports = [...imports, l];
    stack.push({ key: `stack: + ${l}`, imports });
  }
  return [...alone, ...stack];
}

/** The libraries the built sidecar imports (tsc's per-file output of src/sidecar and src/identity). */
function librariesOfBuild() {
  const text = [];
  const walk = (d) => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      if (f.isDirectory()) walk(join(d, f.name));
      else if (f.name.endsWith('.js')) text.push(readFileSync(join(d, f.name), 'utf8'));
    }
  };
  for (const d of ['sidecar', 'identity', 'config', 'contract', 'http']) if (existsSync(join(BUILD, d))) walk(join(BUILD, d));
  text.push(readFileSync(join(BUILD, 'log.js'), 'utf8'), readFileSync(join(BUILD, 'process-metrics.js'), 'utf8'));
  const all = text.join('\n');
  return LIBRARIES.filter((l) => all.includes(`from '${l}'`) || all.includes(`from "${l}"`));
}

export async function run(ctx) {
  const copies = ctx.quick ? 1 : 3;
  const settleMs = ctx.quick ? 5_000 : 20_000;
  // inside the repository, so the packages resolve from its node_modules
  const dir = join(REPO, '.cache', `bench-modules-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const libraries = librariesOfBuild();
  const ENTRIES = entries(libraries);
  const files = [];
  for (const [i, e] of ENTRIES.entries()) {
    const src = join(dir, `entry-${i}.src.mjs`);
    // every export kept reachable, as the sidecar's code reaches what it uses
    writeFileSync(
      src,
      `${e.imports.map((m, j) => `import * as m${j} from '${m}';`).join('\n')}\nglobalThis.keep = [${e.imports.map((_, j) => `m${j}`).join(', ')}];\nsetInterval(() => {}, 1_000);\nprocess.stdout.write('{"event":"ready"}\\n');\nprocess.on('SIGTERM', () => process.exit(0));\n`,
    );
    const out = join(dir, `entry-${i}.mjs`);
    await build({
      entryPoints: [src],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      minify: true,
      outfile: out,
      logLevel: 'error',
      external: ['@kubernetes/client-node', 'node-forge'],
      banner: { js: "import { createRequire as __entraCreateRequire } from 'node:module'; const require = __entraCreateRequire(import.meta.url);" },
      plugins: [lazyJsonWebToken],
    });
    files.push(out);
  }
  const em = await emulator();
  const procs = [];
  try {
    const env = { PATH: process.env.PATH, ...(INJECTED_NODE_OPTIONS ? { NODE_OPTIONS: INJECTED_NODE_OPTIONS } : {}) };
    const started = [];
    for (let c = 0; c < copies; c++) {
      for (const [i, e] of ENTRIES.entries()) {
        const p = startProcess(`modules-${i}-${c}`, process.execPath, [files[i]], { env, cwd: REPO, logDir: scratchDir() });
        procs.push(p);
        started.push({ key: e.key, p });
      }
      const sc = await startSidecar(`modules-sidecar-${c}`, em, { tokens: THREE_TARGETS });
      procs.push(sc);
      started.push({ key: 'sidecar', p: sc });
    }
    await Promise.all(started.map((s) => s.p.waitForLine?.((l) => l.event === 'ready' || l.msg === 'sidecar started')));
    await sleep(settleMs);
    const rss = {};
    for (const s of started) (rss[s.key] ??= []).push(rssBytes(s.p.pid));
    const bare = median(rss.bare);
    const above = (key) => (median(rss[key]) - bare) / MiB;
    const figures = Object.fromEntries(
      Object.keys(rss).map((k) => [
        k,
        { medianMiB: round(median(rss[k]) / MiB), aboveBareMiB: round(above(k)), samplesMiB: rss[k].map((x) => round(x / MiB)) },
      ]),
    );
    // each step of the stack: what adding that module cost on top of the previous step
    const stackKeys = ENTRIES.filter((e) => e.key.startsWith('stack: ')).map((e) => e.key);
    const steps = stackKeys.map((k, i) => ({ step: k.slice(7), addsMiB: round(i === 0 ? above(k) : above(k) - above(stackKeys[i - 1])) }));
    const sidecarAbove = above('sidecar');
    const libs = above(stackKeys[stackKeys.length - 1]);
    steps.push({ step: "the sidecar's own code and state (3 targets held, listeners, metrics registry)", addsMiB: round(sidecarAbove - libs) });
    for (const [k, f] of Object.entries(figures))
      ctx.log(`  row 3c: ${k.padEnd(30)} ${String(f.medianMiB).padStart(5)} MiB  (+${f.aboveBareMiB} MiB over bare node)`);
    for (const s of steps) ctx.log(`  row 3c: step ${s.step}: +${s.addsMiB} MiB`);
    return {
      lines: [
        resultLine({
          id: '3c',
          what: `RSS by module, idle with 3 targets: built-ins + ${libraries.join(' + ')} bundled alone +${round(libs)} MiB over bare node`,
          figure: round(median(rss.sidecar) / MiB),
          baseline: round(bare / MiB),
          ratio: round(median(rss.sidecar) / bare),
          target: 'reported',
          pass: null,
          unit: 'MiB',
          details: {
            copies,
            settleSeconds: settleMs / 1000,
            nodeOptions: INJECTED_NODE_OPTIONS,
            sidecarLibraries: libraries,
            sidecarAboveBareMiB: round(sidecarAbove),
            librariesAboveBareMiB: round(libs),
            steps,
            entries: figures,
          },
        }),
      ],
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await em.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
