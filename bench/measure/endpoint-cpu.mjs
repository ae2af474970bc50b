// CPU per request of the token endpoint against a bare node:http server answering the same bytes: each
// serves 100 000 App Service requests at 10 connections under `node --cpu-prof`, one after the other;
// prints busy µs per request and where they go (README Performance, row 1).
//   node bench/measure/endpoint-cpu.mjs [path/to/cli.js]   (an unminified build names the functions)
import { mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { summarise } from '../lib/cpuprofile.mjs';
import { emulator } from '../lib/context.mjs';
import { load } from '../lib/load.mjs';
import { BENCH_DIR, scratchDir } from '../lib/paths.mjs';
import { startProcess } from '../lib/proc.mjs';
import { answerFileOf, appServiceRequest, startSidecar } from '../lib/sidecar.mjs';
const cli = process.argv[2];
const em = await emulator();
const d1 = mkdtempSync(join(scratchDir(), 'p1-')),
  d2 = mkdtempSync(join(scratchDir(), 'p2-'));
const prof = (d) => ['--cpu-prof', '--cpu-prof-dir', d, '--cpu-prof-interval', '100'];
const sc = await startSidecar('cmp', em, { nodeArgs: prof(d1), cli });
const req = appServiceRequest(sc);
const { file: answerFile } = await answerFileOf(sc, 'cmp');
const b = startProcess('bare', process.execPath, [...prof(d2), join(BENCH_DIR, 'servers', 'bare-http.mjs'), answerFile], {
  logDir: scratchDir(),
  env: { PATH: process.env.PATH },
});
const port = (await b.waitForLine((l) => l.event === 'ready')).port;
const path = new URL(req.url).pathname + new URL(req.url).search;
const N = 100000;
await load({ url: req.url, headers: req.headers, connections: 10, amount: N });
await load({ url: `http://127.0.0.1:${port}${path}`, headers: req.headers, connections: 10, amount: N });
await sc.stop();
await b.stop();
await em.close();
for (const [name, d] of [
  ['sidecar', d1],
  ['bare', d2],
]) {
  const f = readdirSync(d).find((x) => x.endsWith('.cpuprofile'));
  const s = summarise(join(d, f), { top: 400 });
  const us = (pct) => (((pct / 100) * s.busyMs * 1000) / N).toFixed(2);
  console.log(`== ${name}: busy ${s.busyMs} ms = ${((s.busyMs * 1000) / N).toFixed(1)} us/request`);
  const groups = {};
  for (const e of s.selfByFunction) {
    const k =
      e.fn.includes('(v8/native)') || e.fn.startsWith('(')
        ? e.fn.split(' ')[0]
        : e.fn.includes('node:')
          ? 'node:' + e.fn.split('node:')[1].split(':')[0]
          : 'app';
    groups[k] = (groups[k] ?? 0) + e.pctOfBusy;
  }
  for (const [k, v] of Object.entries(groups)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 18))
    console.log('  ', us(v).padStart(6), 'us', k);
  if (name === 'sidecar')
    for (const e of s.selfByFunction
      .filter((e) => !e.fn.includes('(v8') && !e.fn.startsWith('(') && (!e.fn.includes('node:') || e.fn.includes('node:events')))
      .slice(0, 25))
      console.log('     ', us(e.pctOfBusy).padStart(6), e.fn.replace(/file:[^ ]*chunks./, ''));
}
