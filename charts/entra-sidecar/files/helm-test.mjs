// `helm test`: the webhook answers through its Service. Runs in the entra-sidecar image (Node.js,
// no dependencies) and checks, in order:
//   1. GET  WEBHOOK_HEALTH_URL (/healthz, plain HTTP) answers 200;
//   2. POST WEBHOOK_MUTATE_URL (/mutate, HTTPS) with a dry-run AdmissionReview for a pod that did
//      not opt in answers an AdmissionReview with the same uid, allowed, and no patch — over TLS
//      verified against the webhook's CA (WEBHOOK_CA_BUNDLE, base64 PEM, or the file WEBHOOK_CA_FILE)
//      for the Service's DNS name WEBHOOK_SERVER_NAME.
// Prints one line per check; exits 1 with the reason on the first failure.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { existsSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

const TIMEOUT_MS = 10_000;

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function send(url, options, body) {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(target, { ...options, timeout: TIMEOUT_MS }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${target.origin} within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end(body);
  });
}

function webhookCa() {
  const bundle = process.env.WEBHOOK_CA_BUNDLE;
  if (bundle) return Buffer.from(bundle, 'base64').toString('utf8');
  const file = process.env.WEBHOOK_CA_FILE;
  if (file && existsSync(file) && readFileSync(file, 'utf8').includes('BEGIN CERTIFICATE')) return readFileSync(file, 'utf8');
  throw new Error(
    `no CA to verify the webhook's certificate: ${file ?? 'WEBHOOK_CA_FILE'} is missing or empty ` +
      '(self-managed TLS: the webhook has not written its Secret yet; check the webhook pods\' logs)',
  );
}

async function checkHealth() {
  const url = env('WEBHOOK_HEALTH_URL');
  const res = await send(url, { method: 'GET' });
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${res.body.slice(0, 200)}`);
  console.log(`ok: GET ${url} answered 200`);
}

async function checkAdmission() {
  const url = env('WEBHOOK_MUTATE_URL');
  const uid = randomUUID();
  const review = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'default',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:helm-test', groups: ['system:authenticated'] },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { generateName: 'entra-sidecar-helm-test-', namespace: 'default', labels: { app: 'helm-test' } },
        spec: { containers: [{ name: 'app', image: 'busybox' }] },
      },
      oldObject: null,
      dryRun: true,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
  const body = JSON.stringify(review);
  const res = await send(
    url,
    {
      method: 'POST',
      ca: webhookCa(),
      servername: env('WEBHOOK_SERVER_NAME'),
      minVersion: 'TLSv1.2',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    },
    body,
  );
  if (res.status !== 200) throw new Error(`POST ${url} answered ${res.status}: ${res.body.slice(0, 300)}`);
  let answer;
  try {
    answer = JSON.parse(res.body);
  } catch {
    throw new Error(`POST ${url} answered with something that is not JSON: ${res.body.slice(0, 200)}`);
  }
  const response = answer?.response;
  if (answer?.kind !== 'AdmissionReview' || answer?.apiVersion !== 'admission.k8s.io/v1') {
    throw new Error(`POST ${url} answered ${answer?.apiVersion}/${answer?.kind}, not admission.k8s.io/v1 AdmissionReview`);
  }
  if (response?.uid !== uid) throw new Error(`the AdmissionReview answer has uid ${response?.uid}, not the request's ${uid}`);
  if (response.allowed !== true) throw new Error(`a pod that did not opt in was not allowed: ${JSON.stringify(response.status ?? {})}`);
  if (response.patch !== undefined) throw new Error('a pod that did not opt in was patched');
  console.log(`ok: POST ${url} allowed a pod that did not opt in, unchanged (TLS verified for ${env('WEBHOOK_SERVER_NAME')})`);
}

try {
  await checkHealth();
  await checkAdmission();
  console.log('entra-sidecar webhook answers');
} catch (err) {
  console.error(`FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
