import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createAdmitter } from '../../src/webhook/admit.js';
import { loadKubeConfig } from '../../src/webhook/kube-client.js';
import { WebhookMetrics } from '../../src/webhook/metrics.js';
import { createServiceAccountLookup, kubeServiceAccountReader, ServiceAccountLookupError, type LookupErrorReason } from '../../src/webhook/service-accounts.js';
import { auditLog } from '../helpers/audit.js';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.js';
import { CLIENT_ID, env, loadPod, settings, TENANT_ID } from './pod-checks.js';
import type { Pod } from '../../src/webhook/pod.js';

let api: FakeKubeApi;
const logStream = auditLog('webhook-sa-admit');
const saGets = (ns: string, name: string) =>
  api.requests.filter((r) => r.method === 'GET' && r.path === `/api/v1/namespaces/${ns}/serviceaccounts/${name}`).length;

beforeAll(async () => {
  api = await startFakeKubeApi();
});
afterAll(async () => {
  await api.close();
  await new Promise<void>((r) => (logStream ? logStream.end(r) : r()));
});

describe('ServiceAccount lookup through @kubernetes/client-node', () => {
  it('reads a ServiceAccount and its annotations', async () => {
    api.putServiceAccount('shop', 'orders-api', { 'azure.workload.identity/client-id': CLIENT_ID });
    const reader = kubeServiceAccountReader(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath }));
    await expect(reader.read('shop', 'orders-api')).resolves.toEqual({
      namespace: 'shop',
      name: 'orders-api',
      annotations: { 'azure.workload.identity/client-id': CLIENT_ID },
    });
    await expect(reader.read('shop', 'missing')).resolves.toBeNull();
  });

  it('caches briefly and shares one request between concurrent lookups', async () => {
    api.putServiceAccount('cache', 'sa');
    const lookup = createServiceAccountLookup(kubeServiceAccountReader(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath })));
    const results = await Promise.all(Array.from({ length: 20 }, () => lookup.get('cache', 'sa')));
    expect(results.every((r) => r?.name === 'sa')).toBe(true);
    await lookup.get('cache', 'sa');
    expect(saGets('cache', 'sa')).toBe(1);
  });

  it('a found ServiceAccount is read again once the cache entry expires', async () => {
    api.putServiceAccount('ttl', 'sa', { a: '1' });
    let now = 0;
    const lookup = createServiceAccountLookup(kubeServiceAccountReader(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath })), { ttlMs: 5000, now: () => now });
    expect((await lookup.get('ttl', 'sa'))?.annotations).toEqual({ a: '1' });
    api.putServiceAccount('ttl', 'sa', { a: '2' });
    now = 4000;
    expect((await lookup.get('ttl', 'sa'))?.annotations).toEqual({ a: '1' });
    now = 5001;
    expect((await lookup.get('ttl', 'sa'))?.annotations).toEqual({ a: '2' });
  });

  it('waits for a ServiceAccount created just after the pod (within 2 s)', async () => {
    api.putServiceAccount('race', 'late', { 'entra-sidecar.io/client-id': CLIENT_ID }, 600);
    const lookup = createServiceAccountLookup(kubeServiceAccountReader(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath })));
    const sa = await lookup.get('race', 'late');
    expect(sa?.annotations).toEqual({ 'entra-sidecar.io/client-id': CLIENT_ID });
    expect(saGets('race', 'late')).toBeGreaterThan(1);
  });

  it('gives up after the grace period: null, and a not_found error for metrics', async () => {
    const errors: LookupErrorReason[] = [];
    const lookup = createServiceAccountLookup(kubeServiceAccountReader(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath })), {
      graceMs: 600,
      onError: (r) => errors.push(r),
    });
    await expect(lookup.get('none', 'ghost')).resolves.toBeNull();
    expect(errors).toEqual(['not_found']);
    expect(saGets('none', 'ghost')).toBeGreaterThan(1);
  });

  it('fails fast when forbidden, naming the RBAC fix', async () => {
    api.putServiceAccount('rbac', 'sa');
    api.addFault({ pathPrefix: '/api/v1/namespaces/rbac/serviceaccounts/sa', status: 403 });
    const errors: LookupErrorReason[] = [];
    const lookup = createServiceAccountLookup(kubeServiceAccountReader(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath })), { onError: (r) => errors.push(r) });
    const err = await lookup.get('rbac', 'sa').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceAccountLookupError);
    expect((err as ServiceAccountLookupError).reason).toBe('forbidden');
    expect((err as Error).message).toContain('not allowed to get serviceaccounts');
    expect(errors).toEqual(['forbidden']);
    expect(saGets('rbac', 'sa')).toBe(1);
  });

  it('retries a transient API error (500) within the grace period', async () => {
    api.putServiceAccount('flaky', 'sa', { x: 'y' });
    api.addFault({ pathPrefix: '/api/v1/namespaces/flaky/serviceaccounts/sa', status: 500, times: 2 });
    const lookup = createServiceAccountLookup(kubeServiceAccountReader(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath })));
    expect((await lookup.get('flaky', 'sa'))?.annotations).toEqual({ x: 'y' });
    expect(saGets('flaky', 'sa')).toBe(3);
  });

  it('bounds each request: a hanging API server is a timeout', async () => {
    api.putServiceAccount('slow', 'sa');
    api.addFault({ pathPrefix: '/api/v1/namespaces/slow/serviceaccounts/sa', hangMs: 3000 });
    const reader = kubeServiceAccountReader(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath }), 200);
    const err = await reader.read('slow', 'sa').catch((e: unknown) => e);
    expect((err as ServiceAccountLookupError).reason).toBe('timeout');
  });

  it('reports rejected credentials as unauthorized', async () => {
    const path = `${api.kubeconfigPath}-badtoken`;
    writeFileSync(path, readFileSync(api.kubeconfigPath, 'utf8').replace(api.token, 'wrong-token'));
    const err = await kubeServiceAccountReader(loadKubeConfig({ KUBECONFIG: path }))
      .read('shop', 'orders-api')
      .catch((e: unknown) => e);
    expect((err as ServiceAccountLookupError).reason).toBe('unauthorized');
  });
});

