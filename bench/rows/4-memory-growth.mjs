// Row 4: memory growth over 200 000 endpoint requests while tokens live 10 s (so the sidecar
// refreshes every few seconds and every answer cache turns over): RSS after the requests against
// RSS after a warm-up. The requests cycle through the three protocol flavours. The warm-up is
// 50 000 requests: under this load a bare node:http server's RSS stops growing by then (young
// generation sized, code compiled). The bare server runs the same procedure alongside, so its
// own growth is reported next to the sidecar's, and the sidecar's RSS after the requests is
// compared with the bare server's after the same requests, both with the flags the webhook injects.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { emulator, resultLine } from '../lib/context.mjs';
import { load } from '../lib/load.mjs';
import { BENCH_DIR, scratchDir } from '../lib/paths.mjs';
import { rssBytes, sleep, startProcess } from '../lib/proc.mjs';
import { INJECTED_NODE_OPTIONS, startSidecar } from '../lib/sidecar.mjs';

const nodeOptions = process.env.BENCH_SIDECAR_NODE_OPTIONS ?? INJECTED_NODE_OPTIONS;
import { median, MiB, ratio, round } from '../lib/stats.mjs';

const CHECKPOINTS = 4;

export async function run(ctx) {
  const runs = ctx.quick ? 1 : Math.max(3, ctx.runs);
  const amount = ctx.quick ? 50_000 : 200_000;
  const warmup = ctx.quick ? 20_000 : 50_000;
  const samples = { sidecar: [], bare: [] };
  for (let r = 0; r < runs; r++) {
    const em = await emulator({ tokenLifetimeSec: 10 });
    const sidecar = await startSidecar(`row4-sidecar-${r}`, em, { tokens: 'storage=https://storage.azure.com/.default' });
    let bare;
    try {
      const requests = [
        {
          method: 'GET',
          path: '/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fstorage.azure.com%2F',
          headers: { 'x-identity-header': sidecar.identityHeader },
        },
        {
          method: 'GET',
          path: '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com',
          headers: { metadata: 'true' },
        },
        {
          method: 'POST',
          path: '/msi/token',
          headers: { metadata: 'true', 'content-type': 'application/x-www-form-urlencoded' },
          body: 'resource=https%3A%2F%2Fstorage.azure.com%2F',
        },
      ];
      const exchanges0 = em.exchangeCount();
      samples.sidecar.push(await measure(sidecar.endpoint, sidecar.pid, requests, warmup, amount));
      const refreshes = em.exchangeCount() - exchanges0;
      const first = await fetch(`${sidecar.endpoint}${requests[0].path}`, { headers: requests[0].headers });
      const answerFile = join(scratchDir(), `row4-answer-${r}.json`);
      writeFileSync(
        answerFile,
        JSON.stringify({ status: 200, headers: { 'content-type': first.headers.get('content-type'), 'cache-control': 'no-store' }, body: await first.text() }),
      );
      // the runtime's floor under the same flags the sidecar runs with
      bare = startProcess(`row4-bare-${r}`, process.execPath, [join(BENCH_DIR, 'servers', 'bare-http.mjs'), answerFile], {
        logDir: scratchDir(),
        env: { PATH: process.env.PATH, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
      });
      const { port } = await bare.waitForLine((l) => l.event === 'ready');
      samples.bare.push(await measure(`http://127.0.0.1:${port}`, bare.pid, requests, warmup, amount));
      const s = samples.sidecar[r];
      const b = samples.bare[r];
      s.refreshes = refreshes;
      ctx.log(
        `  row 4: run ${r}: sidecar RSS ${mib(s.warm)} → ${s.curve.map(mib).join(' → ')} MiB (${refreshes} refreshes); bare ${mib(b.warm)} → ${b.curve.map(mib).join(' → ')} MiB`,
      );
    } finally {
      await Promise.all([sidecar.stop(), bare?.stop()]);
      await em.close();
    }
  }
  const growth = median(samples.sidecar.map((s) => s.growth));
  const after = median(samples.sidecar.map((s) => s.after));
  const bareAfter = median(samples.bare.map((b) => b.after));
  const afterRatio = median(samples.sidecar.map((s, i) => ratio(s.after, samples.bare[i].after)));
  return {
    lines: [
      resultLine({
        id: '4 rss',
        what: `RSS after ${amount / 1000}k requests, 10 s tokens, vs bare node:http after the same requests (same flags)`,
        figure: round(after / MiB),
        baseline: round(bareAfter / MiB),
        ratio: round(afterRatio),
        target: '≤ 1.3× and ≤ 64 MiB',
        pass: afterRatio <= 1.3 && after <= 64 * MiB,
        unit: 'MiB',
        details: {
          nodeOptions,
          sidecarAfterMiB: samples.sidecar.map((s) => round(s.after / MiB)),
          bareAfterMiB: samples.bare.map((b) => round(b.after / MiB)),
        },
      }),
      resultLine({
        id: '4',
        what: `RSS growth over ${amount / 1000}k requests, 10 s tokens (bare node:http: ${round(100 * median(samples.bare.map((b) => b.growth)))} %)`,
        figure: round(median(samples.sidecar.map((s) => s.after)) / MiB),
        baseline: round(median(samples.sidecar.map((s) => s.warm)) / MiB),
        ratio: round(1 + growth),
        target: '≤ 1.05× (≤ 5 % growth)',
        pass: growth <= 0.05,
        unit: 'MiB',
        details: {
          runs,
          requests: amount,
          warmupRequests: warmup,
          sidecarGrowthPct: samples.sidecar.map((s) => round(100 * s.growth)),
          bareGrowthPct: samples.bare.map((b) => round(100 * b.growth)),
          sidecarRssCurveMiB: samples.sidecar.map((s) => [s.warm, ...s.curve].map((x) => round(x / MiB))),
          bareRssCurveMiB: samples.bare.map((b) => [b.warm, ...b.curve].map((x) => round(x / MiB))),
          refreshesDuringRun: samples.sidecar.map((s) => s.refreshes),
        },
      }),
    ],
  };
}

/** Warm-up, RSS, then the requests in CHECKPOINTS slices with RSS after each. */
async function measure(url, pid, requests, warmup, amount) {
  const w = await load({ url, connections: 10, amount: warmup, requests });
  if (w.non2xx || w.errors) throw new Error(`warm-up: ${w.non2xx} non-2xx answers, ${w.errors} errors`);
  await sleep(500);
  const warm = rssBytes(pid);
  const curve = [];
  for (let i = 0; i < CHECKPOINTS; i++) {
    const res = await load({ url, connections: 10, amount: amount / CHECKPOINTS, requests });
    if (res.non2xx || res.errors) throw new Error(`${res.non2xx} non-2xx answers, ${res.errors} errors`);
    await sleep(500);
    curve.push(rssBytes(pid));
  }
  const after = curve[curve.length - 1];
  return { warm, after, curve, growth: ratio(after - warm, warm) };
}

function mib(bytes) {
  return (bytes / MiB).toFixed(1);
}
