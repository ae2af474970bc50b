// Row 7: webhook admission throughput and p99 at 10 connections with a realistic AdmissionReview
// (a Deployment's pod: 2 containers, 1 init container; test/fixtures/admission-review.json) —
// `entra-sidecar webhook` with file TLS and a fake API server, against a bare HTTPS server
// answering the webhook's own response to that review (same certificate, same bytes), made to
// read and JSON.parse each review first: the least any webhook does. Also p99 at a steady 50
// admissions/s (what a busy API server sends) against the same baseline, and, reported beside
// them, the old baseline that answers without reading the request.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { resultLine } from '../lib/context.mjs';
import { startFakeKubeApi } from '../lib/fake-kube-api.mjs';
import { load } from '../lib/load.mjs';
import { BENCH_DIR, BUILD, CLI, REPO, scratchDir } from '../lib/paths.mjs';
import { startProcess } from '../lib/proc.mjs';
import { median, ratio, round } from '../lib/stats.mjs';
import { loopbackTls } from '../lib/tls.mjs';

const REVIEW = join(REPO, 'test', 'fixtures', 'admission-review.json');
const CLIENT_ID = '22222222-2222-4222-8222-222222222222';
const TENANT_ID = '11111111-1111-4111-8111-111111111111';
/** Admissions per second a busy API server sends, for the latency-at-steady-rate figure. */
const STEADY_RATE = 50;

/**
 * Starts `entra-sidecar webhook` (file TLS, a fake API server holding the review's
 * ServiceAccount) and checks it mutates the review. Returns its URL, the review, its first
 * answer, the TLS files, the process and a stop().
 */