describe('admission with the real lookup', () => {
  const log = createLogger('debug', 'webhook', logStream);
  const review = (pod: Pod, namespace: string) => ({
    uid: 'u1',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    operation: 'CREATE',
    namespace,
    object: pod,
  });

  it('pod annotations win over the ServiceAccount, which wins over the webhook default', async () => {
    api.putServiceAccount('prec', 'app', {
      'entra-sidecar.io/client-id': CLIENT_ID,
      'azure.workload.identity/client-id': 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
      'entra-sidecar.io/tenant-id': TENANT_ID,
    });
    const admit = createAdmitter({
      settings: settings({ defaultTenantId: 'fabrikam.onmicrosoft.com' }),
      serviceAccounts: createServiceAccountLookup(kubeServiceAccountReader(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath }))),
      log,
    });
    const pod = loadPod('job-pod');
    pod.spec.serviceAccountName = 'app';
    const { review: r1, result } = await admit.request(review(pod, 'prec'));
    expect(result).toBe('injected');
    const ops = JSON.parse(Buffer.from(r1.response.patch as string, 'base64').toString()) as Array<{ path: string; value: any }>;
    const sidecar = ops.find((o) => o.path === '/spec/initContainers')?.value?.[0] ?? ops.find((o) => o.path === '/spec/initContainers/0')?.value;
    expect(env(sidecar).AZURE_CLIENT_ID).toBe(CLIENT_ID);
    expect(env(sidecar).AZURE_TENANT_ID).toBe(TENANT_ID);

    pod.metadata!.annotations!['entra-sidecar.io/client-id'] = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
    const { review: r2 } = await admit.request(review(pod, 'prec'));
    const ops2 = JSON.parse(Buffer.from(r2.response.patch as string, 'base64').toString()) as Array<{ path: string; value: any }>;
    const sidecar2 = ops2.find((o) => o.path === '/spec/initContainers')?.value?.[0];
    expect(env(sidecar2).AZURE_CLIENT_ID).toBe('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa');
  });

  it('a missing ServiceAccount → denied, naming it; counted as a lookup error', async () => {
    const metrics = new WebhookMetrics('test');
    const admit = createAdmitter({
      settings: settings(),
      serviceAccounts: createServiceAccountLookup(kubeServiceAccountReader(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath })), {
        graceMs: 300,
        onError: (r) => metrics.lookupError(r),
      }),
      log,
    });
    const pod = loadPod('deployment-pod');
    const { review: r, result } = await admit.request(review(pod, 'nowhere'));
    expect(result).toBe('denied');
    expect(r.response.allowed).toBe(false);
    expect(r.response.status?.code).toBe(400);
    expect(r.response.status?.message).toContain('ServiceAccount nowhere/orders-api was not found');
    expect(await metrics.registry.getSingleMetricAsString('entra_sidecar_webhook_serviceaccount_lookup_errors_total')).toContain('reason="not_found"} 1');
  });

  it('an API failure → not allowed, with code 500 and the reason (try again)', async () => {
    api.putServiceAccount('down', 'orders-api');
    api.addFault({ pathPrefix: '/api/v1/namespaces/down/', status: 403 });
    const admit = createAdmitter({
      settings: settings(),
      serviceAccounts: createServiceAccountLookup(kubeServiceAccountReader(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath }))),
      log,
    });
    const { review: r, result } = await admit.request(review(loadPod('deployment-pod'), 'down'));
    expect(result).toBe('error');
    expect(r.response.status).toEqual({ code: 500, message: expect.stringContaining('could not read ServiceAccount down/orders-api') });
  });

  it('a reinvocation reads the ServiceAccount again, to check the sidecar against what it would inject now, and adds nothing', async () => {
    api.putServiceAccount('reinv', 'orders-api', { 'azure.workload.identity/client-id': CLIENT_ID, 'azure.workload.identity/tenant-id': TENANT_ID });
    const admit = createAdmitter({
      settings: settings(),
      serviceAccounts: createServiceAccountLookup(kubeServiceAccountReader(loadKubeConfig({ KUBECONFIG: api.kubeconfigPath })), { ttlMs: 0 }),
      log,
    });
    const pod = loadPod('deployment-pod');
    const first = await admit.request(review(pod, 'reinv'));
    const { applyJsonPatch } = await import('./pod-checks.js');
    const injected = applyJsonPatch(pod, JSON.parse(Buffer.from(first.review.response.patch as string, 'base64').toString()));
    const before = saGets('reinv', 'orders-api');
    const second = await admit.request(review(injected, 'reinv'));
    expect(second.result).toBe('skipped');
    expect(second.review.response).toEqual({ uid: 'u1', allowed: true });
    expect(saGets('reinv', 'orders-api')).toBe(before + 1);
  });
});
