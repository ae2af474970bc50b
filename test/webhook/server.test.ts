import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent, createServer as createHttpsServer, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseListen } from '../../src/config/options.js';
import { createLogger } from '../../src/log.js';
import { createCertificateAuthority, issueServingCertificate, type CertificateAuthority } from '../../src/webhook/certificates.js';
import { loadKubeConfig } from '../../src/webhook/kube-client.js';
import { startWebhook, type RunningWebhook } from '../../src/webhook/main.js';
import type { WebhookSettings } from '../../src/webhook/settings.js';
import { DEFAULT_SIDECAR_SETTINGS } from '../../src/webhook/settings.js';
import { auditLog, recordSecret } from '../helpers/audit.js';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.js';
import { podArbitrary } from './arbitraries.js';
import { applyJsonPatch, assertValidPod, byName, CLIENT_ID, env, FIXTURES, loadPod, TENANT_ID } from './pod-checks.js';
import type { Pod } from '../../src/webhook/pod.js';

let api: FakeKubeApi;
let webhook: RunningWebhook;
let ca: CertificateAuthority;
let dir: string;
const logStream = auditLog('webhook-server');
/** The webhook's log lines, kept for the tests that wait for what it says (and still audited). */
const logLines: string[] = [];
const logTee = {
  write(line: string): void {
    logLines.push(line);
    logStream?.write(line);
  },
};
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

async function writeServingPair(): Promise<{ cert: string; key: string }> {
  const pair = await issueServingCertificate(ca, ['localhost'], 30, new Date());
  return pair;
}

beforeAll(async () => {
  api = await startFakeKubeApi({ version: { major: '1', minor: '31', gitVersion: 'v1.31.9' } });
  for (const [ns, name] of [
    ['shop', 'orders-api'],
    ['batch', 'exporter'],
    ['ns', 'app'],
    ['ns', 'default'],
  ]) {
    api.putServiceAccount(ns as string, name as string, { 'azure.workload.identity/client-id': CLIENT_ID, 'azure.workload.identity/tenant-id': TENANT_ID });
  }
  dir = mkdtempSync(join(tmpdir(), 'webhook-tls-'));
  ca = await createCertificateAuthority('test-ca', 30, new Date());
  const pair = await writeServingPair();
  writeFileSync(join(dir, 'tls.crt'), pair.cert);
  writeFileSync(join(dir, 'tls.key'), pair.key);
  const settings: WebhookSettings = {
    listen: parseListen('127.0.0.1:0', 'listen'),
    healthListen: parseListen('127.0.0.1:0', 'health'),
    tls: { kind: 'files', certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
    logLevel: 'debug',
    sidecar: { ...DEFAULT_SIDECAR_SETTINGS, image: 'ghcr.io/entra-sidecar/entra-sidecar:0.1.0' },
  };
  webhook = await startWebhook(settings, {
    kubeConfig: loadKubeConfig({ KUBECONFIG: api.kubeconfigPath }),
    log: createLogger('debug', 'webhook', logTee),
    tlsPollIntervalMs: 200,
  });
});

afterAll(async () => {
  agent.destroy();
  await webhook?.close();
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
  await new Promise<void>((r) => (logStream ? logStream.end(r) : r()));
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

function post(path: string, body: string | Buffer, method = 'POST'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: webhook.port,
        path,
        method,
        ca: ca.cert,
        servername: 'localhost',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function healthGet(path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port: webhook.healthPort, path }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    })
      .on('error', reject)
      .end();
  });
}

function review(pod: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const p = pod as Pod;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: p?.metadata?.namespace ?? 'ns',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: 'a1', groups: ['system:serviceaccounts', 'system:authenticated'] },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
      ...overrides,
    },
  };
}

/** Records every identity-header value found anywhere in a value (so the log audit looks for it). */
function recordHeaders(v: unknown): void {
  if (Array.isArray(v)) v.forEach(recordHeaders);
  else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ((o.name === 'IDENTITY_HEADER' || o.name === 'ENTRA_SIDECAR_IDENTITY_HEADER') && typeof o.value === 'string') recordSecret(o.value);
    Object.values(o).forEach(recordHeaders);
  }
}

