// Where does the time go? Runs the sidecar's endpoint (App Service flavour, held token) or the
// webhook (the realistic AdmissionReview of row 7) under `node --cpu-prof` and a load from
// autocannon, stops it and summarises the profile: self time by package and by function,
// inclusive time by function.
//   node bench/profile.mjs [--target sidecar|webhook] [--connections 10] [--seconds 10] [--top 30] [--out dir] [--cli path/to/cli.js]
//   (webhook: --reviews same|replicas|distinct — one review again and again, row 7's replicas, or row 7d's pods of their own)
import { mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { summarise } from './lib/cpuprofile.mjs';
import { emulator } from './lib/context.mjs';
import { load } from './lib/load.mjs';
import { CLI, scratchDir } from './lib/paths.mjs';
import { appServiceRequest, startSidecar } from './lib/sidecar.mjs';
import { requestsOf, reviewStream, startWebhookUnderTest } from './rows/7-webhook.mjs';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'sidecar' },
    connections: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    top: { type: 'string', default: '30' },
    out: { type: 'string' },
    cli: { type: 'string', default: CLI },
    reviews: { type: 'string', default: 'same' },
  },
});
const dir = values.out ?? mkdtempSync(join(scratchDir(), 'prof-'));
const nodeArgs = ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '100'];
const connections = Number(values.connections);
const duration = Number(values.seconds);
let res;
if (values.target === 'webhook') {
  const w = await startWebhookUnderTest({ nodeArgs, cli: values.cli });
  const headers = { 'content-type': 'application/json' };
  if (values.reviews === 'same') res = await load({ url: w.url, method: 'POST', headers, body: w.review, connections, duration, warmupSeconds: 1 });
  else {
    const requests = requestsOf(headers, reviewStream(w.review, values.reviews === 'distinct'));
    res = await load({ url: w.url, requests, connections, duration, warmupSeconds: 1 });
  }
  await w.stop();
} else {
  const em = await emulator();
  const sc = await startSidecar('profiled-sidecar', em, { nodeArgs, cli: values.cli });
  res = await load({ ...appServiceRequest(sc), connections, duration, warmupSeconds: 1 });
  await sc.stop();
  await em.close();
}
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no profile written in ${dir}`);
console.log(
  JSON.stringify(
    { target: values.target, rps: Math.round(res.rps), p99Ms: res.p99, profile: join(dir, file), ...summarise(join(dir, file), { top: Number(values.top) }) },
    null,
    1,
  ),
);
