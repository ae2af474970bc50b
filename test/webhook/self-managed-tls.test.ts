import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { createServer } from 'node:https';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createCertificateAuthority, issueServingCertificate, serviceDnsNames } from '../../src/webhook/certificates.js';
import { loadKubeConfig } from '../../src/webhook/kube-client.js';
import { ensureServingSecret, startSelfManagedTls, TlsObjects, type SelfManagedTlsOptions } from '../../src/webhook/self-managed-tls.js';
import { auditLog } from '../helpers/audit.js';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.js';

let api: FakeKubeApi;
const logStream = auditLog('webhook-self-managed-tls');
const log = createLogger('debug', 'webhook', logStream);
const DAY = 86_400_000;

beforeAll(async () => {
  api = await startFakeKubeApi();
});
afterAll(async () => {
  await api.close();
  await new Promise<void>((r) => (logStream ? logStream.end(r) : r()));
});

function webhookConfig(ns: string, service: string) {
  return {
    webhooks: [
      {
        name: 'inject.entra-sidecar.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        clientConfig: { service: { name: service, namespace: ns, path: '/mutate', port: 443 } },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
      },
      {
        name: 'other.example.com',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        clientConfig: { url: 'https://other.example.com/hook', caBundle: 'b3RoZXI=' },
      },
    ],
  };
}

/** One isolated setup per test: its own namespace, Secret name and webhook configuration. */
function setup(name: string, opts: { precreate?: boolean } = {}): SelfManagedTlsOptions {
  const options: SelfManagedTlsOptions = {
    namespace: `ns-${name}`,
    secretName: `${name}-tls`,
    webhookConfigName: `${name}-webhook`,
    serviceName: `${name}-svc`,
    log,
  };
  api.putWebhookConfig(options.webhookConfigName, webhookConfig(options.namespace, options.serviceName));
  if (opts.precreate !== false) api.putSecret(options.namespace, options.secretName); // the Helm chart creates it empty
  return options;
}

const secretWrites = (o: SelfManagedTlsOptions) =>
  api.requests.filter((r) => r.path.startsWith(`/api/v1/namespaces/${o.namespace}/secrets`) && r.method !== 'GET');
const storedSecret = (o: SelfManagedTlsOptions) => {
  const s = api.getSecret(o.namespace, o.secretName);
  return Object.fromEntries(Object.entries((s?.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
};
const caBundleOf = (o: SelfManagedTlsOptions) => {
  const hook = api.getWebhookConfig(o.webhookConfigName)?.webhooks?.[0];
  return hook?.clientConfig?.caBundle ? Buffer.from(hook.clientConfig.caBundle, 'base64').toString() : undefined;
};

/** Serves `pair` and checks a client trusting only `caPem` accepts it for the Service DNS name. */
async function verifiesAs(pair: { cert: string; key: string }, caPem: string, servername: string): Promise<boolean> {
  const server = createServer({ cert: pair.cert, key: pair.key }, (_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, servername, ca: caPem }, () => {
        resolve(socket.authorized);
        socket.end();
      });
      socket.on('error', () => resolve(false));
    });
  } finally {
    server.close();
  }
}