function decodePatch(r: Reply): any[] {
  const ops = JSON.parse(Buffer.from(r.json.response.patch, 'base64').toString()) as any[];
  recordHeaders(ops);
  return ops;
}

async function metric(name: string): Promise<string> {
  const { text } = await healthGet('/metrics');
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

describe('HTTPS admission end to end', () => {
  it('the fixture AdmissionReview file is answered with a JSONPatch that yields a valid pod', async () => {
    const body = readFileSync(join(FIXTURES, 'admission-review.json'));
    const r = await post('/mutate?timeout=5s', body);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.json.apiVersion).toBe('admission.k8s.io/v1');
    expect(r.json.kind).toBe('AdmissionReview');
    const sent = JSON.parse(body.toString());
    expect(r.json.response.uid).toBe(sent.request.uid);
    expect(r.json.response.allowed).toBe(true);
    expect(r.json.response.patchType).toBe('JSONPatch');
    const pod = applyJsonPatch(sent.request.object as Pod, decodePatch(r));
    assertValidPod(pod);
    expect(byName(pod, 'entra-sidecar')).toBeDefined();
  });

  it('replicas of the fixture (the same review, each its own uid): from the third on answered as the second was, each with its uid and its own identity header', async () => {
    const sent = JSON.parse(readFileSync(join(FIXTURES, 'admission-review.json'), 'utf8'));
    sent.request.object.metadata.labels.test = 'replicas'; // a template no other test sends
    const text = JSON.stringify(sent);
    const reused = Number(await metric('entra_sidecar_webhook_replica_answers_total').then((l) => l.split(' ')[1]));
    const uids = [1, 2, 3, 4].map((n) => `${sent.request.uid.slice(0, 24)}${String(n).padStart(12, '0')}`);
    const replies = [];
    for (const u of uids) replies.push(await post('/mutate', text.replace(sent.request.uid, u)));
    expect(await metric('entra_sidecar_webhook_replica_answers_total')).toBe(`entra_sidecar_webhook_replica_answers_total ${reused + 2}`);
    const headers = replies.map((r, i) => {
      expect(r.status).toBe(200);
      expect(r.json.response.uid).toBe(uids[i]);
      const pod = applyJsonPatch(sent.request.object as Pod, decodePatch(r));
      assertValidPod(pod);
      return env(byName(pod, 'entra-sidecar')).ENTRA_SIDECAR_IDENTITY_HEADER;
    });
    expect(new Set(headers).size).toBe(4);
    // the same answer but for the uid and the header
    const strip = (r: Reply, i: number) => JSON.stringify(decodePatch(r)).replaceAll(headers[i] as string, 'H');
    expect(strip(replies[3] as Reply, 3)).toBe(strip(replies[1] as Reply, 1));
  });

  it('uses the mode read from the API server version (1.31 → container)', async () => {
    expect(webhook.settings.mode).toBe('container');
    const pod = loadPod('deployment-pod');
    const r = await post('/mutate?timeout=5s', JSON.stringify(review(pod)));
    const patched = applyJsonPatch(pod, decodePatch(r));
    expect(patched.spec.containers[0]?.name).toBe('entra-sidecar');
    expect(patched.spec.initContainers?.[0]?.name).toBe('entra-sidecar-init');
    expect(env(byName(patched, 'api')).IDENTITY_HEADER).toBe(env(byName(patched, 'entra-sidecar')).ENTRA_SIDECAR_IDENTITY_HEADER);
  });

  it('answers a dryRun request the same way', async () => {
    const r = await post('/mutate', JSON.stringify(review(loadPod('job-pod'), { dryRun: true })));
    expect(r.json.response.allowed).toBe(true);
    const ops = decodePatch(r);
    expect(ops.some((o) => o.path === '/spec/initContainers' && o.value[0].name === 'entra-sidecar-init')).toBe(true);
  });

  it('denies with a message the API server shows to the user', async () => {
    const r = await post('/mutate', JSON.stringify(review(loadPod('host-network-pod'))));
    expect(r.status).toBe(200);
    expect(r.json.response).toEqual({
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      allowed: false,
      status: { code: 400, message: expect.stringContaining('hostNetwork') },
    });
  });

  it('allows other kinds, other operations and pods that do not opt in, without a patch', async () => {
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: {} };
    for (const body of [
      review(deployment, { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }),
      review(loadPod('deployment-pod'), { operation: 'UPDATE', oldObject: loadPod('deployment-pod') }),
      review(loadPod('deployment-pod'), { operation: 'CREATE', subResource: 'binding' }),
      review(loadPod('not-opted-in-pod')),
    ]) {
      const r = await post('/mutate', JSON.stringify(body));
      expect(r.status).toBe(200);
      expect(r.json.response).toEqual({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
    }
  });

  it('rejects malformed JSON, a wrong apiVersion or kind with 400 and a JSON Status', async () => {
    const cases: Array<[string, string]> = [
      ['{"apiVersion": ', 'not valid JSON'],
      [JSON.stringify({ ...review(loadPod('deployment-pod')), apiVersion: 'admission.k8s.io/v1beta1' }), 'admissionReviewVersions'],
      [JSON.stringify({ ...review(loadPod('deployment-pod')), kind: 'Pod' }), 'kind must be AdmissionReview'],
      [JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), 'request must be an object'],
      [JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '' } }), 'request.uid'],
      ['[]', 'AdmissionReview object'],
    ];
    for (const [body, message] of cases) {
      const r = await post('/mutate', body);
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'BadRequest', code: 400 });
      expect(r.json.message).toContain(message);
    }
  });

  it('a Pod CREATE whose object is not a pod is refused in the review, not with a crash', async () => {
    const r = await post('/mutate', JSON.stringify(review({ spec: { containers: 'nope' } })));
    expect(r.status).toBe(200);
    expect(r.json.response.allowed).toBe(false);
    expect(r.json.response.status.message).toContain('spec.containers must be a list');
  });

  it('answers 413 to a body over 1 MiB, and keeps serving', async () => {
    const big = JSON.stringify(review({ ...loadPod('deployment-pod'), padding: 'x'.repeat(1024 * 1024) }));
    const r = await post('/mutate', big);
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject({ kind: 'Status', code: 413, reason: 'RequestEntityTooLarge' });
    const ok = await post('/mutate', JSON.stringify(review(loadPod('not-opted-in-pod'))));
    expect(ok.status).toBe(200);
  });

  it('answers other paths with 404 and other methods with 405, in JSON', async () => {
    const a = await post('/validate', '{}');
    expect(a.status).toBe(404);
    expect(a.json.message).toContain('POST /mutate');
    const b = await post('/mutate', '', 'GET');
    expect(b.status).toBe(405);
    expect(b.headers.allow).toBe('POST');
  });

  it('refuses TLS 1.1 (which a TLS 1.1 server would accept from the same client) and accepts TLS 1.2', async () => {
    const tryTls = (port: number, maxVersion: 'TLSv1.1' | 'TLSv1.2') =>
      new Promise<string>((resolve) => {
        const s = connect(
          { host: '127.0.0.1', port, servername: 'localhost', ca: ca.cert, minVersion: 'TLSv1', maxVersion, ciphers: 'DEFAULT@SECLEVEL=0' },
          () => {
            resolve(s.getProtocol() ?? 'none');
            s.end();
          },
        );
        s.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
      });
    const pair = webhook.tls.current();
    const legacy = createHttpsServer({ ...pair, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (_q, s) => s.end());
    await new Promise<void>((r) => legacy.listen(0, '127.0.0.1', r));
    try {
      expect(await tryTls((legacy.address() as { port: number }).port, 'TLSv1.1')).toBe('TLSv1.1');
      expect(await tryTls(webhook.port, 'TLSv1.1')).toMatch(/^error/);
      expect(await tryTls(webhook.port, 'TLSv1.2')).toBe('TLSv1.2');
    } finally {
      legacy.close();
    }
  });

  it('serves a replaced certificate without a restart, and ignores a half-written pair', async () => {
    const served = () =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port: webhook.port, servername: 'localhost', ca: ca.cert }, () => {
          resolve(s.getPeerX509Certificate()?.fingerprint256 ?? '');
          s.end();
        });
        s.on('error', reject);
      });
    const before = await served();
    expect(before).toBe(new X509Certificate(readFileSync(join(dir, 'tls.crt'))).fingerprint256);
    const next = await writeServingPair();
    // half-written: new certificate, old key — must be ignored
    writeFileSync(join(dir, 'tls.crt.tmp'), next.cert);
    renameSync(join(dir, 'tls.crt.tmp'), join(dir, 'tls.crt'));
    // the webhook sees the new certificate with the old key, says so, and keeps serving the old pair
    await vi.waitFor(() => expect(logLines.some((l) => l.includes('new TLS files are not a valid pair yet; keeping the current certificate'))).toBe(true), {
      timeout: 10_000,
      interval: 50,
    });
    expect(await served()).toBe(before);
    writeFileSync(join(dir, 'tls.key.tmp'), next.key);
    renameSync(join(dir, 'tls.key.tmp'), join(dir, 'tls.key'));
    const expected = new X509Certificate(next.cert).fingerprint256;
    await vi.waitFor(async () => expect(await served()).toBe(expected), { timeout: 10_000, interval: 100 });
    const r = await post('/mutate', JSON.stringify(review(loadPod('not-opted-in-pod'))));
    expect(r.status).toBe(200);
  });

  it('counts admissions by result, their latency, and exposes build info and process metrics', async () => {
    const injected = Number(/result="injected"} (\d+)/.exec(await metric('entra_sidecar_webhook_admissions_total'))?.[1]);
    const count = Number(/_count (\d+)/.exec(await metric('entra_sidecar_webhook_admission_duration_seconds_count'))?.[1]);
    await post('/mutate', JSON.stringify(review(loadPod('deployment-pod'))));
    await post('/mutate', '{');
    const after = await metric('entra_sidecar_webhook_admissions_total');
    expect(after).toContain(`entra_sidecar_webhook_admissions_total{result="injected"} ${injected + 1}`);
    expect(after).toMatch(/result="error"} [1-9]/);
    expect(after).toMatch(/result="denied"} [1-9]/);
    expect(after).toMatch(/result="skipped"} [1-9]/);
    expect(await metric('entra_sidecar_webhook_admission_duration_seconds_count')).toBe(`entra_sidecar_webhook_admission_duration_seconds_count ${count + 2}`);
    expect(await metric('entra_sidecar_webhook_build_info')).toMatch(/entra_sidecar_webhook_build_info\{version="[^"]+"} 1/);
    expect(await metric('entra_sidecar_webhook_serviceaccount_lookup_errors_total')).toContain('reason="not_found"} 0');
    expect(await metric('process_cpu_user_seconds_total')).not.toBe('');
  });

  it('bounds its connections: past the limit the oldest silent ones are closed, and admissions and probes go on', async () => {
    const { ADMISSION_LIMITS } = await import('../../src/webhook/server.js');
    const { PROBE_PORT_LIMITS } = await import('../../src/http/bounded-listener.js');
    const { connect: tcpConnect } = await import('node:net');
    const flood = (port: number, count: number) =>
      Promise.all(
        Array.from(
          { length: count },
          () =>
            new Promise<import('node:net').Socket>((resolve) => {
              const s = tcpConnect(port, '127.0.0.1', () => resolve(s));
              s.on('error', () => resolve(s));
              s.on('end', () => s.destroy());
            }),
        ),
      );
    // silent connections: no TLS hello, no request head, each held open by the client
    const sockets = [
      ...(await flood(webhook.port, ADMISSION_LIMITS.maxConnections + 100)),
      ...(await flood(webhook.healthPort, PROBE_PORT_LIMITS.maxConnections + 50)),
    ];
    try {
      const r = await post('/mutate', JSON.stringify(review(loadPod('not-opted-in-pod'))));
      expect(r.status).toBe(200);
      expect((await healthGet('/healthz')).status).toBe(200);
      // the server accepts the flood on its own turns: wait for it to count what it shed
      let shed = '';
      for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((res) => setTimeout(res, 50))) {
        shed = await metric('entra_sidecar_webhook_connections_shed_total');
        const closed = sockets.filter((x) => x.destroyed || x.readableEnded).length;
        if (closed >= 150 && /listener="admission",reason="evicted"} [1-9]/.test(shed) && /listener="health",reason="evicted"} [1-9]/.test(shed)) break;
      }
      expect(shed).toMatch(/listener="admission",reason="evicted"} [1-9]/);
      expect(shed).toMatch(/listener="health",reason="evicted"} [1-9]/);
      expect(sockets.filter((s) => s.destroyed || s.readableEnded).length, 'the server closed the oldest silent connections').toBeGreaterThanOrEqual(150);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('health endpoints: /healthz and /readyz 200 while running, 404 elsewhere', async () => {
    expect((await healthGet('/healthz')).status).toBe(200);
    expect((await healthGet('/readyz')).status).toBe(200);
    expect((await healthGet('/mutate')).status).toBe(404);
  });
});

