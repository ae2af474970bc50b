import { describe, expect, it } from 'vitest';
import type { ServiceAccountRef } from '../../src/webhook/annotations.js';
import { mutatePod, type MutationOutcome } from '../../src/webhook/mutate.js';
import { createJsonPatch, serializePatch, type JsonPatchOperation } from '../../src/webhook/patch.js';
import type { Pod } from '../../src/webhook/pod.js';
import type { MutationSettings } from '../../src/webhook/settings.js';
import {
  allContainers,
  applyJsonPatch,
  applyJsonPatchStrictly,
  assertValidPod,
  byName,
  CLIENT_ID,
  deepFreeze,
  env,
  loadPod,
  secretSequence,
  settings,
  TENANT_ID,
  workloadIdentitySa,
} from './pod-checks.js';

const SECRET_1 = secretSequence()();

interface Injected {
  pod: Pod;
  patch: JsonPatchOperation[];
  warnings: string[];
}

function mutated(outcome: MutationOutcome): Extract<MutationOutcome, { kind: 'mutated' }> {
  if (outcome.kind !== 'mutated') throw new Error(`expected a mutation, got ${outcome.kind}: ${'message' in outcome ? outcome.message : outcome.reason}`);
  return outcome;
}

/**
 * Mutates, applies the returned patch to the original with fast-json-patch, checks the result is
 * exactly the mutated pod and a valid Pod, and that a second pass is a no-op.
 */
function inject(pod: Pod, sa: ServiceAccountRef | undefined = workloadIdentitySa(pod), s: MutationSettings = settings()): Injected {
  const before = structuredClone(pod);
  const out = mutated(mutatePod(deepFreeze(structuredClone(pod)), sa, s, secretSequence()));
  expect(pod, 'the input pod is not modified').toEqual(before);
  const patch = createJsonPatch(pod, out.pod);
  const patched = applyJsonPatch(pod, patch);
  expect(patched).toEqual(out.pod);
  expect(applyJsonPatchStrictly(pod, out.patch), 'the patch recorded while mutating yields the same pod').toEqual(out.pod);
  assertValidPod(patched);
  const again = mutated(
    mutatePod(patched, sa, s, () => {
      throw new Error('a second pass must not make a new secret');
    }),
  );
  expect(createJsonPatch(patched, again.pod), 'second pass is a no-op').toEqual([]);
  expect(again.patch, 'second pass records nothing').toEqual([]);
  return { pod: patched, patch, warnings: out.warnings };
}

function denied(outcome: MutationOutcome): string {
  if (outcome.kind !== 'denied') throw new Error(`expected a denial, got ${outcome.kind}`);
  return outcome.message;
}

const APP_ENDPOINT_ENV = ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'AZURE_CLIENT_ID', 'ENTRA_TOKEN_DIR'];

