// Row 4: memory growth over 200 000 endpoint requests while tokens live 10 s (so the sidecar
// refreshes every few seconds and every answer cache turns over): RSS after the requests against
// RSS after a warm-up. The requests cycle through the three protocol flavours.
import { emulator, resultLine } from '../lib/context.mjs';
import { load } from '../lib/load.mjs';
import { rssBytes, sleep } from '../lib/proc.mjs';
import { startSidecar } from '../lib/sidecar.mjs';
import { median, MiB, ratio, round } from '../lib/stats.mjs';

export async function run(ctx) {
  const runs = ctx.quick ? 1 : Math.max(3, ctx.runs);
  const amount = ctx.quick ? 50_000 : 200_000;
  const warmup = ctx.quick ? 10_000 : 20_000;
  const samples = [];
  for (let r = 0; r < runs; r++) {
    const em = await emulator({ tokenLifetimeSec: 10 });
    const sidecar = await startSidecar(`row4-sidecar-${r}`, em, { tokens: 'storage=https://storage.azure.com/.default' });
    try {
      const requests = [
        { method: 'GET', path: '/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fstorage.azure.com%2F', headers: { 'x-identity-header': sidecar.identityHeader } },
        { method: 'GET', path: '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com', headers: { metadata: 'true' } },
        { method: 'POST', path: '/msi/token', headers: { metadata: 'true', 'content-type': 'application/x-www-form-urlencoded' }, body: 'resource=https%3A%2F%2Fstorage.azure.com%2F' },
      ];
      const exchanges0 = em.exchangeCount();
      const w = await load({ url: sidecar.endpoint, connections: 10, amount: warmup, requests });
      if (w.non2xx || w.errors) throw new Error(`warm-up: ${w.non2xx} non-2xx answers, ${w.errors} errors`);
      await sleep(500);
      const warm = rssBytes(sidecar.pid);
      const t0 = performance.now();
      const res = await load({ url: sidecar.endpoint, connections: 10, amount, requests });
      if (res.non2xx || res.errors) throw new Error(`${res.non2xx} non-2xx answers, ${res.errors} errors`);
      await sleep(500);
      const after = rssBytes(sidecar.pid);
      const seconds = (performance.now() - t0) / 1000;
      const refreshes = em.exchangeCount() - exchanges0;
      samples.push({ warm, after, growth: ratio(after - warm, warm), seconds, refreshes });
      ctx.log(`  row 4: run ${r}: RSS ${(warm / MiB).toFixed(1)} → ${(after / MiB).toFixed(1)} MiB over ${amount} requests in ${seconds.toFixed(1)} s (${refreshes} refreshes)`);
    } finally {
      await sidecar.stop();
      await em.close();
    }
  }
  const growth = median(samples.map((s) => s.growth));
  return {
    lines: [resultLine({
      id: '4', what: `RSS growth over ${amount / 1000}k requests, 10 s tokens`, figure: round(median(samples.map((s) => s.after)) / MiB), baseline: round(median(samples.map((s) => s.warm)) / MiB),
      ratio: round(1 + growth), target: '≤ 1.05× (≤ 5 % growth)', pass: growth <= 0.05, unit: 'MiB',
      details: { runs, requests: amount, warmupRequests: warmup, growthPct: samples.map((s) => round(100 * s.growth)), refreshesDuringRun: samples.map((s) => s.refreshes), seconds: samples.map((s) => round(s.seconds)) },
    })],
  };
}
