// In-process cost of one admission, by stage, on the built webhook (dist/): JSON.parse, the mutation,
// the patch, the response; then whole admissions of replicas (answer reused), distinct pods and
// without the review's bytes (README Performance, row 7).  npm run build && node bench/measure/admission-cost.mjs
import { readFileSync } from 'node:fs';
const D = new URL('../../dist', import.meta.url).pathname;
const { parseAdmissionReview, allowResponse } = await import(`${D}/webhook/admission-review.js`);
const { mutatePod } = await import(`${D}/webhook/mutate.js`);
const { createJsonPatch } = await import(`${D}/webhook/patch.js`);
const { serializeReview } = await import(`${D}/webhook/admission-review.js`);
const { parseInjectionOptions } = await import(`${D}/webhook/annotations.js`);
const { DEFAULT_SIDECAR_SETTINGS } = await import(`${D}/webhook/settings.js`);
const body = readFileSync(new URL('../../test/fixtures/admission-review.json', import.meta.url), 'utf8');
const settings = {
  ...DEFAULT_SIDECAR_SETTINGS,
  image: 'ghcr.io/example/entra-sidecar:0.1.0',
  defaultTenantId: '11111111-1111-4111-8111-111111111111',
  mode: 'native',
};
const sa = { namespace: 'x', name: 'y', annotations: { 'azure.workload.identity/client-id': '22222222-2222-4222-8222-222222222222' } };
const secret = () => 'a'.repeat(64);
function time(name, n, f) {
  for (let i = 0; i < 2000; i++) f();
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  const us = Number(process.hrtime.bigint() - t) / 1e3 / n;
  console.log(name.padEnd(24), us.toFixed(1), 'us');
  return us;
}
const N = 20000;
time('JSON.parse', N, () => JSON.parse(body));
const req = parseAdmissionReview(JSON.parse(body)).request;
const pod = req.object;
time('parseInjectionOptions', N, () => parseInjectionOptions(pod.metadata.annotations, sa, settings, pod.spec.restartPolicy));
time('mutatePod', N, () => mutatePod(pod, sa, settings, secret));
const out = mutatePod(pod, sa, settings, secret).pod;
time('createJsonPatch', N, () => createJsonPatch(pod, out));
const patch = createJsonPatch(pod, out);
time('allowResponse', N, () => allowResponse(req.uid, patch, []));
const review = allowResponse(req.uid, patch, []);
time('serializeReview', N, () => serializeReview(review));
time('all', N, () => {
  const r = parseAdmissionReview(JSON.parse(body)).request;
  const o = mutatePod(r.object, sa, settings, secret);
  const p = createJsonPatch(r.object, o.pod);
  serializeReview(allowResponse(r.uid, p, o.warnings));
});
console.log('patch bytes', JSON.stringify(patch).length, 'body bytes', body.length);
const { createAdmitter } = await import(`${D}/webhook/admit.js`);
const { createLogger } = await import(`${D}/log.js`);
const admit = createAdmitter({ settings, serviceAccounts: { get: async () => sa }, log: createLogger('error', 'x') });
const tmpl = JSON.stringify(JSON.parse(body));
const uid0 = JSON.parse(body).request.uid;
let k = 0;
async function timeAsync(name, n, f) {
  for (let i = 0; i < 2000; i++) await f();
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await f();
  const us = Number(process.hrtime.bigint() - t) / 1e3 / n;
  console.log(name.padEnd(24), us.toFixed(1), 'us');
}
await timeAsync('admit replica (w/ parse)', N, async () => {
  const t = tmpl.replace(uid0, uid0.slice(0, 24) + String(++k).padStart(12, '0'));
  const r = parseAdmissionReview(JSON.parse(t)).request;
  return admit(r, Buffer.from(t));
});
await timeAsync('admit distinct (w/ parse)', N, async () => {
  const t = tmpl.replace(uid0, uid0.slice(0, 24) + String(++k).padStart(12, '0')).replace('"pod-template-hash":"', `"pod-template-hash":"${k}`);
  const r = parseAdmissionReview(JSON.parse(t)).request;
  return admit(r, Buffer.from(t));
});
await timeAsync('admit no text (w/ parse)', N, async () => {
  const t = tmpl;
  const r = parseAdmissionReview(JSON.parse(t)).request;
  return admit(r);
});
const { ReplicaAnswers } = await import(`${D}/webhook/replica-answers.js`);
const admit0 = createAdmitter({ settings, serviceAccounts: { get: async () => sa }, log: createLogger('error', 'x'), replicaAnswers: new ReplicaAnswers(0) });
await timeAsync('distinct, keep 0', N, async () => {
  const t = tmpl.replace(uid0, uid0.slice(0, 24) + String(++k).padStart(12, '0')).replace('"pod-template-hash":"', `"pod-template-hash":"${k}`);
  const r = parseAdmissionReview(JSON.parse(t)).request;
  return admit0(r, Buffer.from(t));
});
await timeAsync('distinct, no text', N, async () => {
  const t = tmpl.replace(uid0, uid0.slice(0, 24) + String(++k).padStart(12, '0')).replace('"pod-template-hash":"', `"pod-template-hash":"${k}`);
  const r = parseAdmissionReview(JSON.parse(t)).request;
  return admit0(r);
});
