import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATION } from '../../src/webhook/annotations.js';
import { ensureHelm } from '../chart/tools.js';
import { startControlPlane, uniqueName, type ControlPlane } from './control-plane.js';
import { installWebhook, type InstalledWebhook } from './installed-webhook.js';
import { createPod, INJECT, podManifest } from './pods.js';
import { requireControlPlane } from './toolchain.js';
import type { WebhookProcess } from './webhook-process.js';

/**
 * Self-managed TLS against the real API server (two replicas racing for the Secret and the
 * caBundle, the API server verifying the certificate by the Service's DNS name, a rotation picked
 * up), and the webhook through the API server's faults (stopped, restarted).
 */

const bins = requireControlPlane();
const helm = bins ? ensureHelm() : undefined;
const CLIENT_ID = '3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';

/** The certificate a replica serves for the Service's DNS name. */
function servedCertificate(port: number, servername: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(new X509Certificate(raw));
    });
    socket.on('error', reject);
  });
}

/** Sends an AdmissionReview straight to a replica, as the API server would. */
function review(
  port: number,
  servername: string,
  caPem: string,
  body: unknown,
): Promise<{ status: number; body: { response: { allowed: boolean; status?: { code: number; message: string } } } }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/mutate', method: 'POST', servername, ca: caPem, headers: { 'content-type': 'application/json' }, timeout: 20_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe.skipIf(!bins || !helm)('self-managed TLS and API-server faults, for real', () => {
  let cp: ControlPlane;
  let hook: InstalledWebhook;
  let apps: string;
  let a: WebhookProcess;
  let b: WebhookProcess;
  let host: string;

  beforeAll(async () => {
    cp = await startControlPlane(bins!);
    hook = await installWebhook(cp, helm!.helm, { tls: 'selfManaged', noStart: true, values: { defaultTenantId: TENANT_ID } });
    host = `${hook.fullname}.${hook.namespace}.svc`;
    apps = await cp.namespace('apps');
    await cp.serviceAccount(apps, 'api', { [ANNOTATION.clientId]: CLIENT_ID });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await cp?.stop();
  });

  async function caBundle(): Promise<string> {
    const config = await cp.must<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(
      'GET',
      `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${hook.fullname}`,
    );
    return Buffer.from(config.webhooks[0]?.clientConfig.caBundle ?? '', 'base64').toString('utf8');
  }

  it('two replicas started together agree on one CA and certificate, write the caBundle, and the API server calls each', async () => {
    expect(await caBundle()).toBe('');
    [a, b] = await Promise.all([hook.start({ route: false, name: 'webhook-a' }), hook.start({ route: false, name: 'webhook-b' })]);
    const secret = await cp.must<{ data: Record<string, string> }>('GET', `/api/v1/namespaces/${hook.namespace}/secrets/${hook.fullname}-tls`);
    const caPem = Buffer.from(secret.data['ca.crt'] ?? '', 'base64').toString('utf8');
    expect(caPem).toContain('BEGIN CERTIFICATE');
    expect(await caBundle()).toBe(caPem);
    const [certA, certB] = [await servedCertificate(a.port, host), await servedCertificate(b.port, host)];
    expect(certA.fingerprint256).toBe(certB.fingerprint256);
    expect(certA.subjectAltName).toContain(`DNS:${host}`);
    expect(certA.verify(new X509Certificate(caPem).publicKey)).toBe(true);
    for (const replica of [a, b]) {
      cp.egress.route(hook.serviceTarget, replica.port);
      const r = await createPod(cp, apps, podManifest({ serviceAccount: 'api', annotations: INJECT }));
      expect(r.status, r.text.slice(0, 400)).toBe(201);
      expect(r.body.spec.initContainers?.[0]?.name).toBe('entra-sidecar');
    }
    expect(cp.egress.log.filter((e) => e.outcome === 'refused')).toEqual([]);
  });

  it('a new serving certificate in the Secret is picked up by both replicas, and the API server keeps calling them', async () => {
    const before = (await servedCertificate(a.port, host)).fingerprint256;
    // what a replica that renewed would leave: the same CA, the serving certificate gone
    await cp.must(
      'PATCH',
      `/api/v1/namespaces/${hook.namespace}/secrets/${hook.fullname}-tls`,
      [
        { op: 'remove', path: '/data/tls.crt' },
        { op: 'remove', path: '/data/tls.key' },
      ],
      { contentType: 'application/json-patch+json' },
    );
    // each replica re-checks every 60 s: one issues the new certificate, both switch to it
    await Promise.all([
      a.waitForLog((l) => l.msg === 'serving certificate replaced', 150_000),
      b.waitForLog((l) => l.msg === 'serving certificate replaced', 150_000),
    ]);
    const [certA, certB] = [await servedCertificate(a.port, host), await servedCertificate(b.port, host)];
    expect(certA.fingerprint256).not.toBe(before);
    expect(certB.fingerprint256).toBe(certA.fingerprint256);
    cp.egress.route(hook.serviceTarget, b.port);
    const r = await createPod(cp, apps, podManifest({ serviceAccount: 'api', annotations: INJECT }));
    expect(r.status, r.text.slice(0, 400)).toBe(201);
  });

  it('with the API server stopped, a ServiceAccount lookup fails after the grace period with a retryable denial, and the webhook keeps serving', async () => {
    const caPem = await caBundle();
    await cp.serviceAccount(apps, 'fresh', { [ANNOTATION.clientId]: CLIENT_ID }); // not in the webhook's cache
    await cp.stopApiServer();
    const pod = podManifest({ name: uniqueName('direct'), serviceAccount: 'fresh', annotations: INJECT });
    const started = Date.now();
    const r = await review(a.port, host, caPem, {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'b6a4c9b2-0000-4000-8000-000000000001',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        operation: 'CREATE',
        namespace: apps,
        name: pod.metadata.name,
        object: { ...pod, metadata: { ...pod.metadata, namespace: apps } },
      },
    });
    expect(r.status).toBe(200);
    expect(r.body.response.allowed).toBe(false);
    expect(r.body.response.status?.code).toBe(500);
    expect(r.body.response.status?.message).toContain(`could not read ServiceAccount ${apps}/fresh: the API server could not be reached; try again`);
    expect(Date.now() - started).toBeLessThan(10_000); // within the API server's webhook timeout
    expect(a.proc.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${a.healthPort}/healthz`)).status).toBe(200);
    expect(await a.metrics()).toMatch(/entra_sidecar_webhook_serviceaccount_lookup_errors_total\{reason="network"\} [1-9]/);
  });

  it('after the API server restarts, the same webhook process admits again without a restart', async () => {
    await cp.startApiServer();
    cp.egress.route(hook.serviceTarget, a.port);
    const r = await createPod(cp, apps, podManifest({ serviceAccount: 'fresh', annotations: INJECT }));
    expect(r.status, r.text.slice(0, 400)).toBe(201);
    expect(r.body.spec.initContainers?.[0]?.name).toBe('entra-sidecar');
    expect(a.proc.exitCode).toBeNull();
  });
});
