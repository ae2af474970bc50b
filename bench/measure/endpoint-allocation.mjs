// Young-generation collections per request of the token endpoint against a bare node:http server
// answering the same bytes (both with the injected heap flags): a count that does not depend on
// how busy the machine is, so code changes to the request path can be compared on a shared box.
// Each serves 20 000 requests to warm up, then 40 000 counted, at 10 connections; prints scavenges
// per 1 000 requests and the bytes that implies (young generation of 1 MiB).
//   VARIANTS='[{"name":"base","cli":"/abs/old/cli.js"},{"name":"new"}]' node bench/measure/endpoint-allocation.mjs
import { join } from 'node:path';
import { emulator } from '../lib/context.mjs';
import { load } from '../lib/load.mjs';
import { BENCH_DIR, scratchDir } from '../lib/paths.mjs';
import { startProcess } from '../lib/proc.mjs';
import { answerFileOf, appServiceRequest, INJECTED_NODE_OPTIONS, startSidecar } from '../lib/sidecar.mjs';
const variants = JSON.parse(process.env.VARIANTS ?? '[{"name":"sidecar"}]');
const em = await emulator();
const counting = (proc) => {
  const c = { n: 0 };
  proc.stdout.on('data', (d) => {
    c.n += String(d).split('Scavenge').length - 1;
  });
  return c;
};
const targets = [];
for (const v of variants) {
  const sc = await startSidecar(`alloc-${v.name}`, em, { cli: v.cli, nodeArgs: ['--trace-gc'] });
  const r = appServiceRequest(sc);
  targets.push({ name: v.name, sc, url: r.url, headers: r.headers, stop: () => sc.stop(), gc: counting(sc.proc) });
}
const { file: answerFile } = await answerFileOf(targets[0].sc, 'alloc');
const bare = startProcess('alloc-bare', process.execPath, ['--trace-gc', join(BENCH_DIR, 'servers', 'bare-http.mjs'), answerFile], {
  logDir: scratchDir(),
  env: { PATH: process.env.PATH, NODE_OPTIONS: INJECTED_NODE_OPTIONS },
});
const barePort = (await bare.waitForLine((l) => l.event === 'ready')).port;
const u = new URL(targets[0].url);
targets.unshift({
  name: 'bare',
  url: `http://127.0.0.1:${barePort}${u.pathname}${u.search}`,
  headers: targets[0].headers,
  stop: () => bare.stop(),
  gc: counting(bare.proc),
});
const N = 40_000;
const perK = {};
for (const t of targets) {
  await load({ url: t.url, headers: t.headers, connections: 10, amount: 20_000 });
  const before = t.gc.n;
  await load({ url: t.url, headers: t.headers, connections: 10, amount: N });
  perK[t.name] = ((t.gc.n - before) * 1000) / N;
}
for (const t of targets)
  console.log(
    `${t.name.padEnd(10)} ${perK[t.name].toFixed(2)} scavenges per 1 000 requests ≈ ${((perK[t.name] * 1024) / 1000).toFixed(2)} KiB per request (${(perK[t.name] / perK.bare).toFixed(2)}× bare)`,
  );
await Promise.all(targets.map((t) => t.stop()));
await em.close();
