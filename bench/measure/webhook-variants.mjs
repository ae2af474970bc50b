// A/B of webhook builds (e.g. an older commit's dist/cli.js against this one): each started as row 7 starts
// it (a fake API server holding the ServiceAccount), then row 7's replicas and row 7d's distinct pods at
// 10 connections in interleaved rounds; prints the median admissions/s of each build and every round's.
//   CLIS='{"old":"/abs/old/cli.js","new":"/abs/new/cli.js"}' node bench/measure/webhook-variants.mjs [rounds]
import { load } from '../lib/load.mjs';
import { requestsOf, reviewStream, startWebhookUnderTest } from '../rows/7-webhook.mjs';
const rounds = Number(process.argv[2] ?? 5);
const clis = JSON.parse(process.env.CLIS);
const hooks = [];
for (const [name, cli] of Object.entries(clis)) hooks.push({ name, w: await startWebhookUnderTest({ cli }) });
const headers = { 'content-type': 'application/json' };
const res = {};
for (const mode of ['replicas', 'distinct']) {
  for (let r = 0; r < rounds; r++)
    for (const h of r % 2 ? [...hooks].reverse() : hooks) {
      const x = await load({
        url: h.w.url,
        requests: requestsOf(headers, reviewStream(h.w.review, mode === 'distinct')),
        connections: 10,
        duration: 4,
        warmupSeconds: 1,
      });
      if (x.non2xx || x.errors) throw new Error(`${h.name} ${mode}: ${x.non2xx} non-2xx ${x.errors} errors`);
      (res[`${mode} ${h.name}`] ??= []).push(x.rps);
    }
}
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
for (const [k, v] of Object.entries(res)) console.log(k.padEnd(20), Math.round(med(v)), v.map(Math.round).join(' '));
for (const h of hooks) await h.w.stop();
process.exit(0);
