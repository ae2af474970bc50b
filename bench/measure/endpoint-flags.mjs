// A/B at N connections: the sidecar against bare node:http with node's default flags and with the
// sidecar's injected flags (5 runs each, medians) — whether the flags or the code make the gap.
//   AB_EXTRA='{"ENV":"value"}' node bench/measure/endpoint-flags.mjs [connections]
import { join } from 'node:path';
import { emulator } from '../lib/context.mjs';
import { load } from '../lib/load.mjs';
import { BENCH_DIR, scratchDir } from '../lib/paths.mjs';
import { startProcess } from '../lib/proc.mjs';
import { answerFileOf, appServiceRequest, INJECTED_NODE_OPTIONS, startSidecar } from '../lib/sidecar.mjs';
const conns = Number(process.argv[2] ?? 10);
const em = await emulator();
const sc = await startSidecar('ab', em, { cli: process.env.AB_CLI || undefined, extra: JSON.parse(process.env.AB_EXTRA ?? '{}') });
const req = appServiceRequest(sc);
const { file: answerFile } = await answerFileOf(sc, 'ab');
const bare = (name, env) =>
  startProcess(name, process.execPath, [join(BENCH_DIR, 'servers', 'bare-http.mjs'), answerFile], {
    logDir: scratchDir(),
    env: { PATH: process.env.PATH, ...env },
  });
const b1 = bare('bare-default', {});
const b2 = bare('bare-flags', { NODE_OPTIONS: INJECTED_NODE_OPTIONS });
const p1 = (await b1.waitForLine((l) => l.event === 'ready')).port;
const p2 = (await b2.waitForLine((l) => l.event === 'ready')).port;
const path = new URL(req.url).pathname + new URL(req.url).search;
const servers = { sidecar: req.url, bareDefault: `http://127.0.0.1:${p1}${path}`, bareFlags: `http://127.0.0.1:${p2}${path}` };
const res = { sidecar: [], bareDefault: [], bareFlags: [] };
for (let r = 0; r < 5; r++)
  for (const k of Object.keys(servers)) {
    const x = await load({ url: servers[k], headers: req.headers, connections: conns, duration: 4, warmupSeconds: 1 });
    res[k].push(x.rps);
  }
const med = (a) => [...a].sort((x, y) => x - y)[2];
console.log(
  conns,
  'conns',
  Object.fromEntries(Object.entries(res).map(([k, v]) => [k, Math.round(med(v))])),
  'sidecar/bareDefault',
  (med(res.sidecar) / med(res.bareDefault)).toFixed(3),
  'sidecar/bareFlags',
  (med(res.sidecar) / med(res.bareFlags)).toFixed(3),
);
await Promise.all([sc.stop(), b1.stop(), b2.stop()]);
await em.close();