describe('self-managed TLS', () => {
  it('fills the empty Secret with a CA and serving certificate and patches caBundle (only of its own webhook)', async () => {
    const o = setup('first');
    const tls = await startSelfManagedTls(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath }), o);
    try {
      const data = storedSecret(o);
      expect(Object.keys(data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
      expect(tls.current()).toEqual({ cert: data['tls.crt'], key: data['tls.key'] });
      expect(caBundleOf(o)).toBe(data['ca.crt']);
      expect(api.getWebhookConfig(o.webhookConfigName)?.webhooks?.[1]?.clientConfig?.caBundle).toBe('b3RoZXI=');
      const cert = new X509Certificate(data['tls.crt'] as string);
      expect(cert.subjectAltName).toContain(`DNS:${o.serviceName}.${o.namespace}.svc`);
      expect(cert.subjectAltName).toContain(`DNS:${o.serviceName}.${o.namespace}.svc.cluster.local`);
      expect(await verifiesAs(tls.current(), caBundleOf(o) as string, `${o.serviceName}.${o.namespace}.svc`)).toBe(true);
      expect(await verifiesAs(tls.current(), caBundleOf(o) as string, 'elsewhere.example.com')).toBe(false);
      const patches = api.requests.filter((r) => r.method === 'PATCH');
      expect(patches.every((r) => r.contentType === 'application/json-patch+json')).toBe(true);
    } finally {
      tls.close();
    }
  });

  it('a second replica reads the existing Secret instead of making a new CA', async () => {
    const o = setup('second');
    const kc = loadKubeConfig({ KUBECONFIG: api.kubeconfigPath });
    const a = await startSelfManagedTls(kc, o);
    const writesAfterFirst = secretWrites(o).length;
    const b = await startSelfManagedTls(kc, o);
    try {
      expect(b.current()).toEqual(a.current());
      expect(b.caBundle()).toBe(a.caBundle());
      expect(secretWrites(o).length).toBe(writesAfterFirst);
    } finally {
      a.close();
      b.close();
    }
  });

  it('two replicas starting together: one writes, the other loses the race and uses the winner’s certificate', async () => {
    const o = setup('race');
    const kc = loadKubeConfig({ KUBECONFIG: api.kubeconfigPath });
    api.holdSecretReads(2); // both read the empty Secret before either writes
    const [a, b] = await Promise.all([startSelfManagedTls(kc, o), startSelfManagedTls(kc, o)]);
    try {
      const writes = secretWrites(o);
      expect(writes.filter((w) => w.status === 200)).toHaveLength(1);
      expect(writes.filter((w) => w.status === 409)).toHaveLength(1);
      expect(a.current()).toEqual(b.current());
      expect(a.current().cert).toBe(storedSecret(o)['tls.crt']);
      expect(caBundleOf(o)).toBe(storedSecret(o)['ca.crt']);
    } finally {
      a.close();
      b.close();
    }
  });

  it('creates the Secret when it does not exist (and RBAC allows create)', async () => {
    const o = setup('create', { precreate: false });
    const tls = await startSelfManagedTls(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath }), o);
    tls.close();
    expect(secretWrites(o).map((w) => `${w.method} ${w.status}`)).toEqual(['POST 201']);
    expect(storedSecret(o)['tls.crt']).toBe(tls.current().cert);
  });

  it('renews a serving certificate that expires soon, keeping the CA; the other replica picks it up on its next check', async () => {
    const o = setup('renew');
    const kc = loadKubeConfig({ KUBECONFIG: api.kubeconfigPath });
    const now = new Date();
    const ca = await createCertificateAuthority('renew-ca', 3650, now);
    const old = await issueServingCertificate(ca, serviceDnsNames(o.serviceName, o.namespace), 365, new Date(now.getTime() - 350 * DAY));
    api.putSecret(o.namespace, o.secretName, { 'ca.crt': ca.cert, 'ca.key': ca.key, 'tls.crt': old.cert, 'tls.key': old.key });
    const peerView = { ...o, renewCertBeforeDays: 1 }; // a replica that does not consider it due yet
    const peer = await startSelfManagedTls(kc, peerView);
    expect(peer.current().cert).toBe(old.cert);
    const writer = await startSelfManagedTls(kc, o);
    try {
      expect(writer.current().cert).not.toBe(old.cert);
      expect(storedSecret(o)['ca.crt']).toBe(ca.cert);
      const fresh = new X509Certificate(writer.current().cert);
      expect(new Date(fresh.validTo).getTime() - Date.now()).toBeGreaterThan(300 * DAY);
      expect(fresh.checkIssued(new X509Certificate(ca.cert))).toBe(true);
      const changed: string[] = [];
      peer.onChange((p) => changed.push(p.cert));
      await peer.refresh();
      expect(changed).toEqual([writer.current().cert]);
      expect(peer.current()).toEqual(writer.current());
    } finally {
      peer.close();
      writer.close();
    }
  });

  it('replaces a CA close to expiry and keeps the old one in caBundle until it expires', async () => {
    const o = setup('rotate-ca');
    const now = new Date();
    const oldCa = await createCertificateAuthority('old-ca', 100, new Date(now.getTime() - 10 * DAY));
    const old = await issueServingCertificate(oldCa, serviceDnsNames(o.serviceName, o.namespace), 365, now);
    api.putSecret(o.namespace, o.secretName, { 'ca.crt': oldCa.cert, 'ca.key': oldCa.key, 'tls.crt': old.cert, 'tls.key': old.key });
    const material = await ensureServingSecret(new TlsObjects(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath }), o), o);
    const bundle = material.caBundle.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    expect(bundle).toHaveLength(2);
    expect(material.caBundle.endsWith(oldCa.cert)).toBe(true);
    expect(material.pair.cert).not.toBe(old.cert);
    expect(await verifiesAs(material.pair, material.caBundle, `${o.serviceName}.${o.namespace}.svc`)).toBe(true);
  });

  it('restores caBundle when something (a helm upgrade) resets it', async () => {
    const o = setup('restore');
    const tls = await startSelfManagedTls(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath }), o);
    try {
      const reset = api.getWebhookConfig(o.webhookConfigName) as Record<string, any>;
      delete reset.webhooks[0].clientConfig.caBundle;
      api.putWebhookConfig(o.webhookConfigName, { webhooks: reset.webhooks });
      expect(caBundleOf(o)).toBeUndefined();
      await tls.refresh();
      expect(caBundleOf(o)).toBe(tls.caBundle());
    } finally {
      tls.close();
    }
  });

  it('waits (readiness stays false) while the webhook configuration is missing, and can be aborted', async () => {
    const o: SelfManagedTlsOptions = { namespace: 'ns-missing', secretName: 'x-tls', webhookConfigName: 'not-installed', serviceName: 'x', log };
    api.putSecret(o.namespace, o.secretName);
    const abort = new AbortController();
    const started = startSelfManagedTls(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath }), { ...o, signal: abort.signal });
    let settled = false;
    started.then(
      () => (settled = true),
      () => (settled = true),
    );
    // the positive signal: it has asked for the missing configuration at least twice (it keeps retrying)
    const asked = () =>
      api.requests.filter((r) => r.method === 'GET' && r.path.includes('/mutatingwebhookconfigurations/not-installed') && r.status === 404).length;
    await vi.waitFor(() => expect(asked()).toBeGreaterThanOrEqual(2), { timeout: 15_000, interval: 20 });
    expect(settled, 'not ready (startSelfManagedTls has not resolved) while the configuration is missing').toBe(false);
    abort.abort();
    await expect(started).rejects.toThrow('aborted');
    expect(storedSecret(o)['tls.crt']).toBeDefined(); // the Secret was filled; only caBundle was missing
  });
});