describe('Deployment pod (generateName, init container, two containers), native mode', () => {
  const original = loadPod('deployment-pod');
  const { pod, patch } = inject(original);
  const sidecar = pod.spec.initContainers?.[0];

  it('puts the sidecar first among init containers as a native sidecar with a startup probe on /readyz', () => {
    expect(sidecar?.name).toBe('entra-sidecar');
    expect(sidecar?.restartPolicy).toBe('Always');
    expect(sidecar?.args).toEqual(['sidecar']);
    expect(sidecar?.image).toBe('ghcr.io/entra-sidecar/entra-sidecar:0.1.0');
    expect(sidecar?.imagePullPolicy).toBe('IfNotPresent');
    expect(sidecar?.startupProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'entra-metrics' } });
    expect(sidecar?.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'entra-metrics' } });
    expect(sidecar?.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'entra-metrics' } });
    expect(sidecar?.ports).toEqual([{ name: 'entra-metrics', containerPort: 42351, protocol: 'TCP' }]);
    expect(sidecar?.lifecycle).toBeUndefined();
    expect(pod.spec.initContainers?.map((c) => c.name)).toEqual(['entra-sidecar', 'migrate']);
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['api', 'outbox-worker']);
  });

  it("gives the sidecar its contract's environment", () => {
    expect(env(sidecar)).toEqual({
      AZURE_CLIENT_ID: CLIENT_ID,
      AZURE_TENANT_ID: TENANT_ID,
      AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/entra-sidecar/serviceaccount/token',
      AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.com',
      ENTRA_SIDECAR_TOKENS: 'storage=https://storage.azure.com/.default,pg=https://ossrdbms-aad.database.windows.net/.default',
      ENTRA_SIDECAR_TOKEN_DIR: '/var/run/secrets/entra',
      ENTRA_SIDECAR_LISTEN: '127.0.0.1:42350',
      ENTRA_SIDECAR_HEALTH_LISTEN: '0.0.0.0:42351',
      ENTRA_SIDECAR_IDENTITY_HEADER: SECRET_1,
      NODE_OPTIONS: '--max-old-space-size=48 --max-semi-space-size=1 --v8-pool-size=1',
    });
  });

  it('runs the sidecar restricted, with the default requests and memory limit', () => {
    expect(sidecar?.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(sidecar?.resources).toEqual({ requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '96Mi' } });
  });

  it('adds the projected token and the in-memory token volume, keeping the existing ones', () => {
    const vols = pod.spec.volumes ?? [];
    expect(vols.map((v) => v.name)).toEqual(['config', 'kube-api-access-7xk2p', 'entra-sidecar-sa-token', 'entra-sidecar-tokens']);
    expect(vols[2]).toEqual({
      name: 'entra-sidecar-sa-token',
      projected: { sources: [{ serviceAccountToken: { audience: 'api://AzureADTokenExchange', expirationSeconds: 3600, path: 'token' } }] },
    });
    expect(vols[3]).toEqual({ name: 'entra-sidecar-tokens', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
  });

  it('mounts the token read-only only in the sidecar, and the files read-write there, read-only elsewhere', () => {
    expect(sidecar?.volumeMounts).toEqual([
      { name: 'entra-sidecar-sa-token', mountPath: '/var/run/secrets/entra-sidecar/serviceaccount', readOnly: true },
      { name: 'entra-sidecar-tokens', mountPath: '/var/run/secrets/entra' },
    ]);
    for (const name of ['migrate', 'api', 'outbox-worker']) {
      const c = byName(pod, name);
      expect(c?.volumeMounts?.filter((m) => m.name.startsWith('entra-sidecar'))).toEqual([
        { name: 'entra-sidecar-tokens', mountPath: '/var/run/secrets/entra', readOnly: true },
      ]);
      expect(
        c?.volumeMounts?.some((m) => m.name === 'kube-api-access-7xk2p'),
        `${name} keeps its API token mount`,
      ).toBe(true);
    }
  });

  it('gives app containers and later init containers the SDK environment, the same secret as the sidecar, and nothing that bypasses it', () => {
    for (const name of ['migrate', 'api', 'outbox-worker']) {
      const e = env(byName(pod, name));
      expect(e.IDENTITY_ENDPOINT).toBe('http://127.0.0.1:42350/msi/token');
      expect(e.IDENTITY_HEADER).toBe(env(sidecar).ENTRA_SIDECAR_IDENTITY_HEADER);
      expect(e.AZURE_CLIENT_ID).toBe(CLIENT_ID);
      expect(e.ENTRA_TOKEN_DIR).toBe('/var/run/secrets/entra');
      expect(e.AZURE_FEDERATED_TOKEN_FILE).toBeUndefined();
      expect(e.AZURE_TENANT_ID).toBeUndefined();
      expect(e.MSI_ENDPOINT).toBeUndefined();
    }
    expect(env(byName(pod, 'api')).DATABASE_HOST).toBe('orders.postgres.database.azure.com');
    expect(byName(pod, 'api')?.env?.[1]).toEqual(original.spec.containers[0]?.env?.[1]);
  });

  it('labels and annotates the pod, keeps generateName, adds no name', () => {
    expect(pod.metadata?.labels?.['entra-sidecar.io/injected']).toBe('true');
    expect(pod.metadata?.annotations?.['entra-sidecar.io/status']).toBe('injected');
    expect(pod.metadata?.generateName).toBe('orders-api-5c7b9d8f6d-');
    expect(pod.metadata?.name).toBeUndefined();
  });

  it('only adds: the patch never replaces or removes anything the user wrote', () => {
    expect(patch.length).toBeGreaterThan(0);
    expect(patch.every((op) => op.op === 'add')).toBe(true);
    expect(patch.map((op) => op.path)).toContain('/metadata/labels/entra-sidecar.io~1injected');
    expect(patch.map((op) => op.path)).toContain('/spec/initContainers/0');
  });
});

describe('container mode', () => {
  const { pod } = inject(loadPod('deployment-pod'), undefined, settings({ mode: 'container' }));

  it('runs the sidecar as the first container with a postStart wait, and a --once init container first', () => {
    const sidecar = pod.spec.containers[0];
    expect(sidecar?.name).toBe('entra-sidecar');
    expect(sidecar?.restartPolicy).toBeUndefined();
    expect(sidecar?.startupProbe).toBeUndefined();
    expect((sidecar?.lifecycle as { postStart: { exec: { command: string[] } } }).postStart.exec.command[0]).toBe('node');
    const init = pod.spec.initContainers?.[0];
    expect(init?.name).toBe('entra-sidecar-init');
    expect(init?.args).toEqual(['sidecar', '--once']);
    expect(env(init).ENTRA_SIDECAR_TOKENS).toBe(env(sidecar).ENTRA_SIDECAR_TOKENS);
    expect(env(init).ENTRA_SIDECAR_IDENTITY_HEADER).toBeUndefined();
    expect(init?.volumeMounts?.map((m) => m.name)).toEqual(['entra-sidecar-sa-token', 'entra-sidecar-tokens']);
  });

  it('gives init containers after --once the files (no endpoint: it is not running yet), apps the endpoint', () => {
    const migrate = env(byName(pod, 'migrate'));
    expect(migrate.ENTRA_TOKEN_DIR).toBe('/var/run/secrets/entra');
    expect(migrate.AZURE_CLIENT_ID).toBe(CLIENT_ID);
    expect(migrate.IDENTITY_ENDPOINT).toBeUndefined();
    expect(migrate.IDENTITY_HEADER).toBeUndefined();
    expect(Object.keys(env(byName(pod, 'api')))).toEqual(expect.arrayContaining(APP_ENDPOINT_ENV));
  });

  it('adds no --once init container when no token targets are named', () => {
    const p = loadPod('deployment-pod');
    delete p.metadata?.annotations?.['entra-sidecar.io/tokens'];
    const { pod: q } = inject(p, undefined, settings({ mode: 'container' }));
    expect(q.spec.initContainers?.map((c) => c.name)).toEqual(['migrate']);
    expect(env(byName(q, 'migrate'))).toEqual({ DATABASE_HOST: 'orders.postgres.database.azure.com' });
    expect(env(q.spec.containers[0]).ENTRA_SIDECAR_TOKENS).toBeUndefined();
  });
});

