// In-process cost of one admission, by stage, on the built webhook (dist/, or the build in DIST):
// JSON.parse, the mutation, the patch, the response; then whole admissions of replicas (answer
// reused; found before parsing where the build can), distinct pods and without the review's bytes
// (README Performance, row 7). Each figure is the median of ROUNDS rounds of N calls, in us.
//   npm run build && node bench/measure/admission-cost.mjs
//   DIST=/path/to/other/dist node bench/measure/admission-cost.mjs   (the same figures for another build)
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
const D = process.env.DIST ? resolve(process.env.DIST) : new URL('../../dist', import.meta.url).pathname;
const N = Number(process.env.N ?? 20000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const { parseAdmissionReview, allowPatchJson, serializeReview } = await import(`${D}/webhook/admission-review.js`);
const { mutatePod } = await import(`${D}/webhook/mutate.js`);
const { createJsonPatch, serializePatch } = await import(`${D}/webhook/patch.js`);
const { parseInjectionOptions } = await import(`${D}/webhook/annotations.js`);
const { DEFAULT_SIDECAR_SETTINGS } = await import(`${D}/webhook/settings.js`);
const { ReplicaAnswers } = await import(`${D}/webhook/replica-answers.js`);
const { createAdmitter } = await import(`${D}/webhook/admit.js`);
const { createLogger } = await import(`${D}/log.js`);
const body = readFileSync(new URL('../../test/fixtures/admission-review.json', import.meta.url), 'utf8');
const settings = {
  ...DEFAULT_SIDECAR_SETTINGS,
  image: 'ghcr.io/example/entra-sidecar:0.1.0',
  defaultTenantId: '11111111-1111-4111-8111-111111111111',
  mode: 'native',
};
const sa = { namespace: 'x', name: 'y', annotations: { 'azure.workload.identity/client-id': '22222222-2222-4222-8222-222222222222' } };
const secret = () => 'a'.repeat(64);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
function report(name, us) {
  results[name] = us;
  console.log(name.padEnd(30), us.toFixed(1), 'us');
}
function time(name, f) {
  for (let i = 0; i < 2000; i++) f();
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) f();
    rounds.push(Number(process.hrtime.bigint() - t) / 1e3 / N);
  }
  report(name, median(rounds));
}
async function timeAsync(name, f) {
  for (let i = 0; i < 2000; i++) await f();
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) await f();
    rounds.push(Number(process.hrtime.bigint() - t) / 1e3 / N);
  }
  report(name, median(rounds));
}

const compact = JSON.stringify(JSON.parse(body));
const bytes = Buffer.from(compact);
time('JSON.parse', () => JSON.parse(bytes.toString('utf8')));
const req = parseAdmissionReview(JSON.parse(body)).request;
const pod = req.object;
time('parseInjectionOptions', () => parseInjectionOptions(pod.metadata.annotations, sa, settings, pod.spec.restartPolicy));
time('mutatePod', () => mutatePod(pod, sa, settings, secret));
const out = mutatePod(pod, sa, settings, secret);
time('createJsonPatch (diff)', () => createJsonPatch(pod, out.pod));
// the patch the admitter sends: recorded by mutatePod where the build does, else the diff
const patch = out.patch ?? createJsonPatch(pod, out.pod);
time('JSON.stringify(patch)', () => JSON.stringify(patch));
// what the admitter serialises with: the sidecar's JSON built once where the build does
const toJson = serializePatch ?? JSON.stringify;
time('patch JSON (as admitted)', () => toJson(patch));
const patchJson = toJson(patch);
time('allowPatchJson (base64)', () => allowPatchJson(req.uid, patchJson, []));
const review = allowPatchJson(req.uid, patchJson, []);
time('serializeReview', () => serializeReview(review));
const keys = new ReplicaAnswers();
time('replica key (SHA-256)', () => keys.keyOf(bytes, req.uid));
console.log('patch bytes', patchJson.length, 'review bytes', bytes.length, 'operations', patch.length);

const log = createLogger('error', 'x');
const tmpl = compact;
const uid0 = req.uid;
let k = 0;
const replicaText = () => tmpl.replace(uid0, uid0.slice(0, 24) + String(++k).padStart(12, '0'));
const distinctText = () => replicaText().replace('"pod-template-hash":"', `"pod-template-hash":"${k}`);
/** what the server does with one review: hands its bytes to the admitter */
const serve = (admit, text) => admit.review(Buffer.from(text));
const admit = createAdmitter({ settings, serviceAccounts: { get: async () => sa }, log });
await timeAsync('admit replica (w/ parse)', () => serve(admit, replicaText()));
await timeAsync('admit distinct (w/ parse)', () => serve(admit, distinctText()));
await timeAsync('admit no text (w/ parse)', () => admit.request(parseAdmissionReview(JSON.parse(tmpl)).request));
const admit0 = createAdmitter({ settings, serviceAccounts: { get: async () => sa }, log, replicaAnswers: new ReplicaAnswers(0) });
await timeAsync('distinct, keep 0', () => serve(admit0, distinctText()));
await timeAsync('distinct, no text', () => admit0.request(parseAdmissionReview(JSON.parse(distinctText())).request));
if (process.env.JSON_OUT) console.log(JSON.stringify(results));
