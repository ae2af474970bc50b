// Row 9's clients, run as their own process so the CPU counted is the client's only (the
// emulator answering them runs in the bench process):
//   sidecar  one refresh as the sidecar does it: the build's msal-node exchange (a fresh read of
//            the service-account token, the client-credential request through EntraTransport),
//            the token files written atomically, and the metrics the sidecar updates per refresh
//   exchange the msal-node exchange alone (to split the sidecar's figure: msal-node vs files + metrics)
//   fetch    the same HTTPS token request with plain fetch: read the service-account token, POST
//            the same form, parse the JSON answer
// Both run sequentially, warm-up first, then `count` timed operations; process.cpuUsage() (user +
// system, every thread) over the timed ones, per operation, printed as one JSON line.
//   node refresh-cpu.mjs <sidecar|exchange|fetch> <build dir> <token dir> <warmup> <count>
// Environment: AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_AUTHORITY_HOST, AZURE_FEDERATED_TOKEN_FILE,
// NODE_EXTRA_CA_CERTS (as a sidecar gets them).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, build, tokenDir, warmupArg, countArg] = process.argv.slice(2);
const warmup = Number(warmupArg);
const count = Number(countArg);
const SCOPE = 'https://storage.azure.com/.default';
const env = process.env;
const host = env.AZURE_AUTHORITY_HOST.replace(/\/+$/, '');
const tokenUrl = `${host}/${env.AZURE_TENANT_ID}/oauth2/v2.0/token`;
const load = (rel) => import(pathToFileURL(join(build, rel)).href);

let op;
let close = () => undefined;
if (mode === 'sidecar' || mode === 'exchange') {
  const { createExchange } = await load('identity/exchange.js');
  const { writeTokenFiles } = await load('sidecar/token-files.js');
  const { SidecarMetrics } = await load('sidecar/metrics.js');
  const metrics = new SidecarMetrics();
  const exchange = createExchange({
    clientId: env.AZURE_CLIENT_ID,
    tenantId: env.AZURE_TENANT_ID,
    authorityHost: host,
    credential: { kind: 'federated', tokenFile: env.AZURE_FEDERATED_TOKEN_FILE, setting: 'AZURE_FEDERATED_TOKEN_FILE' },
    timeoutMs: 10_000,
  });
  close = () => exchange.close();
  // what main.ts does per successful refresh (events.refreshed and trackAssertion)
  op =
    mode === 'exchange'
      ? () => exchange(SCOPE)
      : async () => {
          const t0 = Date.now();
          const token = await exchange(SCOPE);
          const exp = exchange.lastAssertion()?.exp;
          if (exp !== undefined) metrics.federatedTokenExpiry.set(exp);
          metrics.refreshes.labels('storage', 'success').inc();
          metrics.refreshDuration.labels('storage').observe((Date.now() - t0) / 1000);
          metrics.tokenExpiry.labels('storage').set(Math.floor(token.expiresOnMs / 1000));
          metrics.tokensHeld.set(1);
          await writeTokenFiles(tokenDir, 'storage', token, 0o644);
        };
} else if (mode === 'fetch') {
  op = async () => {
    const assertion = (await readFile(env.AZURE_FEDERATED_TOKEN_FILE, 'utf8')).trim();
    const body = new URLSearchParams({
      client_id: env.AZURE_CLIENT_ID,
      scope: SCOPE,
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    const res = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' }, body });
    const json = await res.json();
    if (res.status !== 200 || typeof json.access_token !== 'string') throw new Error(`token request answered ${res.status}`);
  };
} else {
  throw new Error(`unknown mode ${mode}: sidecar, exchange or fetch`);
}

for (let i = 0; i < warmup; i++) await op();
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
for (let i = 0; i < count; i++) await op();
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - wall0;
close();
process.stdout.write(
  `${JSON.stringify({ event: 'result', mode, count, cpuUsPerOp: (cpu.user + cpu.system) / count, userUsPerOp: cpu.user / count, systemUsPerOp: cpu.system / count, wallMsPerOp: wallMs / count })}\n`,
);
