// Where does the sidecar's endpoint time go? Runs a sidecar under `node --cpu-prof` against the
// emulator, drives the App Service flavour with autocannon, stops it and summarises the profile.
//   node bench/profile.mjs [--connections 10] [--seconds 10] [--top 30] [--out dir] [--cli path/to/cli.js]
import { mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { summarise } from './lib/cpuprofile.mjs';
import { emulator } from './lib/context.mjs';
import { load } from './lib/load.mjs';
import { CLI, scratchDir } from './lib/paths.mjs';
import { appServiceRequest, startSidecar } from './lib/sidecar.mjs';

const { values } = parseArgs({ options: { connections: { type: 'string', default: '10' }, seconds: { type: 'string', default: '10' }, top: { type: 'string', default: '30' }, out: { type: 'string' }, cli: { type: 'string', default: CLI } } });
const dir = values.out ?? mkdtempSync(join(scratchDir(), 'prof-'));
const em = await emulator();
const sc = await startSidecar('profiled-sidecar', em, { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '100'], cli: values.cli });
const req = appServiceRequest(sc);
const res = await load({ ...req, connections: Number(values.connections), duration: Number(values.seconds), warmupSeconds: 1 });
await sc.stop();
await em.close();
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no profile written in ${dir}`);
console.log(JSON.stringify({ rps: Math.round(res.rps), p99Ms: res.p99, profile: join(dir, file), ...summarise(join(dir, file), { top: Number(values.top) }) }, null, 1));