describe('existing init containers and native sidecars, automountServiceAccountToken: false', () => {
  const original = loadPod('native-sidecars-pod');
  const { pod } = inject(original);

  it('places ours before the existing ones and keeps their restartPolicy and probes', () => {
    expect(pod.spec.initContainers?.map((c) => c.name)).toEqual(['entra-sidecar', 'wait-for-kafka', 'log-shipper']);
    const shipper = byName(pod, 'log-shipper');
    expect(shipper?.restartPolicy).toBe('Always');
    expect(shipper?.startupProbe).toEqual(original.spec.initContainers?.[1]?.startupProbe);
    expect(env(shipper).IDENTITY_ENDPOINT).toBe('http://127.0.0.1:42350/msi/token');
    expect(env(byName(pod, 'wait-for-kafka')).IDENTITY_HEADER).toBe(SECRET_1);
  });

  it('leaves automountServiceAccountToken false and adds no API token anywhere', () => {
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    for (const c of allContainers(pod)) expect((c.volumeMounts ?? []).some((m) => m.mountPath.startsWith('/var/run/secrets/kubernetes.io'))).toBe(false);
    const projected = (pod.spec.volumes ?? []).filter((v) => 'projected' in v);
    expect(projected.map((v) => v.name)).toEqual(['entra-sidecar-sa-token']);
  });
});

describe('Istio-injected pod', () => {
  it('with skip-containers "istio-proxy;istio-init": those stay exactly as they were', () => {
    const original = loadPod('istio-pod');
    const { pod } = inject(original);
    expect(byName(pod, 'istio-proxy')).toEqual(byName(original, 'istio-proxy'));
    expect(byName(pod, 'istio-init')).toEqual(byName(original, 'istio-init'));
    expect(env(byName(pod, 'reviews')).IDENTITY_ENDPOINT).toBe('http://127.0.0.1:42350/msi/token');
    expect((pod.spec.volumes ?? []).find((v) => v.name === 'istio-token')).toEqual((original.spec.volumes ?? []).find((v) => v.name === 'istio-token'));
  });

  it('without skipping: istio-proxy gets the environment and mount too; istio-token stays with istio-proxy', () => {
    const original = loadPod('istio-pod');
    delete original.metadata?.annotations?.['entra-sidecar.io/skip-containers'];
    const { pod } = inject(original);
    const proxy = byName(pod, 'istio-proxy');
    expect(env(proxy).IDENTITY_HEADER).toBe(SECRET_1);
    expect(env(proxy).POD_NAMESPACE).toBeUndefined(); // valueFrom vars keep no value but stay
    expect(proxy?.env?.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom).toBeDefined();
    expect(proxy?.volumeMounts?.some((m) => m.name === 'entra-sidecar-tokens' && m.readOnly === true)).toBe(true);
    expect(proxy?.volumeMounts?.some((m) => m.name === 'istio-token')).toBe(true);
  });
});

