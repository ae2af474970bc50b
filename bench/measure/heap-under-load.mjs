// RSS and V8 heap spaces of one sidecar (read from its /metrics) idle, then after 50 000 and 200 000
// requests of row 4's mix with 10 s tokens (README Performance, V8 flags).
//   BENCH_SIDECAR_NODE_OPTIONS='…' MEM_EXTRA='{"ENV":"value"}' node bench/measure/heap-under-load.mjs
import { emulator } from '../lib/context.mjs';
import { load } from '../lib/load.mjs';
import { startSidecar } from '../lib/sidecar.mjs';
import { rssBytes } from '../lib/proc.mjs';
const em = await emulator({ tokenLifetimeSec: 10 });
const sc = await startSidecar('mem', em, {
  tokens: 'storage=https://storage.azure.com/.default',
  cli: process.argv[2] ?? undefined,
  extra: JSON.parse(process.env.MEM_EXTRA ?? '{}'),
});
const requests = [
  { method: 'GET', path: '/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fstorage.azure.com%2F', headers: { 'x-identity-header': sc.identityHeader } },
  { method: 'GET', path: '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com', headers: { metadata: 'true' } },
  {
    method: 'POST',
    path: '/msi/token',
    headers: { metadata: 'true', 'content-type': 'application/x-www-form-urlencoded' },
    body: 'resource=https%3A%2F%2Fstorage.azure.com%2F',
  },
];
const MB = (b) => (b / 1048576).toFixed(1);
async function snap(label) {
  const t = await (await fetch(`${sc.health}/metrics`)).text();
  const g = (re) => [...t.matchAll(re)].map((m) => `${m[1]}=${MB(Number(m[2]))}`).join(' ');
  console.log(label, 'rss', MB(rssBytes(sc.pid)), '| used', g(/^nodejs_heap_space_size_used_bytes\{space="(\w+)"\} (\S+)/gm));
  console.log('   total', g(/^nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)/gm), '| ext', g(/^nodejs_(external)_memory_bytes (\S+)/gm));
}
await snap('idle');
for (const n of [50000, 150000]) {
  await load({ url: sc.endpoint, requests, connections: 10, amount: n });
  await snap(`after +${n}`);
}
await sc.stop();
await em.close();
