import fc from 'fast-check';
import type { ServiceAccountRef } from '../../src/webhook/annotations.js';
import type { Container, Pod, Volume } from '../../src/webhook/pod.js';
import type { MutationSettings } from '../../src/webhook/settings.js';
import { CLIENT_ID, settings, TENANT_ID } from './pod-checks.js';

/**
 * Random but valid pods: unique container and volume names (sometimes the webhook's own, or
 * clashing ones), mounts of existing volumes at unique paths, env with values and valueFrom,
 * envFrom, ports, native sidecars among init containers, and random (valid or invalid) annotations.
 */

const containerName = fc.oneof(
  { weight: 12, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/) },
  { weight: 2, arbitrary: fc.constantFrom('entra-sidecar', 'entra-sidecar-init', 'istio-proxy', 'daprd') },
);
const volumeName = fc.oneof(
  { weight: 20, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,8}[a-z0-9]$/) },
  { weight: 1, arbitrary: fc.constantFrom('entra-sidecar-tokens', 'entra-sidecar-sa-token', 'kube-api-access-x') },
);
const envName = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,12}$/) },
  { weight: 1, arbitrary: fc.constantFrom('IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'AZURE_CLIENT_ID', 'ENTRA_TOKEN_DIR', 'MSI_ENDPOINT') },
);
const envVar = fc
  .record({ name: envName, value: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }) })
  .map((e) => (e.value === undefined ? { name: e.name, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } } : { name: e.name, value: e.value }));
const mountPath = fc.oneof(
  { weight: 10, arbitrary: fc.stringMatching(/^\/[a-z]{1,8}(\/[a-z]{1,6})?$/) },
  { weight: 1, arbitrary: fc.constantFrom('/var/run/secrets/entra', '/run/entra', '/var/run/secrets/kubernetes.io/serviceaccount') },
);
const port = fc.oneof({ weight: 10, arbitrary: fc.integer({ min: 1, max: 65535 }) }, { weight: 1, arbitrary: fc.constantFrom(42350, 42351, 43000) });

function container(name: string, volumes: string[], init: boolean) {
  return fc
    .record({
      env: fc.option(fc.uniqueArray(envVar, { selector: (e) => e.name, maxLength: 5 }), { nil: undefined }),
      envFrom: fc.option(fc.constant<unknown[]>([{ configMapRef: { name: 'settings' } }]), { nil: undefined }),
      mounts: fc.uniqueArray(fc.record({ name: fc.constantFrom(...(volumes.length ? volumes : ['_none'])), mountPath, readOnly: fc.boolean() }), {
        selector: (m) => m.mountPath,
        maxLength: volumes.length ? 3 : 0,
      }),
      ports: fc.option(fc.uniqueArray(port, { maxLength: 2 }), { nil: undefined }),
      native: init ? fc.boolean() : fc.constant(false),
    })
    .map((r): Container => {
      const c: Container = { name, image: `registry.example/${name}:1` };
      if (r.env) c.env = r.env;
      if (r.envFrom) c.envFrom = r.envFrom;
      if (r.mounts.length) c.volumeMounts = r.mounts;
      if (r.ports) c.ports = r.ports.map((p) => ({ containerPort: p, protocol: 'TCP' }));
      if (r.native) c.restartPolicy = 'Always';
      return c;
    });
}

/** Mostly valid values, sometimes an invalid one. */
const values = (valid: string[], invalid: string[]) =>
  fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom(...invalid) });

const annotationValues: Record<string, fc.Arbitrary<string>> = {
  'entra-sidecar.io/tokens': values(
    ['storage=https://storage.azure.com/.default', 'a=x,b=y', ' pg = https://ossrdbms-aad.database.windows.net/.default '],
    ['', 'bad'],
  ),
  'entra-sidecar.io/token-expiration': values(['3600', '86400', '7200'], ['10', 'x']),
  'entra-sidecar.io/mode': values(['native', 'container', 'init-only', 'INIT-ONLY'], ['bogus']),
  'entra-sidecar.io/port': values(['43000', '65535'], ['42351', '80', 'x']),
  'entra-sidecar.io/mount-path': values(['/run/entra', '/var/run/secrets/entra/', '/data'], ['rel', '/a/../b']),
  'entra-sidecar.io/cpu-request': values(['10m', '1.5'], ['0', 'x']),
  'entra-sidecar.io/memory-request': values(['48Mi', '64M'], ['1Gi', '0']),
  'entra-sidecar.io/memory-limit': values(['96Mi', '128Mi'], ['32Mi', 'x']),
  'entra-sidecar.io/inject-env': values(['true', 'false'], ['maybe']),
  'entra-sidecar.io/msi-endpoint': values(['true', 'false', 'TRUE'], ['1']),
  'entra-sidecar.io/client-id': values([CLIENT_ID], ['not-a-guid']),
  'entra-sidecar.io/tenant-id': values([TENANT_ID, 'contoso.onmicrosoft.com'], ['bad tenant']),
};

