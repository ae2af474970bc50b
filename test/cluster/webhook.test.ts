import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SA_TOKEN_VOLUME } from '../../src/webhook/inject/volumes.js';
import { ANNOTATION, AZURE_WORKLOAD_IDENTITY, INJECTED_LABEL } from '../../src/webhook/annotations.js';
import { ensureHelm } from '../chart/tools.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { installWebhook, type InstalledWebhook } from './installed-webhook.js';
import { containersOf, createPod, envOf, getPod, INJECT, podManifest } from './pods.js';
import { ADD_CONTAINER_LABEL, LATE_CONTAINER, startSecondWebhook } from './second-webhook.js';
import { requireControlPlane } from './toolchain.js';

/**
 * Admission for real: the chart installed by helm, its MutatingWebhookConfiguration unchanged (rules,
 * matchConditions, namespaceSelector, failurePolicy, timeoutSeconds, reinvocationPolicy), the
 * webhook running with a token of the chart's ServiceAccount, pods created through the API server.
 */

const bins = requireControlPlane();
const helm = bins ? ensureHelm() : undefined;

const CLIENT_ID = '3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const WI_CLIENT_ID = '7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const EXCLUDED = 'team-infra';
const SIDECAR = 'entra-sidecar';

async function admissions(hook: InstalledWebhook): Promise<number> {
  const text = await hook.webhook.metrics();
  return [...text.matchAll(/^entra_sidecar_webhook_admissions_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

describe.skipIf(!bins || !helm)('the webhook on a real API server', () => {
  let cp: ControlPlane;
  let hook: InstalledWebhook;
  let apps: string;

  beforeAll(async () => {
    cp = await startControlPlane(bins!);
    hook = await installWebhook(cp, helm!.helm, { values: { defaultTenantId: TENANT_ID, 'webhook.namespaceSelector.excludeNamespaces': [EXCLUDED] } });
    apps = await cp.namespace('apps');
    await cp.serviceAccount(apps, 'default');
    await cp.serviceAccount(apps, 'api', { [ANNOTATION.clientId]: CLIENT_ID });
    await cp.serviceAccount(apps, 'wi', { [AZURE_WORKLOAD_IDENTITY.clientId]: WI_CLIENT_ID });
  });
  afterAll(async () => {
    await hook?.webhook?.stop();
    await cp?.stop();
  });

  it('injects an opted-in pod: the API server stores the mutated pod, and the native sidecar passes its validation', async () => {
    const r = await createPod(
      cp,
      apps,
      podManifest({ serviceAccount: 'api', annotations: { ...INJECT, [ANNOTATION.tokens]: 'storage=https://storage.azure.com/.default' } }),
    );
    expect(r.status, r.text.slice(0, 500)).toBe(201);
    const stored = await getPod(cp, apps, r.body.metadata.name);
    const sidecar = stored.spec.initContainers?.[0];
    expect(sidecar?.name).toBe(SIDECAR);
    expect(sidecar?.restartPolicy).toBe('Always'); // native sidecar, accepted by this server version
    expect(sidecar?.startupProbe).toBeDefined();
    expect(envOf(sidecar)).toMatchObject({
      AZURE_CLIENT_ID: CLIENT_ID,
      AZURE_TENANT_ID: TENANT_ID,
      ENTRA_SIDECAR_TOKENS: 'storage=https://storage.azure.com/.default',
    });
    const app = stored.spec.containers.find((c) => c.name === 'app');
    expect(envOf(app).IDENTITY_ENDPOINT).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/msi\/token$/);
    expect(envOf(app).IDENTITY_HEADER).toBe(envOf(sidecar).ENTRA_SIDECAR_IDENTITY_HEADER);
    expect(envOf(app).AZURE_FEDERATED_TOKEN_FILE).toBeUndefined();
    expect(app?.volumeMounts?.some((m) => m.readOnly === true && m.mountPath === '/var/run/secrets/entra')).toBe(true);
    const token = stored.spec.volumes?.find((v) => v.name === SA_TOKEN_VOLUME)?.projected?.sources[0]?.serviceAccountToken;
    expect(token).toEqual({ audience: 'api://AzureADTokenExchange', expirationSeconds: 3600, path: 'token' });
    expect(stored.metadata.labels?.[INJECTED_LABEL]).toBe('true');
    expect(stored.metadata.annotations?.[ANNOTATION.status]).toBe('injected');
  });

  it('injects the pod a Job would create (restartPolicy Never, owner reference), and the server accepts it', async () => {
    const job = await cp.must<{ metadata: { name: string; uid: string } }>('POST', `/apis/batch/v1/namespaces/${apps}/jobs`, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'nightly' },
      spec: {
        template: {
          metadata: { annotations: INJECT },
          spec: { serviceAccountName: 'api', restartPolicy: 'Never', containers: [{ name: 'app', image: 'registry.example.com/app:1.0' }] },
        },
      },
    });
    const pod = podManifest({ serviceAccount: 'api', annotations: INJECT, spec: { restartPolicy: 'Never' } });
    pod.metadata.ownerReferences = [
      { apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid: job.metadata.uid, controller: true, blockOwnerDeletion: true },
    ];
    pod.metadata.labels = { 'batch.kubernetes.io/job-name': 'nightly' };
    const r = await createPod(cp, apps, pod);
    expect(r.status, r.text.slice(0, 500)).toBe(201);
    const sidecar = r.body.spec.initContainers?.[0];
    expect(sidecar?.name).toBe(SIDECAR);
    expect(sidecar?.restartPolicy).toBe('Always'); // a native sidecar does not keep a Job's pod from completing
  });

  it('injects a pod whose ServiceAccount carries only azure.workload.identity/client-id (drop-in)', async () => {
    const r = await createPod(cp, apps, podManifest({ serviceAccount: 'wi', annotations: INJECT }));
    expect(r.status, r.text.slice(0, 500)).toBe(201);
    expect(envOf(r.body.spec.initContainers?.[0]).AZURE_CLIENT_ID).toBe(WI_CLIENT_ID);
    expect(envOf(r.body.spec.containers[0]).AZURE_CLIENT_ID).toBe(WI_CLIENT_ID);
  });

  it('never sees pods that did not opt in (matchConditions), and leaves them untouched', async () => {
    const before = await admissions(hook);
    const r = await createPod(cp, apps, podManifest({ serviceAccount: 'api', annotations: { 'example.com/team': 'web' } }));
    expect(r.status, r.text.slice(0, 300)).toBe(201);
    expect(containersOf(r.body).map((c) => c.name)).toEqual(['app']);
    expect(r.body.metadata.annotations?.[ANNOTATION.status]).toBeUndefined();
    expect(await admissions(hook)).toBe(before);
  });

  it('leaves opted-in pods alone in kube-system, in excluded namespaces and in its own namespace', async () => {
    const excluded = await cp.must<{ metadata: { name: string } }>('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: EXCLUDED },
    });
    for (const ns of ['kube-system', excluded.metadata.name, hook.namespace]) {
      await cp.serviceAccount(ns, 'api', { [ANNOTATION.clientId]: CLIENT_ID });
      const before = await admissions(hook);
      const r = await createPod(cp, ns, podManifest({ serviceAccount: 'api', annotations: INJECT }));
      expect(r.status, `${ns}: ${r.text.slice(0, 300)}`).toBe(201);
      expect(
        containersOf(r.body).map((c) => c.name),
        ns,
      ).toEqual(['app']);
      expect(await admissions(hook), ns).toBe(before);
    }
  });

  it('denies an invalid annotation with its message in the API error (HTTP 400, not a 500 or a timeout)', async () => {
    const r = await createPod(cp, apps, podManifest({ serviceAccount: 'api', annotations: { ...INJECT, [ANNOTATION.tokenExpiration]: '60' } }));
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('admission webhook "inject.entra-sidecar.io" denied the request');
    expect(r.body.message).toContain(ANNOTATION.tokenExpiration);
    const bad = await createPod(cp, apps, podManifest({ serviceAccount: 'api', annotations: { ...INJECT, [ANNOTATION.tokens]: 'no scope here' } }));
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain(ANNOTATION.tokens);
  });

  it('denies hostNetwork pods with its explanation', async () => {
    const r = await createPod(cp, apps, podManifest({ serviceAccount: 'api', annotations: INJECT, spec: { hostNetwork: true } }));
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('hostNetwork: true cannot use entra-sidecar');
  });

  it('denies a pod whose ServiceAccount has no client id, naming the fix', async () => {
    const r = await createPod(cp, apps, podManifest({ serviceAccount: 'default', annotations: INJECT }));
    expect(r.status).toBe(400);
    expect(r.body.message).toContain(ANNOTATION.clientId);
  });

  it('a malformed pod gets the API server’s own validation error after the webhook, never a 500', async () => {
    const pod = podManifest({ serviceAccount: 'api', annotations: INJECT });
    (pod.spec.containers[0] as { name: string }).name = 'Not_A_DNS_Label';
    const r = await createPod(cp, apps, pod);
    expect(r.status).toBe(422);
    expect(r.body.message).toContain('Not_A_DNS_Label');
  });

  it('is reinvoked after another webhook adds a container, and tops that container up', async () => {
    const second = await startSecondWebhook(cp, apps, 'api');
    try {
      const r = await createPod(cp, apps, podManifest({ serviceAccount: 'api', annotations: INJECT, labels: { [ADD_CONTAINER_LABEL]: 'true' } }));
      expect(r.status, r.text.slice(0, 500)).toBe(201);
      expect(second.calls).toBeGreaterThan(0);
      const sidecar = r.body.spec.initContainers?.[0];
      const late = r.body.spec.containers.find((c) => c.name === LATE_CONTAINER);
      expect(late, 'the second webhook added its container').toBeDefined();
      expect(envOf(late).IDENTITY_ENDPOINT).toBe(envOf(r.body.spec.containers[0]).IDENTITY_ENDPOINT);
      expect(envOf(late).IDENTITY_HEADER).toBe(envOf(sidecar).ENTRA_SIDECAR_IDENTITY_HEADER);
      expect(late?.volumeMounts?.some((m) => m.mountPath === '/var/run/secrets/entra' && m.readOnly === true)).toBe(true);
      expect(r.body.spec.initContainers?.filter((c) => c.name === SIDECAR)).toHaveLength(1);
    } finally {
      await second.close();
    }
  });

  it('reserved names and marks: the API server sends such pods to the webhook (matchConditions) and it denies them with the conflict named', async () => {
    // an app container mounting the service-account token volume it did not declare (issue 17, finding 2)
    const steal = podManifest({ serviceAccount: 'api', annotations: INJECT });
    (steal.spec.containers[0] as { volumeMounts?: unknown[] }).volumeMounts = [{ name: SA_TOKEN_VOLUME, mountPath: '/steal' }];
    const r1 = await createPod(cp, apps, steal);
    expect(r1.status, r1.text.slice(0, 300)).toBe(400);
    expect(r1.body.message).toContain(`container app mounts volume ${SA_TOKEN_VOLUME}, which holds the sidecar's credential`);
    // the review's forgery: its own entra-sidecar container and a hostPath volume under the token-files name (finding 3)
    const forged = podManifest({ serviceAccount: 'api', annotations: INJECT });
    const spec = forged.spec as Record<string, unknown>;
    spec.initContainers = [{ name: SIDECAR, image: 'busybox', restartPolicy: 'Always', env: [{ name: 'ENTRA_SIDECAR_TOKEN_DIR', value: '/etc' }] }];
    spec.volumes = [{ name: 'entra-sidecar-tokens', hostPath: { path: '/' } }];
    const r2 = await createPod(cp, apps, forged);
    expect(r2.status, r2.text.slice(0, 300)).toBe(400);
    expect(r2.body.message).toContain('differ from what the webhook injects for it');
    // a pod that does not opt in but wears the webhook's label
    const before = await admissions(hook);
    const r3 = await createPod(cp, apps, podManifest({ serviceAccount: 'api', labels: { [INJECTED_LABEL]: 'true' } }));
    expect(r3.status, r3.text.slice(0, 300)).toBe(400);
    expect(r3.body.message).toContain(`the label ${INJECTED_LABEL}`);
    expect(await admissions(hook)).toBeGreaterThan(before);
  });

  describe('the RBAC the chart installs', () => {
    const asWebhook = () => ['--as', `system:serviceaccount:${hook.namespace}:${hook.serviceAccount}`];

    it('lets the webhook do its job with its own ServiceAccount token (every admission above used it)', async () => {
      const who = await cp.kubectl(['auth', 'whoami', '-o', 'json'], { kubeconfig: hook.kubeconfig });
      expect(who.code, who.stderr).toBe(0);
      expect(JSON.parse(who.stdout).status.userInfo.username).toBe(`system:serviceaccount:${hook.namespace}:${hook.serviceAccount}`);
      expect(hook.webhook.logs.filter((l) => /could not read ServiceAccount/.test(String(l.msg)))).toEqual([]);
    });

    it('is minimal: `kubectl auth can-i --list` shows only ServiceAccount reads beyond what every account has', async () => {
      const mine = await cp.kubectl(['auth', 'can-i', '--list', '-n', apps, ...asWebhook()]);
      const anyone = await cp.kubectl(['auth', 'can-i', '--list', '-n', apps, '--as', 'system:serviceaccount:nobody:nobody']);
      expect(mine.code, mine.stderr).toBe(0);
      const rows = (out: string) =>
        new Set(
          out
            .trim()
            .split('\n')
            .slice(1)
            .map((l) => l.trim().replace(/\s+/g, ' ')),
        );
      const extra = [...rows(mine.stdout)].filter((r) => !rows(anyone.stdout).has(r));
      expect(extra).toEqual(['serviceaccounts [] [] [get list watch]']);
      for (const [verb, resource, ns] of [
        ['get', 'secrets', apps],
        ['list', 'secrets', '--all-namespaces'],
        ['create', 'pods', apps],
        ['update', 'serviceaccounts', apps],
        ['create', 'secrets', hook.namespace],
      ] as const) {
        const nsArgs = ns === '--all-namespaces' ? ['--all-namespaces'] : ['-n', ns];
        const r = await cp.kubectl(['auth', 'can-i', verb, resource, ...nsArgs, ...asWebhook()]);
        expect(r.stdout.trim(), `${verb} ${resource} ${ns}`).toBe('no');
      }
    });
  });

  it('with the webhook stopped: opted-in pods are refused (failurePolicy Fail), other pods are still admitted', async () => {
    await hook.webhook.stop();
    const refused = await createPod(cp, apps, podManifest({ serviceAccount: 'api', annotations: INJECT }));
    expect(refused.status).toBe(500);
    expect(refused.body.message).toContain('failed calling webhook "inject.entra-sidecar.io"');
    const plain = await createPod(cp, apps, podManifest({ serviceAccount: 'api' }));
    expect(plain.status, plain.text.slice(0, 300)).toBe(201);
    // and back: a new replica serves again
    await hook.start();
    const again = await createPod(cp, apps, podManifest({ serviceAccount: 'api', annotations: INJECT }));
    expect(again.status, again.text.slice(0, 300)).toBe(201);
    expect(again.body.spec.initContainers?.[0]?.name).toBe(SIDECAR);
  });
});
