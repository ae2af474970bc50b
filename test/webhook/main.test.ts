import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { createLogger } from '../../src/log.js';
import { loadKubeConfig } from '../../src/webhook/kube-client.js';
import { defaultModeForVersion, detectDefaultMode, parseKubeVersion } from '../../src/webhook/kube-version.js';
import { runWebhookCommand, WEBHOOK_HELP, type RunningWebhook } from '../../src/webhook/main.js';
import { auditLog, recordSecret } from '../helpers/audit.js';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.js';
import { applyJsonPatch, assertValidPod, CLIENT_ID, loadPod, TENANT_ID } from './pod-checks.js';

let api: FakeKubeApi;
const logStream = auditLog('webhook-main');

beforeAll(async () => {
  api = await startFakeKubeApi({ version: { major: '1', minor: '33+', gitVersion: 'v1.33.1-eks-7e1b7a3' } });
  api.putServiceAccount('shop', 'orders-api', { 'azure.workload.identity/client-id': CLIENT_ID, 'azure.workload.identity/tenant-id': TENANT_ID });
  api.putWebhookConfig('entra-sidecar', {
    webhooks: [
      {
        name: 'inject.entra-sidecar.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        clientConfig: { service: { name: 'entra-sidecar', namespace: 'entra-system', path: '/mutate', port: 443 } },
      },
    ],
  });
  api.putSecret('entra-system', 'entra-sidecar-tls');
});
afterAll(async () => {
  await api.close();
  await new Promise<void>((r) => (logStream ? logStream.end(r) : r()));
});

const ARGS = [
  '--listen',
  '127.0.0.1:0',
  '--health-listen',
  '127.0.0.1:0',
  '--tls-self-managed',
  '--tls-secret-name',
  'entra-sidecar-tls',
  '--webhook-config-name',
  'entra-sidecar',
  '--service-name',
  'entra-sidecar',
  '--sidecar-image',
  'ghcr.io/entra-sidecar/entra-sidecar:0.1.0',
];

function healthGet(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

describe('runWebhookCommand', () => {
  it('starts with self-managed TLS, admits pods over HTTPS trusted through the patched caBundle, and stops on abort', async () => {
    const stop = new AbortController();
    let running: RunningWebhook | undefined;
    const done = runWebhookCommand(
      ARGS,
      { KUBECONFIG: api.kubeconfigPath, POD_NAMESPACE: 'entra-system' },
      { signal: stop.signal, logDestination: logStream, onReady: (w) => (running = w) },
    );
    await vi.waitFor(() => expect(running).toBeDefined(), { timeout: 30_000, interval: 50 });
    const w = running as RunningWebhook;
    expect(w.settings.mode).toBe('native'); // 1.33 from the API server
    expect(await healthGet(w.healthPort, '/readyz')).toBe(200);

    const caBundle = Buffer.from(api.getWebhookConfig('entra-sidecar')?.webhooks[0].clientConfig.caBundle, 'base64').toString();
    const pod = loadPod('deployment-pod');
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'abc', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'shop', object: pod },
    });
    const reply = await new Promise<any>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: w.port, path: '/mutate?timeout=5s', method: 'POST', ca: caBundle, servername: 'entra-sidecar.entra-system.svc' },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve(JSON.parse(text)));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(reply.response.uid).toBe('abc');
    const ops = JSON.parse(Buffer.from(reply.response.patch, 'base64').toString());
    for (const m of JSON.stringify(ops).matchAll(/"(?:ENTRA_SIDECAR_)?IDENTITY_HEADER","value":"([0-9a-f]{64})"/g)) recordSecret(m[1]);
    const patched = applyJsonPatch(pod, ops);
    assertValidPod(patched);
    expect(patched.spec.initContainers?.[0]).toMatchObject({ name: 'entra-sidecar', restartPolicy: 'Always' });

    stop.abort();
    await done;
    await expect(healthGet(w.healthPort, '/healthz')).rejects.toThrow();
  });

  it('throws ConfigError for a bad setting (the CLI prints one line and exits 2)', async () => {
    await expect(runWebhookCommand([...ARGS, '--mode', 'sometimes'], { KUBECONFIG: api.kubeconfigPath, POD_NAMESPACE: 'x' })).rejects.toThrow(ConfigError);
    await expect(runWebhookCommand(ARGS, { KUBECONFIG: '/nonexistent/kubeconfig', POD_NAMESPACE: 'x' })).rejects.toThrow(
      /KUBECONFIG \(\/nonexistent\/kubeconfig\) could not be loaded/,
    );
  });

  it('a port already in use is a ConfigError naming the setting', async () => {
    const stop = new AbortController();
    let running: RunningWebhook | undefined;
    const first = runWebhookCommand(
      ARGS,
      { KUBECONFIG: api.kubeconfigPath, POD_NAMESPACE: 'entra-system' },
      { signal: stop.signal, logDestination: logStream, onReady: (w) => (running = w) },
    );
    await vi.waitFor(() => expect(running).toBeDefined(), { timeout: 30_000, interval: 50 });
    const busy = ARGS.map((a) => (a === '127.0.0.1:0' ? `127.0.0.1:${running?.healthPort}` : a));
    busy[1] = '127.0.0.1:0';
    await expect(runWebhookCommand(busy, { KUBECONFIG: api.kubeconfigPath, POD_NAMESPACE: 'entra-system' }, { logDestination: logStream })).rejects.toThrow(
      /ENTRA_WEBHOOK_HEALTH_LISTEN \(--health-listen\) could not listen on 127\.0\.0\.1:\d+: EADDRINUSE/,
    );
    stop.abort();
    await first;
  });

  it('--help prints the help and returns', async () => {
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await runWebhookCommand(['--help'], {});
      expect(spy).toHaveBeenCalledWith(`${WEBHOOK_HELP}\n`);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('default mode from the API server version', () => {
  it('parses managed clusters’ versions', () => {
    expect(parseKubeVersion({ major: '1', minor: '32' })).toEqual({ major: 1, minor: 32 });
    expect(parseKubeVersion({ major: '1', minor: '31+', gitVersion: 'v1.31.2-gke.1' })).toEqual({ major: 1, minor: 31 });
    expect(parseKubeVersion({ major: '', minor: '', gitVersion: 'v1.30.4-eks-a737599' })).toEqual({ major: 1, minor: 30 });
    expect(parseKubeVersion({ gitVersion: 'unknown' })).toBeUndefined();
    expect(defaultModeForVersion({ major: 1, minor: 31 })).toBe('container');
    expect(defaultModeForVersion({ major: 1, minor: 32 })).toBe('native');
    expect(defaultModeForVersion({ major: 2, minor: 0 })).toBe('native');
  });

  it('reads /version through client-node; falls back to container when it cannot', async () => {
    const log = createLogger('debug', 'webhook', logStream);
    const kc = loadKubeConfig({ KUBECONFIG: api.kubeconfigPath });
    expect(await detectDefaultMode(kc, log)).toBe('native');
    api.addFault({ pathPrefix: '/version', status: 500, times: 2 });
    expect(await detectDefaultMode(kc, log, 2)).toBe('container');
  });
});
