// A/B of token-endpoint variants against a bare node:http server answering the same bytes: each
// variant is a sidecar build (`cli`, e.g. an older commit's dist/cli.js; extra `nodeArgs`), or any
// server script taking the answer file (`server`, `env`). All serve the same App Service request at
// N connections in interleaved rounds (or at a steady rate); prints median req/s, p99 and CPU µs
// per request (from /proc, no profiler overhead), each as a ratio to the bare server's.
//   VARIANTS='[{"name":"old","cli":"/abs/old-dist/cli.js"},{"name":"new"}]' node bench/measure/endpoint-variants.mjs [connections] [rounds] [steady rate]
import { join } from 'node:path';
import { emulator } from '../lib/context.mjs';
import { load } from '../lib/load.mjs';
import { BENCH_DIR, scratchDir } from '../lib/paths.mjs';
import { cpuSecondsPrecise, startProcess } from '../lib/proc.mjs';
import { answerFileOf, appServiceRequest, INJECTED_NODE_OPTIONS, startSidecar } from '../lib/sidecar.mjs';
const conns = Number(process.argv[2] ?? 10);
const rounds = Number(process.argv[3] ?? 5);
// a steady rate (requests/s over all connections) instead of as many as the server takes
const rate = process.argv[4] ? Number(process.argv[4]) : undefined;
const variants = JSON.parse(process.env.VARIANTS ?? '[{"name":"sidecar"}]');
const em = await emulator();
const sidecars = [];
for (const v of variants) {
  if (v.server) continue;
  sidecars.push({ name: v.name, sc: await startSidecar(`var-${v.name}`, em, { cli: v.cli, nodeArgs: v.nodeArgs }) });
}
const req0 = appServiceRequest(sidecars[0].sc);
// other servers answering the same bytes (a variant with "server": a script taking the answer file)
const others = [];
const { file: answerFile } = await answerFileOf(sidecars[0].sc, 'variants');
const bare = startProcess('bare-variants', process.execPath, [join(BENCH_DIR, 'servers', 'bare-http.mjs'), answerFile], {
  logDir: scratchDir(),
  env: { PATH: process.env.PATH, NODE_OPTIONS: INJECTED_NODE_OPTIONS },
});
const barePort = (await bare.waitForLine((l) => l.event === 'ready')).port;
for (const v of variants.filter((x) => x.server)) {
  const p = startProcess(`variant-${v.name}`, process.execPath, [v.server, answerFile], {
    logDir: scratchDir(),
    env: { PATH: process.env.PATH, NODE_OPTIONS: INJECTED_NODE_OPTIONS, IDH: sidecars[0].sc.identityHeader, ...v.env },
  });
  others.push({ name: v.name, p, port: (await p.waitForLine((l) => l.event === 'ready')).port });
}
const path = new URL(req0.url).pathname + new URL(req0.url).search;
const targets = [
  { name: 'bare', url: `http://127.0.0.1:${barePort}${path}`, headers: req0.headers, pid: bare.pid },
  ...sidecars.map(({ name, sc }) => {
    const r = appServiceRequest(sc);
    return { name, url: r.url, headers: r.headers, pid: sc.pid };
  }),
  ...others.map((o) => ({ name: o.name, url: `http://127.0.0.1:${o.port}${path}`, headers: req0.headers, pid: o.p.pid })),
];
const res = Object.fromEntries(targets.map((t) => [t.name, { rps: [], p99: [], cpu: [], bad: 0 }]));
for (let r = 0; r < rounds; r++)
  for (const t of r % 2 ? [...targets].reverse() : targets) {
    await load({ url: t.url, headers: t.headers, connections: conns, duration: 1 });
    const c0 = cpuSecondsPrecise(t.pid);
    const x = await load({ url: t.url, headers: t.headers, connections: conns, duration: 4, overallRate: rate });
    const c1 = cpuSecondsPrecise(t.pid);
    res[t.name].bad += x.non2xx + x.errors;
    res[t.name].rps.push(x.rps);
    res[t.name].p99.push(x.p99);
    res[t.name].cpu.push(((c1 - c0) * 1e6) / x.requests);
  }
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const b = res.bare;
for (const t of targets) {
  const m = res[t.name];
  console.log(
    `${conns} conns ${t.name.padEnd(12)} rps ${Math.round(med(m.rps))} (${(med(m.rps) / med(b.rps)).toFixed(3)}×)  p99 ${med(m.p99).toFixed(3)} ms (${(med(m.p99) / med(b.p99)).toFixed(2)}×)  cpu ${med(m.cpu).toFixed(1)} µs/req (${(med(m.cpu) / med(b.cpu)).toFixed(2)}×)${m.bad ? `  ${m.bad} NOT 2xx` : ''}`,
  );
}
await Promise.all([...sidecars.map(({ sc }) => sc.stop()), bare.stop(), ...others.map((o) => o.p.stop())]);
await em.close();