describe('envFrom, client id on the pod, custom port and path, MSI_ENDPOINT', () => {
  const original = loadPod('envfrom-pod');
  const sa: ServiceAccountRef = {
    namespace: 'finance',
    name: 'default',
    annotations: { 'azure.workload.identity/client-id': 'ffffffff-ffff-4fff-8fff-ffffffffffff' },
  };
  const { pod } = inject(original, sa, settings({ defaultTenantId: 'contoso.onmicrosoft.com' }));
  const runner = byName(pod, 'runner');
  const sidecar = byName(pod, 'entra-sidecar');

  it('keeps envFrom untouched and adds env next to it', () => {
    expect(runner?.envFrom).toEqual(original.spec.containers[0]?.envFrom);
    expect(Object.keys(env(runner))).toEqual(['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'AZURE_CLIENT_ID', 'ENTRA_TOKEN_DIR', 'MSI_ENDPOINT']);
  });

  it('uses the pod annotations over the ServiceAccount and the webhook defaults', () => {
    expect(env(runner).AZURE_CLIENT_ID).toBe('0b1f7a3e-4c55-4c8e-9d6b-2f7a8e9c1d20');
    expect(env(sidecar).AZURE_TENANT_ID).toBe('contoso.onmicrosoft.com');
    expect(env(runner).IDENTITY_ENDPOINT).toBe('http://127.0.0.1:43000/msi/token');
    expect(env(runner).MSI_ENDPOINT).toBe('http://127.0.0.1:43000/msi/token');
    expect(env(runner).ENTRA_TOKEN_DIR).toBe('/run/entra');
    expect(env(sidecar).ENTRA_SIDECAR_LISTEN).toBe('127.0.0.1:43000');
    expect(env(sidecar).ENTRA_SIDECAR_TOKEN_DIR).toBe('/run/entra');
    expect(runner?.volumeMounts).toEqual([{ name: 'entra-sidecar-tokens', mountPath: '/run/entra', readOnly: true }]);
  });
});

describe('containers that already set IDENTITY_ENDPOINT or AZURE_CLIENT_ID', () => {
  const original = loadPod('existing-identity-env-pod');
  const { pod } = inject(original);

  it('never overwrites them, and adds only what is missing', () => {
    const app = byName(pod, 'app');
    expect(app?.env?.slice(0, 2)).toEqual(original.spec.containers[0]?.env);
    expect(app?.env?.map((e) => e.name)).toEqual(['IDENTITY_ENDPOINT', 'AZURE_CLIENT_ID', 'IDENTITY_HEADER', 'ENTRA_TOKEN_DIR']);
    expect(env(byName(pod, 'metrics-exporter')).IDENTITY_ENDPOINT).toBe('http://127.0.0.1:42350/msi/token');
  });
});

describe('hostNetwork', () => {
  it('is denied with a message that says why and what to change', () => {
    const pod = loadPod('host-network-pod');
    const message = denied(mutatePod(pod, workloadIdentitySa(pod), settings(), secretSequence()));
    expect(message).toContain('hostNetwork: true');
    expect(message).toContain("node's loopback");
  });
});

describe('Job pod (restartPolicy Never)', () => {
  it('defaults to init-only when the webhook default is container: one --once init container, files-only env', () => {
    const { pod, warnings } = inject(loadPod('job-pod'), undefined, settings({ mode: 'container' }));
    expect(pod.spec.initContainers?.map((c) => c.name)).toEqual(['entra-sidecar-init']);
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['export']);
    expect(env(byName(pod, 'export'))).toEqual({ AZURE_CLIENT_ID: CLIENT_ID, ENTRA_TOKEN_DIR: '/var/run/secrets/entra' });
    expect(JSON.stringify(pod)).not.toContain('IDENTITY_HEADER');
    expect(warnings).toEqual([]);
  });

  it('uses a native sidecar when the webhook default is native (it stops with the Job)', () => {
    const { pod } = inject(loadPod('job-pod'));
    expect(pod.spec.initContainers?.[0]).toMatchObject({ name: 'entra-sidecar', restartPolicy: 'Always' });
    expect(env(byName(pod, 'export')).IDENTITY_ENDPOINT).toBe('http://127.0.0.1:42350/msi/token');
  });

  it('warns when a Job asks for mode container explicitly', () => {
    const p = loadPod('job-pod');
    (p.metadata?.annotations as Record<string, string>)['entra-sidecar.io/mode'] = 'container';
    const { warnings } = inject(p, undefined, settings({ mode: 'container' }));
    expect(warnings.join()).toContain('never completes');
  });

  it('denies init-only without token targets, explaining why the mode was chosen', () => {
    const p = loadPod('job-pod');
    delete p.metadata?.annotations?.['entra-sidecar.io/tokens'];
    const message = denied(mutatePod(p, workloadIdentitySa(p), settings({ mode: 'container' }), secretSequence()));
    expect(message).toContain('restartPolicy is Never');
    expect(message).toContain('entra-sidecar.io/tokens');
  });
});

describe('reinvocation after another webhook added a container', () => {
  const first = inject(loadPod('deployment-pod')).pod;
  const afterDapr = structuredClone(first);
  afterDapr.metadata!.annotations!['dapr.io/enabled'] = 'true';
  afterDapr.spec.containers.push({
    name: 'daprd',
    image: 'ghcr.io/dapr/daprd:1.14.4',
    args: ['./daprd', '--app-id', 'orders-api'],
    env: [{ name: 'DAPR_HTTP_PORT', value: '3500' }],
    ports: [{ name: 'dapr-http', containerPort: 3500, protocol: 'TCP' }],
  });
  afterDapr.spec.volumes!.push({
    name: 'dapr-identity-token',
    projected: {
      sources: [{ serviceAccountToken: { audience: 'spiffe://cluster.local/ns/dapr-system/dapr-sentry', expirationSeconds: 7200, path: 'token' } }],
    },
  });

  const s = settings();
  const sa = workloadIdentitySa(afterDapr);
  const second = mutated(
    mutatePod(afterDapr, sa, s, () => {
      throw new Error('no new secret on reinvocation');
    }),
  );
  const patch = createJsonPatch(afterDapr, second.pod);
  const pod = applyJsonPatch(afterDapr, patch);

  it('tops up only the new container: its environment and the read-only mount', () => {
    expect(patch.every((op) => op.path.startsWith('/spec/containers/2/'))).toBe(true);
    expect(second.patch.every((op) => op.path.startsWith('/spec/containers/2/'))).toBe(true);
    expect(applyJsonPatchStrictly(afterDapr, second.patch)).toEqual(second.pod);
    const daprd = byName(pod, 'daprd');
    expect(env(daprd)).toMatchObject({ DAPR_HTTP_PORT: '3500', IDENTITY_ENDPOINT: 'http://127.0.0.1:42350/msi/token', AZURE_CLIENT_ID: CLIENT_ID });
    expect(daprd?.volumeMounts).toEqual([{ name: 'entra-sidecar-tokens', mountPath: '/var/run/secrets/entra', readOnly: true }]);
    assertValidPod(pod);
  });

  it('keeps the sidecar and IDENTITY_HEADER exactly as they were', () => {
    expect(byName(pod, 'entra-sidecar')).toEqual(byName(first, 'entra-sidecar'));
    expect(env(byName(pod, 'daprd')).IDENTITY_HEADER).toBe(env(byName(first, 'api')).IDENTITY_HEADER);
  });

  it('checks the sidecar against what it would inject now: a ServiceAccount changed in between is a denial naming the field, never a silent top-up', () => {
    const message = denied(
      mutatePod(
        afterDapr,
        {
          namespace: 'shop',
          name: 'orders-api',
          annotations: { 'entra-sidecar.io/client-id': 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'azure.workload.identity/tenant-id': TENANT_ID },
        },
        s,
        secretSequence(),
      ),
    );
    expect(message).toContain('differ from what the webhook injects');
    expect(message).toMatch(/container entra-sidecar: env\[\d+\]\.value/);
    expect(message).not.toContain('aaaaaaaa-aaaa');
  });

  it('a third pass changes nothing', () => {
    const third = mutated(mutatePod(pod, sa, s, secretSequence()));
    expect(createJsonPatch(pod, third.pod)).toEqual([]);
  });

  it('another webhook that adds a container mounting the service-account token volume is denied', () => {
    const p = structuredClone(afterDapr);
    p.spec.containers.at(-1)!.volumeMounts = [{ name: 'entra-sidecar-sa-token', mountPath: '/steal' }];
    expect(denied(mutatePod(p, sa, s, secretSequence()))).toContain(
      "container daprd mounts volume entra-sidecar-sa-token, which holds the sidecar's credential",
    );
  });

  it('a container added since that mounts the token files read-write, or elsewhere, is denied; read-only where the webhook mounts them is kept', () => {
    const rw = structuredClone(afterDapr);
    rw.spec.containers.at(-1)!.volumeMounts = [{ name: 'entra-sidecar-tokens', mountPath: '/var/run/secrets/entra' }];
    expect(denied(mutatePod(rw, sa, s, secretSequence()))).toContain(
      'container daprd mounts volume entra-sidecar-tokens other than read-only at /var/run/secrets/entra',
    );
    const ro = structuredClone(afterDapr);
    ro.spec.containers.at(-1)!.volumeMounts = [{ name: 'entra-sidecar-tokens', mountPath: '/var/run/secrets/entra', readOnly: true }];
    expect(mutatePod(ro, sa, s, secretSequence()).kind).toBe('mutated');
  });
});

describe('pods sharing a PID namespace (issue 17, item 6: hostPID)', () => {
  it('hostPID and shareProcessNamespace pods are injected with a warning naming what another process could read', () => {
    const host = loadPod('deployment-pod');
    host.spec.hostPID = true;
    const { warnings } = inject(host);
    expect(warnings.join('\n')).toMatch(/hostPID: true puts the sidecar in the node's PID namespace: .*identity header.*keep untrusted workloads off hostPID/);
    const shared = loadPod('deployment-pod');
    shared.spec.shareProcessNamespace = true;
    expect(inject(shared).warnings.join('\n')).toContain('shareProcessNamespace: true');
    expect(inject(loadPod('deployment-pod')).warnings.join('\n')).not.toMatch(/hostPID|shareProcessNamespace/);
  });
});

describe('reserved names are reserved everywhere (issue 17, finding 2)', () => {
  const base = loadPod('deployment-pod');
  const attempt = (edit: (p: Pod) => void) => {
    const p = structuredClone(base);
    edit(p);
    return mutatePod(p, workloadIdentitySa(p), settings(), secretSequence());
  };

  it('an app container mounting the service-account token volume without declaring it is denied (it would have received the projected token)', () => {
    const message = denied(attempt((p) => p.spec.containers[0]!.volumeMounts!.push({ name: 'entra-sidecar-sa-token', mountPath: '/steal' })));
    expect(message).toContain(
      `container ${base.spec.containers[0]!.name} mounts volume entra-sidecar-sa-token, which holds the sidecar's credential and is mounted only into the sidecar: remove that volumeMount`,
    );
  });

  it('so is an init container, an ephemeral container, and the client-credential and token-files volumes', () => {
    expect(
      denied(
        attempt(
          (p) => (p.spec.initContainers = [{ name: 'setup', image: 'busybox', volumeMounts: [{ name: 'entra-sidecar-sa-token', mountPath: '/steal' }] }]),
        ),
      ),
    ).toContain('container setup mounts volume entra-sidecar-sa-token');
    expect(
      denied(
        attempt(
          (p) => (p.spec.ephemeralContainers = [{ name: 'debug', image: 'busybox', volumeMounts: [{ name: 'entra-sidecar-sa-token', mountPath: '/steal' }] }]),
        ),
      ),
    ).toContain('container debug mounts volume entra-sidecar-sa-token');
    expect(denied(attempt((p) => p.spec.containers[0]!.volumeMounts!.push({ name: 'entra-sidecar-client-credential', mountPath: '/steal' })))).toContain(
      'mounts volume entra-sidecar-client-credential',
    );
    expect(denied(attempt((p) => p.spec.containers[0]!.volumeMounts!.push({ name: 'entra-sidecar-tokens', mountPath: '/tokens' })))).toContain(
      'mounts volume entra-sidecar-tokens, which the webhook adds',
    );
  });
});

describe('the injected marks cannot be forged (issue 17, finding 3)', () => {
  const s = settings();
  const real = inject(loadPod('deployment-pod')).pod;
  const sa = workloadIdentitySa(real);
  const sidecarOf = (p: Pod) => p.spec.initContainers!.find((c) => c.name === 'entra-sidecar')!;

  it("the review's attack: its own entra-sidecar container (token dir /etc, a chosen header) and a hostPath volume under the token-files name is denied, not treated as injected", () => {
    const p = loadPod('deployment-pod');
    p.spec.initContainers = [
      {
        name: 'entra-sidecar',
        image: 'busybox',
        restartPolicy: 'Always',
        env: [
          { name: 'ENTRA_SIDECAR_TOKEN_DIR', value: '/etc' },
          { name: 'ENTRA_SIDECAR_IDENTITY_HEADER', value: 'chosen' },
        ],
      },
    ];
    p.spec.volumes = [...(p.spec.volumes ?? []), { name: 'entra-sidecar-tokens', hostPath: { path: '/' } }];
    const message = denied(mutatePod(p, workloadIdentitySa(p), s, secretSequence()));
    expect(message).toContain('differ from what the webhook injects for it');
    expect(message).toContain('volume entra-sidecar-tokens: hostPath');
    expect(message).toContain('ENTRA_SIDECAR_IDENTITY_HEADER is not a secret the webhook generates');
    expect(message).not.toContain('chosen');
  });

  it('a copy of a real injection with one field changed is denied naming the field: privileged, an envFrom, a weak header, a hostPath volume, another image', () => {
    const cases: Array<[(p: Pod) => void, string]> = [
      [(p) => ((sidecarOf(p).securityContext as Record<string, unknown>).privileged = true), 'container entra-sidecar: securityContext.privileged'],
      [(p) => (sidecarOf(p).envFrom = [{ configMapRef: { name: 'more' } }]), 'container entra-sidecar: envFrom'],
      [(p) => (sidecarOf(p).env!.find((e) => e.name === 'ENTRA_SIDECAR_IDENTITY_HEADER')!.value = 'a'.repeat(8)), 'is not a secret the webhook generates'],
      [
        (p) => {
          const tokens = p.spec.volumes!.find((v) => v.name === 'entra-sidecar-tokens')!;
          tokens.emptyDir = undefined;
          tokens.hostPath = { path: '/' };
        },
        'volume entra-sidecar-tokens: emptyDir',
      ],
      [(p) => (sidecarOf(p).image = 'registry.example/evil:1'), 'container entra-sidecar: image'],
      [
        (p) => p.spec.containers.unshift({ ...sidecarOf(p), restartPolicy: undefined }),
        'containers has a container entra-sidecar, which the webhook does not inject there',
      ],
    ];
    for (const [edit, expected] of cases) {
      const p = structuredClone(real);
      edit(p);
      const out = mutatePod(p, sa, s, secretSequence());
      expect(out.kind, expected).toBe('denied');
      expect(denied(out)).toContain(expected);
    }
  });

  it('a pod that does not opt in but carries the label, the status annotation, a reserved container or volume name is denied', () => {
    const cases: Array<[(p: Pod) => void, string]> = [
      [(p) => (p.metadata!.labels = { ...p.metadata!.labels, 'entra-sidecar.io/injected': 'true' }), 'the label entra-sidecar.io/injected'],
      [(p) => (p.metadata!.annotations!['entra-sidecar.io/status'] = 'injected'), 'the annotation entra-sidecar.io/status'],
      [(p) => p.spec.containers.push({ name: 'entra-sidecar', image: 'busybox' }), 'container(s) entra-sidecar'],
      [(p) => (p.spec.volumes = [{ name: 'entra-sidecar-tokens', emptyDir: {} }]), 'volume(s) entra-sidecar-tokens'],
    ];
    for (const [edit, expected] of cases) {
      const p = loadPod('not-opted-in-pod');
      edit(p);
      const message = denied(mutatePod(p, undefined, s, secretSequence()));
      expect(message).toContain('does not opt in');
      expect(message).toContain(expected);
    }
  });

  it('the defaults the API server writes between passes are not differences (probe and port defaults, termination message path, defaultMode, quantities in another spelling)', () => {
    const p = structuredClone(real);
    const c = sidecarOf(p);
    Object.assign(c, { terminationMessagePath: '/dev/termination-log' });
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) Object.assign(c[probe] as object, { successThreshold: 1 });
    (c.livenessProbe as { httpGet: Record<string, unknown> }).httpGet.scheme = 'HTTP';
    (c.resources as { requests: Record<string, string> }).requests.cpu = '0.01';
    for (const v of p.spec.volumes!) if (v.projected) (v.projected as Record<string, unknown>).defaultMode = 420;
    // the ServiceAccount admission plugin, reinvoked after the webhook, mounts the API token into every container
    c.volumeMounts = [...c.volumeMounts!, { name: 'kube-api-access-x7k2p', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }];
    const out = mutated(mutatePod(p, sa, s, secretSequence()));
    expect(createJsonPatch(p, out.pod)).toEqual([]);
    // …but exactly that mount: writable, or anywhere else, is a difference
    c.volumeMounts.at(-1)!.readOnly = false;
    expect(denied(mutatePod(p, sa, s, secretSequence()))).toContain('container entra-sidecar: volumeMounts (3 entries, expected 2)');
  });
});

describe('opt-in', () => {
  it('skips pods without inject: "true" (any other value means no)', () => {
    for (const value of [undefined, 'false', 'yes', '1', '']) {
      const pod = loadPod('not-opted-in-pod');
      if (value === undefined) delete pod.metadata?.annotations?.['entra-sidecar.io/inject'];
      else pod.metadata!.annotations!['entra-sidecar.io/inject'] = value;
      expect(mutatePod(pod, undefined, settings(), secretSequence()).kind).toBe('skipped');
    }
  });
});

describe('identity precedence', () => {
  const pod = loadPod('job-pod');
  const run = (podAnn: Record<string, string>, saAnn: Record<string, string>, s = settings()) => {
    const p = structuredClone(pod);
    Object.assign(p.metadata!.annotations!, podAnn);
    const out = mutated(mutatePod(p, { namespace: 'batch', name: 'exporter', annotations: saAnn }, s, secretSequence()));
    return env(byName(out.pod, 'entra-sidecar'));
  };
  const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
  const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
  const C = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc';

  it('client id: pod annotation, then the ServiceAccount entra-sidecar.io, then azure.workload.identity', () => {
    const sa = { 'entra-sidecar.io/client-id': B, 'azure.workload.identity/client-id': C, 'azure.workload.identity/tenant-id': TENANT_ID };
    expect(run({ 'entra-sidecar.io/client-id': A }, sa).AZURE_CLIENT_ID).toBe(A);
    expect(run({}, sa).AZURE_CLIENT_ID).toBe(B);
    expect(run({}, { 'azure.workload.identity/client-id': C, 'azure.workload.identity/tenant-id': TENANT_ID }).AZURE_CLIENT_ID).toBe(C);
  });

  it('tenant id: pod, ServiceAccount, azure.workload.identity, then --default-tenant-id', () => {
    const sa = { 'azure.workload.identity/client-id': C };
    expect(run({ 'entra-sidecar.io/tenant-id': A }, { ...sa, 'entra-sidecar.io/tenant-id': B }).AZURE_TENANT_ID).toBe(A);
    expect(run({}, { ...sa, 'entra-sidecar.io/tenant-id': B, 'azure.workload.identity/tenant-id': C }).AZURE_TENANT_ID).toBe(B);
    expect(run({}, { ...sa, 'azure.workload.identity/tenant-id': C }).AZURE_TENANT_ID).toBe(C);
    expect(run({}, sa, settings({ defaultTenantId: 'fabrikam.onmicrosoft.com' })).AZURE_TENANT_ID).toBe('fabrikam.onmicrosoft.com');
  });
});

describe('denials name the annotation and the accepted form', () => {
  const base = loadPod('deployment-pod');
  const deny = (ann: Record<string, string>, sa: ServiceAccountRef | undefined = workloadIdentitySa(base), s = settings(), edit?: (p: Pod) => void) => {
    const p = structuredClone(base);
    Object.assign(p.metadata!.annotations!, ann);
    edit?.(p);
    return denied(mutatePod(p, sa, s, secretSequence()));
  };

  it('no client id anywhere: names both annotations and the ServiceAccount', () => {
    const m = deny({}, { namespace: 'shop', name: 'orders-api', annotations: {} }, settings({ defaultTenantId: TENANT_ID }));
    expect(m).toContain('no client id');
    expect(m).toContain('entra-sidecar.io/client-id');
    expect(m).toContain('azure.workload.identity/client-id');
    expect(m).toContain('ServiceAccount shop/orders-api');
  });

  it('no tenant anywhere: names the annotations and --default-tenant-id', () => {
    const m = deny({}, { namespace: 'shop', name: 'orders-api', annotations: { 'azure.workload.identity/client-id': CLIENT_ID } });
    expect(m).toContain('no tenant id');
    expect(m).toContain('--default-tenant-id');
  });

  it.each([
    [{ 'entra-sidecar.io/client-id': 'my-app' }, 'pod annotation entra-sidecar.io/client-id must be a GUID'],
    [{ 'entra-sidecar.io/tenant-id': 'not a tenant' }, 'entra-sidecar.io/tenant-id must be a tenant GUID or domain'],
    [{ 'entra-sidecar.io/token-expiration': '600' }, 'entra-sidecar.io/token-expiration must be whole seconds from 3600 to 86400'],
    [{ 'entra-sidecar.io/token-expiration': '1h' }, 'entra-sidecar.io/token-expiration must be whole seconds'],
    [{ 'entra-sidecar.io/mode': 'sidecar' }, 'entra-sidecar.io/mode must be one of native, container, init-only'],
    [{ 'entra-sidecar.io/port': '80' }, 'entra-sidecar.io/port must be a port from 1024 to 65535'],
    [{ 'entra-sidecar.io/port': '42351' }, 'must differ from the sidecar health port 42351'],
    [{ 'entra-sidecar.io/mount-path': 'relative/dir' }, 'entra-sidecar.io/mount-path must be an absolute path'],
    [{ 'entra-sidecar.io/mount-path': '/var/run/secrets/kubernetes.io' }, 'must not overlap /var/run/secrets/kubernetes.io/serviceaccount'],
    [{ 'entra-sidecar.io/cpu-request': 'lots' }, 'entra-sidecar.io/cpu-request must be a Kubernetes quantity above 0'],
    [{ 'entra-sidecar.io/memory-request': '200Mi', 'entra-sidecar.io/memory-limit': '100Mi' }, 'the sidecar memory request 200Mi is above its limit 100Mi'],
    [{ 'entra-sidecar.io/inject-env': 'no' }, 'entra-sidecar.io/inject-env must be "true" or "false"'],
    [{ 'entra-sidecar.io/msi-endpoint': 'yes' }, 'entra-sidecar.io/msi-endpoint must be "true" or "false"'],
    [{ 'entra-sidecar.io/tokens': 'storage' }, 'entra-sidecar.io/tokens has "storage": each target must be name=scope'],
    [{ 'entra-sidecar.io/tokens': '../etc=https://x/.default' }, 'it becomes a file name'],
    [{ 'entra-sidecar.io/tokens': 'a=https://x/.default,a=https://y/.default' }, 'names target "a" twice'],
    [{ 'entra-sidecar.io/tokens': 'a=https://x/.default b' }, 'a scope is a resource URI followed by /.default'],
  ])('%o → %s', (ann, expected) => {
    expect(deny(ann)).toContain(expected);
  });

  it('collects every problem into one message', () => {
    const m = deny({ 'entra-sidecar.io/port': 'x', 'entra-sidecar.io/mode': 'y' });
    expect(m).toContain('entra-sidecar.io/port');
    expect(m).toContain('entra-sidecar.io/mode');
  });

  it('a container already using the endpoint port', () => {
    const m = deny({}, undefined, settings(), (p) => p.spec.containers[0]!.ports!.push({ containerPort: 42350 }));
    expect(m).toContain('container api uses port 42350');
    expect(m).toContain('entra-sidecar.io/port');
  });

  it('a container already mounting something at the token path', () => {
    const m = deny({ 'entra-sidecar.io/mount-path': '/etc/orders' });
    expect(m).toContain('container api already mounts volume config at /etc/orders');
    expect(m).toContain('entra-sidecar.io/skip-containers');
  });

  it("an app container using the webhook's reserved init container name", () => {
    const m = deny({}, undefined, settings({ mode: 'container' }), (p) => (p.spec.containers[1]!.name = 'entra-sidecar-init'));
    expect(m).toContain('the container name(s) entra-sidecar-init are reserved');
  });

  it("a pod volume using the webhook's reserved name", () => {
    const m = deny({}, undefined, settings(), (p) => p.spec.volumes!.push({ name: 'entra-sidecar-tokens', emptyDir: {} }));
    expect(m).toContain('reserved for entra-sidecar');
  });
});

describe('options', () => {
  const base = loadPod('deployment-pod');
  const withAnn = (ann: Record<string, string>, s = settings()) => {
    const p = structuredClone(base);
    Object.assign(p.metadata!.annotations!, ann);
    return inject(p, workloadIdentitySa(p), s);
  };

  it('inject-env "false": app containers get only ENTRA_TOKEN_DIR; the sidecar still runs', () => {
    const { pod } = withAnn({ 'entra-sidecar.io/inject-env': 'FALSE' });
    expect(env(byName(pod, 'outbox-worker'))).toEqual({ ENTRA_TOKEN_DIR: '/var/run/secrets/entra' });
    expect(byName(pod, 'outbox-worker')?.volumeMounts?.some((m) => m.name === 'entra-sidecar-tokens')).toBe(true);
    expect(env(byName(pod, 'entra-sidecar')).ENTRA_SIDECAR_IDENTITY_HEADER).toBe(SECRET_1);
  });

  it('skip-containers accepts "," and ";" and spaces, and warns about names the pod lacks', () => {
    const { pod, warnings } = withAnn({ 'entra-sidecar.io/skip-containers': ' outbox-worker ; migrate,ghost' });
    expect(byName(pod, 'outbox-worker')).toEqual(byName(base, 'outbox-worker'));
    expect(byName(pod, 'migrate')).toEqual(byName(base, 'migrate'));
    expect(env(byName(pod, 'api')).IDENTITY_HEADER).toBe(SECRET_1);
    expect(warnings).toEqual(['entra-sidecar.io/skip-containers names ghost, which this pod does not have']);
  });

  it('token-expiration and resources reach the token volume and the sidecar', () => {
    const { pod } = withAnn({
      'entra-sidecar.io/token-expiration': '86400',
      'entra-sidecar.io/cpu-request': '25m',
      'entra-sidecar.io/memory-request': '64Mi',
      'entra-sidecar.io/memory-limit': '128Mi',
    });
    expect(JSON.stringify(pod.spec.volumes)).toContain('"expirationSeconds":86400');
    expect(byName(pod, 'entra-sidecar')?.resources).toEqual({ requests: { cpu: '25m', memory: '64Mi' }, limits: { memory: '128Mi' } });
  });

  it('the authority host and image come from the webhook settings', () => {
    const { pod } = withAnn(
      {},
      settings({ authorityHost: 'https://login.microsoftonline.us', image: 'registry.local/entra-sidecar:9', imagePullPolicy: 'Always' }),
    );
    const sidecar = byName(pod, 'entra-sidecar');
    expect(env(sidecar).AZURE_AUTHORITY_HOST).toBe('https://login.microsoftonline.us');
    expect(sidecar?.image).toBe('registry.local/entra-sidecar:9');
    expect(sidecar?.imagePullPolicy).toBe('Always');
  });
});

describe('many pods under one settings object (options parsed once, the sidecar serialised once)', () => {
  const s = settings({ mode: 'container' });
  const pod = loadPod('deployment-pod');
  const once = (p: Pod, sa: ServiceAccountRef | undefined, secret: string) => mutated(mutatePod(deepFreeze(structuredClone(p)), sa, s, () => secret));

  it('each pod its own header; the JSON of every patch is JSON.stringify of it', () => {
    const a = once(pod, workloadIdentitySa(pod), 'a'.repeat(64));
    const b = once(pod, workloadIdentitySa(pod), 'b'.repeat(64));
    for (const out of [a, b]) expect(serializePatch(out.patch)).toBe(JSON.stringify(out.patch));
    expect(serializePatch(b.patch)).toBe(serializePatch(a.patch).replaceAll('a'.repeat(64), 'b'.repeat(64)));
    expect(env(byName(b.pod, 'entra-sidecar')).ENTRA_SIDECAR_IDENTITY_HEADER).toBe('b'.repeat(64));
  });

  it('another restart policy, ServiceAccount or annotation is parsed for itself', () => {
    const job = structuredClone(pod);
    job.spec.restartPolicy = 'Never';
    expect(once(pod, workloadIdentitySa(pod), 'c'.repeat(64)).pod.spec.containers[0]?.name).toBe('entra-sidecar');
    const j = once(job, workloadIdentitySa(job), 'd'.repeat(64));
    expect(j.pod.spec.containers.map((c) => c.name)).not.toContain('entra-sidecar'); // init-only for a Job
    const other = once(pod, workloadIdentitySa(pod, { 'azure.workload.identity/client-id': '11111111-2222-4333-8444-555555555555' }), 'e'.repeat(64));
    expect(env(byName(other.pod, 'entra-sidecar')).AZURE_CLIENT_ID).toBe('11111111-2222-4333-8444-555555555555');
    const annotated = structuredClone(pod);
    annotated.metadata!.annotations!['entra-sidecar.io/port'] = '42360';
    expect(env(byName(once(annotated, workloadIdentitySa(pod), 'f'.repeat(64)).pod, 'entra-sidecar')).ENTRA_SIDECAR_LISTEN).toContain('42360');
  });
});