describe('random garbage bodies (fast-check)', () => {
  it('never get a 500 and never stop the server', async () => {
    const json = fc.jsonValue().map((v) => JSON.stringify(v));
    const reviewish = fc
      .record({
        apiVersion: fc.constantFrom('admission.k8s.io/v1', 'admission.k8s.io/v1beta1', 'v1', ''),
        kind: fc.constantFrom('AdmissionReview', 'Pod', ''),
        request: fc.oneof(
          fc.anything(),
          fc.record({
            uid: fc.oneof(fc.string(), fc.anything()),
            kind: fc.anything(),
            operation: fc.constantFrom('CREATE', 'UPDATE', 7),
            object: fc.anything(),
            namespace: fc.anything(),
          }),
          fc.record({
            uid: fc.uuid(),
            kind: fc.constant({ group: '', version: 'v1', kind: 'Pod' }),
            operation: fc.constant('CREATE'),
            namespace: fc.constant('ns'),
            object: podArbitrary,
          }),
        ),
      })
      .map((v) => JSON.stringify(v));
    const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a).toString('latin1'));
    const truncated = fc.tuple(reviewish, fc.nat()).map(([s, n]) => s.slice(0, n % (s.length + 1)));
    const podReview = podArbitrary.map((pod) => JSON.stringify(review({ ...pod, metadata: { ...pod.metadata, namespace: 'ns' } })));
    const statuses: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 1, arbitrary: json },
          { weight: 1, arbitrary: reviewish },
          { weight: 1, arbitrary: bytes },
          { weight: 1, arbitrary: truncated },
          { weight: 3, arbitrary: podReview },
        ),
        async (body) => {
          const r = await post('/mutate?timeout=5s', body);
          expect([200, 400]).toContain(r.status);
          expect(r.json).toBeDefined();
          const key = r.status === 200 ? (r.json.response.patch ? 'patched' : r.json.response.allowed ? 'allowed' : 'denied') : String(r.status);
          statuses[key] = (statuses[key] ?? 0) + 1;
          if (r.status === 200) {
            expect(typeof r.json.response.allowed).toBe('boolean');
            if (r.json.response.patch) assertValidPod(applyJsonPatch(JSON.parse(body).request.object as Pod, decodePatch(r)));
          }
        },
      ),
      { seed: 4242, numRuns: 300 },
    );
    // random pods often name a container entra-sidecar: those are forgeries of an injection now, denied
    expect(statuses.patched, JSON.stringify(statuses)).toBeGreaterThan(5);
    expect(statuses['400'], JSON.stringify(statuses)).toBeGreaterThan(20);
    expect(statuses.denied).toBeGreaterThan(10);
    const ok = await post('/mutate', JSON.stringify(review(loadPod('deployment-pod'))));
    expect(ok.status).toBe(200);
    expect((await healthGet('/healthz')).status).toBe(200);
  });
});