export const podArbitrary: fc.Arbitrary<Pod> = fc
  .record({
    volumeNames: fc.uniqueArray(volumeName, { maxLength: 4 }),
    names: fc.uniqueArray(containerName, { minLength: 1, maxLength: 6 }),
    initCount: fc.nat({ max: 3 }),
    inject: fc.constantFrom('true', 'True', 'false', undefined),
    extra: fc.subarray(Object.keys(annotationValues), { maxLength: 4 }),
    skip: fc.boolean(),
    restartPolicy: fc.constantFrom('Always', 'Never', 'OnFailure', undefined),
    hostNetwork: fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant(true) }),
    serviceAccountName: fc.constantFrom('app', '', undefined),
    named: fc.boolean(),
  })
  .chain((r) => {
    const initCount = Math.min(r.initCount, r.names.length - 1);
    const initNames = r.names.slice(0, initCount);
    const appNames = r.names.slice(initCount);
    return fc
      .record({
        inits: fc.tuple(...initNames.map((n) => container(n, r.volumeNames, true))),
        apps: fc.tuple(...appNames.map((n) => container(n, r.volumeNames, false))),
        values: fc.tuple(...r.extra.map((k) => annotationValues[k] as fc.Arbitrary<string>)),
        skipNames: fc.subarray(r.names),
      })
      .map(({ inits, apps, values, skipNames }): Pod => {
        const annotations: Record<string, string> = {};
        if (r.inject !== undefined) annotations['entra-sidecar.io/inject'] = r.inject;
        r.extra.forEach((k, i) => (annotations[k] = values[i] as string));
        if (r.skip) annotations['entra-sidecar.io/skip-containers'] = skipNames.join(';');
        const volumes: Volume[] = r.volumeNames.map((name, i) => (i % 2 ? { name, emptyDir: {} } : { name, configMap: { name: `cm-${name}` } }));
        const pod: Pod = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { ...(r.named ? { name: 'p' } : { generateName: 'p-' }), namespace: 'ns', annotations },
          spec: { containers: apps as Container[] },
        };
        if (inits.length) pod.spec.initContainers = inits as Container[];
        if (volumes.length) pod.spec.volumes = volumes;
        if (r.restartPolicy) pod.spec.restartPolicy = r.restartPolicy;
        if (r.hostNetwork) pod.spec.hostNetwork = true;
        if (r.serviceAccountName !== undefined) pod.spec.serviceAccountName = r.serviceAccountName;
        return pod;
      });
  });

export const serviceAccountArbitrary: fc.Arbitrary<ServiceAccountRef | undefined> = fc.option(
  fc.record({
    namespace: fc.constant('ns'),
    name: fc.constant('app'),
    annotations: fc.oneof(
      {
        weight: 6,
        arbitrary: fc.constant<Record<string, string>>({ 'azure.workload.identity/client-id': CLIENT_ID, 'azure.workload.identity/tenant-id': TENANT_ID }),
      },
      { weight: 2, arbitrary: fc.constant<Record<string, string>>({ 'azure.workload.identity/client-id': CLIENT_ID }) },
      { weight: 1, arbitrary: fc.constantFrom<Record<string, string>>({}, { 'entra-sidecar.io/client-id': 'x' }) },
    ),
  }),
  { nil: undefined, freq: 8 },
);

export const settingsArbitrary: fc.Arbitrary<MutationSettings> = fc
  .record({ mode: fc.constantFrom('native' as const, 'container' as const), tenant: fc.option(fc.constant(TENANT_ID), { nil: undefined }) })
  .map((r) => settings({ mode: r.mode, defaultTenantId: r.tenant }));