export async function startWebhookUnderTest({ nodeArgs = [], cli = CLI } = {}) {
  const dir = scratchDir();
  const review = readFileSync(REVIEW, 'utf8');
  const { namespace, object } = JSON.parse(review).request;
  const api = await startFakeKubeApi(dir, { [`${namespace}/${object.spec.serviceAccountName}`]: { 'azure.workload.identity/client-id': CLIENT_ID } });
  const tls = loopbackTls();
  const certFile = join(dir, 'webhook.crt');
  const keyFile = join(dir, 'webhook.key');
  writeFileSync(certFile, tls.certPem);
  writeFileSync(keyFile, tls.keyPem);
  const webhook = startProcess(
    'webhook',
    process.execPath,
    [
      ...nodeArgs,
      cli,
      'webhook',
      '--listen',
      '127.0.0.1:0',
      '--health-listen',
      '127.0.0.1:0',
      '--tls-cert-file',
      certFile,
      '--tls-key-file',
      keyFile,
      '--default-tenant-id',
      TENANT_ID,
      '--sidecar-image',
      'ghcr.io/example/entra-sidecar:0.1.0',
    ],
    { env: { PATH: process.env.PATH, KUBECONFIG: api.kubeconfigPath, POD_NAMESPACE: 'entra-system' }, logDir: dir },
  );
  const stop = async () => {
    await webhook.stop();
    await api.close();
  };
  try {
    const ready = await webhook.waitForLine((l) => l.msg === 'webhook ready');
    const port = Number(String(ready.listen).split(':').pop());
    const healthPort = Number(String(ready.health).split(':').pop());
    /** a counter of the webhook's /metrics */
    const metric = async (name) => {
      const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
      return Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1] ?? Number.NaN);
    };
    const url = `https://127.0.0.1:${port}/mutate`;
    const first = await post(url, review, tls.caPem);
    const answer = JSON.parse(first.body);
    if (first.status !== 200 || answer.response?.allowed !== true || !answer.response?.patch)
      throw new Error(`the webhook did not mutate the review: ${first.status} ${first.body.slice(0, 300)}`);
    return { url, review, first, answer, certFile, keyFile, webhook, api, stop, metric };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function run(ctx) {
  if (!existsSync(join(BUILD, 'webhook', 'main.js'))) return { skipped: 'the webhook is not built' };
  const runs = ctx.quick ? 1 : ctx.runs;
  const duration = ctx.quick ? 2 : 6;
  const warmup = ctx.quick ? 0.5 : 1;
  const steadySeconds = ctx.quick ? 4 : 20;
  const dir = scratchDir();
  const w = await startWebhookUnderTest();
  let bare;
  let parsing;
  try {
    const { url, review, first, answer } = w;
    const headers = { 'content-type': 'application/json' };
    const answerFile = join(dir, 'row7-answer.json');
    writeFileSync(answerFile, JSON.stringify({ status: 200, headers: { 'content-type': first.headers['content-type'] }, body: first.body }));
    bare = startProcess('row7-bare-https', process.execPath, [join(BENCH_DIR, 'servers', 'bare-https.mjs'), answerFile, w.certFile, w.keyFile], {
      logDir: dir,
    });
    parsing = startProcess(
      'row7-bare-https-parse',
      process.execPath,
      [join(BENCH_DIR, 'servers', 'bare-https.mjs'), answerFile, w.certFile, w.keyFile, '--parse'],
      { logDir: dir },
    );
    const barePort = (await bare.waitForLine((l) => l.event === 'ready')).port;
    const parsePort = (await parsing.waitForLine((l) => l.event === 'ready')).port;
    const servers = [
      { key: 'webhook', url },
      { key: 'bare', url: `https://127.0.0.1:${barePort}/mutate` },
      { key: 'parse', url: `https://127.0.0.1:${parsePort}/mutate` },
    ];
    const samples = { webhook: [], bare: [], parse: [] };
    const distinctSamples = { webhook: [], parse: [] };
    const steady = { webhook: [], parse: [] };
    const replicas = reviewStream(review, false);
    const distinct = reviewStream(review, true);
    for (let r = 0; r < runs; r++) {
      for (const s of servers.map((_, i) => servers[(i + r) % servers.length])) {
        const res = await load({ url: s.url, requests: requestsOf(headers, replicas), connections: 10, duration, warmupSeconds: warmup });
        if (res.non2xx || res.errors) throw new Error(`${s.key}: ${res.non2xx} non-2xx answers, ${res.errors} errors`);
        samples[s.key].push(res);
        ctx.log(`  row 7: ${s.key.padEnd(7)} 10 conns, replicas  ${Math.round(res.rps)} req/s  p99 ${res.p99.toFixed(2)} ms`);
      }
      // every review a pod of its own: nothing decided for a replica can be reused
      for (const key of r % 2 ? ['parse', 'webhook'] : ['webhook', 'parse']) {
        const s = servers.find((x) => x.key === key);
        const res = await load({ url: s.url, requests: requestsOf(headers, distinct), connections: 10, duration, warmupSeconds: warmup });
        if (res.non2xx || res.errors) throw new Error(`${key}, distinct pods: ${res.non2xx} non-2xx answers, ${res.errors} errors`);
        distinctSamples[key].push(res);
        ctx.log(`  row 7: ${key.padEnd(7)} 10 conns, distinct pods  ${Math.round(res.rps)} req/s  p99 ${res.p99.toFixed(2)} ms`);
      }
      // what a busy API server sends: a steady 50 admissions/s of distinct pods, latency of each
      for (const key of r % 2 ? ['parse', 'webhook'] : ['webhook', 'parse']) {
        const s = servers.find((x) => x.key === key);
        const res = await load({ url: s.url, requests: requestsOf(headers, distinct), connections: 10, overallRate: STEADY_RATE, duration: steadySeconds });
        if (res.non2xx || res.errors) throw new Error(`${key} at ${STEADY_RATE}/s: ${res.non2xx} non-2xx answers, ${res.errors} errors`);
        steady[key].push(res);
        ctx.log(`  row 7: ${key.padEnd(7)} steady ${STEADY_RATE}/s  ${res.requests} admissions  p50 ${res.p50.toFixed(2)} ms  p99 ${res.p99.toFixed(2)} ms`);
      }
    }
    const paired = (a, b, f) => median(a.map((x, i) => ratio(f(x), f(b[i]))));
    /** The admissions/s and p99 lines of one stream against the parsing baseline (paired per run). */
    const throughputLines = (id, stream, short, s, lineDetails) => {
      const rpsRatio = paired(s.webhook, s.parse, (x) => x.rps);
      const p99Ratio = paired(s.webhook, s.parse, (x) => x.p99);
      return [
        resultLine({
          id: `${id} rps`,
          what: `webhook admissions/s, 10 conns, ${stream}, vs bare HTTPS that JSON.parses each review`,
          figure: fig(s.webhook, (x) => x.rps),
          baseline: fig(s.parse, (x) => x.rps),
          ratio: round(rpsRatio),
          target: '≥ 0.6×',
          pass: rpsRatio >= 0.6,
          unit: 'req/s',
          details: lineDetails,
        }),
        resultLine({
          id: `${id} p99`,
          what: `webhook admission p99, 10 conns, ${short}, vs bare HTTPS + JSON.parse`,
          figure: fig(s.webhook, (x) => x.p99),
          baseline: fig(s.parse, (x) => x.p99),
          ratio: round(p99Ratio),
          target: '≤ 2×',
          pass: p99Ratio <= 2,
          unit: 'ms',
          details: {},
        }),
      ];
    };
    const oldRpsRatio = paired(samples.webhook, samples.bare, (x) => x.rps);
    const oldP99Ratio = paired(samples.webhook, samples.bare, (x) => x.p99);
    const parseRatio = paired(samples.parse, samples.bare, (x) => x.rps);
    const steadyRatio = paired(steady.webhook, steady.parse, (x) => x.p99);
    const fig = (list, f) => round(median(list.map(f)));
    const per = (list) => list.map((x) => ({ rps: round(x.rps), requests: x.requests, p50Ms: round(x.p50), p99Ms: round(x.p99) }));
    const details = {
      runs,
      durationSeconds: duration,
      reviewBytes: Buffer.byteLength(review),
      patchBytes: Buffer.from(answer.response.patch, 'base64').length,
      apiServerRequests: w.api.requestCount(),
      replicaAnswers: await w.metric('entra_sidecar_webhook_replica_answers_total'),
      admissions: await w.metric('entra_sidecar_webhook_admission_duration_seconds_count'),
      webhook: per(samples.webhook),
      bareParsingReview: per(samples.parse),
      bareFixedAnswer: per(samples.bare),
      bareParsingToBareRps: round(parseRatio),
    };
    return {
      lines: [
        ...throughputLines('7', 'replicas of one pod template (each review its own uid)', 'replicas', samples, details),
        ...throughputLines('7d', 'every review a pod of its own (nothing reused)', 'distinct pods', distinctSamples, {
          webhook: per(distinctSamples.webhook),
          bareParsingReview: per(distinctSamples.parse),
        }),
        resultLine({
          id: `7 p99@${STEADY_RATE}/s`,
          what: `webhook admission p99 at a steady ${STEADY_RATE}/s of distinct pods, vs bare HTTPS + JSON.parse`,
          figure: fig(steady.webhook, (x) => x.p99),
          baseline: fig(steady.parse, (x) => x.p99),
          ratio: round(steadyRatio),
          target: 'reported',
          pass: null,
          unit: 'ms',
          details: { rate: STEADY_RATE, seconds: steadySeconds, webhook: per(steady.webhook), bareParsingReview: per(steady.parse) },
        }),
        resultLine({
          id: '7 old',
          what: `webhook admissions/s vs bare HTTPS answering without reading (old baseline; p99 ${round(oldP99Ratio)}×; parsing alone: ${round(parseRatio)}×)`,
          figure: fig(samples.webhook, (x) => x.rps),
          baseline: fig(samples.bare, (x) => x.rps),
          ratio: round(oldRpsRatio),
          target: 'reported',
          pass: null,
          unit: 'req/s',
          details: { p99RatioToBare: round(oldP99Ratio), bareP99Ms: fig(samples.bare, (x) => x.p99) },
        }),
      ],
    };
  } finally {
    await Promise.all([w.stop(), bare?.stop(), parsing?.stop()]);
  }
}

/**
 * AdmissionReviews as the API server sends them, one per call: each with its own uid (the replicas
 * of one pod template: a pod made from generateName has no name at admission), and with `distinct`
 * each also a pod of its own (a label unique to it), so no answer can be reused.
 */
export function reviewStream(review, distinct) {
  const parsed = JSON.parse(review);
  const uid = parsed.request.uid;
  if (distinct) parsed.request.object.metadata.labels['bench.entra-sidecar.io/pod'] = 'bench-pod-0';
  const template = JSON.stringify(parsed);
  let n = 0;
  return () => {
    n++;
    const text = template.replace(uid, `${uid.slice(0, 24)}${n.toString(16).padStart(12, '0')}`);
    return distinct ? text.replace('"bench-pod-0"', `"bench-pod-${n}"`) : text;
  };
}

/** autocannon's request list for one POST whose body is the stream's next review. */
export function requestsOf(headers, next) {
  return [{ method: 'POST', headers, setupRequest: (req) => ({ ...req, body: next() }) }];
}

function post(url, body, ca) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: 'POST', ca, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
