// Row 9: CPU time per refresh. One refresh as the sidecar does it (msal-node exchange, token files
// written atomically, metrics updated) against the same HTTPS token request made with plain
// `fetch` — what msal-node and the sidecar's bookkeeping cost over the request itself. Reported
// beside it: the msal-node exchange alone. Each client is its own process (bench/clients/
// refresh-cpu.mjs) with the heap flags the webhook injects, against the same emulator (in this
// process, so its CPU is not counted); the clients take turns, order rotated per run.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { emulator, resultLine } from '../lib/context.mjs';
import { BENCH_DIR, BUILD, REPO, scratchDir } from '../lib/paths.mjs';
import { startProcess } from '../lib/proc.mjs';
import { sidecarEnv } from '../lib/sidecar.mjs';
import { median, ratio, round } from '../lib/stats.mjs';

const MODES = ['sidecar', 'fetch', 'exchange'];

export async function run(ctx) {
  const runs = ctx.quick ? 1 : ctx.runs;
  const warmup = ctx.quick ? 30 : 100;
  const count = ctx.quick ? 100 : 400;
  const em = await emulator();
  const samples = Object.fromEntries(MODES.map((m) => [m, []]));
  try {
    const tokenFile = em.writeProjectedToken(mkdtempSync(join(scratchDir(), 'sa-'))).path;
    for (let r = 0; r < runs; r++) {
      for (const mode of MODES.map((_, i) => MODES[(i + r) % MODES.length])) {
        const tokenDir = mkdtempSync(join(scratchDir(), `row9-${mode}-`));
        const env = sidecarEnv(em, { tokens: 'storage=https://storage.azure.com/.default', tokenDir, tokenFile, identityHeader: 'unused' });
        const p = startProcess(
          `row9-${mode}-${r}`,
          process.execPath,
          [join(BENCH_DIR, 'clients', 'refresh-cpu.mjs'), mode, BUILD, tokenDir, String(warmup), String(count)],
          { env, cwd: REPO, logDir: scratchDir() },
        );
        const result = await p.waitForLine((l) => l.event === 'result', 300_000);
        await p.exited;
        samples[mode].push(result);
        ctx.log(
          `  row 9: ${mode.padEnd(8)} ${result.cpuUsPerOp.toFixed(0)} µs CPU per refresh (user ${result.userUsPerOp.toFixed(0)}, system ${result.systemUsPerOp.toFixed(0)}), ${result.wallMsPerOp.toFixed(2)} ms wall`,
        );
      }
    }
  } finally {
    await em.close();
  }
  const cpu = (m) => median(samples[m].map((x) => x.cpuUsPerOp));
  const pairRatio = median(samples.sidecar.map((x, i) => ratio(x.cpuUsPerOp, samples.fetch[i].cpuUsPerOp)));
  const exchangeRatio = median(samples.exchange.map((x, i) => ratio(x.cpuUsPerOp, samples.fetch[i].cpuUsPerOp)));
  const per = (m) =>
    samples[m].map((x) => ({ cpuUs: round(x.cpuUsPerOp), userUs: round(x.userUsPerOp), systemUs: round(x.systemUsPerOp), wallMs: round(x.wallMsPerOp) }));
  return {
    lines: [
      resultLine({
        id: '9',
        what: `CPU per refresh: exchange + files + metrics, vs plain fetch of the same token (msal-node exchange alone: ${round(exchangeRatio)}×)`,
        figure: round(cpu('sidecar')),
        baseline: round(cpu('fetch')),
        ratio: round(pairRatio),
        target: 'reported',
        pass: null,
        unit: 'µs CPU',
        details: {
          runs,
          warmup,
          refreshesPerRun: count,
          sidecar: per('sidecar'),
          fetch: per('fetch'),
          exchangeOnly: per('exchange'),
          exchangeOnlyMedianUs: round(cpu('exchange')),
          exchangeOnlyToFetch: round(exchangeRatio),
        },
      }),
    ],
  };
}
