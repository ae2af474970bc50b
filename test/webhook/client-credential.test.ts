import { describe, expect, it } from 'vitest';
import { parseSidecarConfig } from '../../src/config/sidecar.js';
import { mutatePod, type MutationOutcome } from '../../src/webhook/mutate.js';
import { createJsonPatch } from '../../src/webhook/patch.js';
import type { Pod } from '../../src/webhook/pod.js';
import { allContainers, applyJsonPatch, assertValidPod, byName, CLIENT_ID, env, secretSequence, settings, TENANT_ID } from './pod-checks.js';

function pod(annotations: Record<string, string>, extra: Partial<Pod['spec']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'app',
      namespace: 'team-a',
      annotations: {
        'entra-sidecar.io/inject': 'true',
        'entra-sidecar.io/client-id': CLIENT_ID,
        'entra-sidecar.io/tenant-id': TENANT_ID,
        'entra-sidecar.io/tokens': 'storage=https://storage.azure.com/.default',
        ...annotations,
      },
    },
    spec: {
      serviceAccountName: 'app',
      containers: [{ name: 'app', image: 'ghcr.io/example/app:1' }],
      initContainers: [{ name: 'migrate', image: 'ghcr.io/example/migrate:1' }],
      ...extra,
    },
  } as Pod;
}

function injected(p: Pod, mode: 'native' | 'container' = 'native'): Pod {
  const out: MutationOutcome = mutatePod(p, undefined, settings({ mode }), secretSequence());
  if (out.kind !== 'mutated') throw new Error(`expected a mutation: ${'message' in out ? out.message : out.reason}`);
  const patched = applyJsonPatch(p, createJsonPatch(p, out.pod));
  assertValidPod(patched);
  // a second pass (reinvocation) adds nothing, and never the service-account token
  const again = mutatePod(patched, undefined, settings({ mode }), () => 'x'.repeat(64));
  expect(again.kind === 'mutated' ? createJsonPatch(patched, again.pod) : again).toEqual([]);
  return patched;
}

function deniedMessage(p: Pod): string {
  const out = mutatePod(p, undefined, settings(), secretSequence());
  if (out.kind !== 'denied') throw new Error(`expected a denial, got ${out.kind}`);
  return out.message;
}

describe('entra-sidecar.io/client-secret and client-certificate', () => {
  it('client-secret: the Secret key is mounted read-only into the sidecar only; no service-account token at all; the sidecar parses its env', () => {
    const p = injected(pod({ 'entra-sidecar.io/client-secret': 'app-sp/secret' }));
    const vol = p.spec.volumes?.find((v) => v.name === 'entra-sidecar-client-credential');
    expect(vol).toEqual({
      name: 'entra-sidecar-client-credential',
      secret: { secretName: 'app-sp', items: [{ key: 'secret', path: 'secret' }], defaultMode: 0o444 },
    });
    expect(JSON.stringify(p.spec.volumes)).not.toContain('serviceAccountToken');
    const sidecar = byName(p, 'entra-sidecar');
    expect(sidecar?.volumeMounts).toContainEqual({
      name: 'entra-sidecar-client-credential',
      mountPath: '/var/run/secrets/entra-sidecar/client-secret',
      readOnly: true,
    });
    expect(env(sidecar).ENTRA_SIDECAR_CLIENT_SECRET_FILE).toBe('/var/run/secrets/entra-sidecar/client-secret/secret');
    expect(env(sidecar).AZURE_FEDERATED_TOKEN_FILE).toBeUndefined();
    for (const c of allContainers(p).filter((c) => c.name !== 'entra-sidecar')) {
      expect((c.volumeMounts ?? []).map((m) => m.name)).not.toContain('entra-sidecar-client-credential');
    }
    const config = parseSidecarConfig((sidecar?.args ?? []).slice(1), Object.fromEntries(Object.entries(env(sidecar)).map(([k, v]) => [k, v ?? ''])));
    expect(config.credential).toMatchObject({ kind: 'client_secret', file: '/var/run/secrets/entra-sidecar/client-secret/secret' });
  });

  it("client-secret without a key uses client-secret; with the pod's fsGroup the files are 0440", () => {
    const p = injected(pod({ 'entra-sidecar.io/client-secret': 'app-sp' }, { securityContext: { fsGroup: 2000 } }));
    expect(p.spec.volumes?.find((v) => v.name === 'entra-sidecar-client-credential')).toMatchObject({
      secret: { secretName: 'app-sp', items: [{ key: 'client-secret', path: 'client-secret' }], defaultMode: 0o440 },
    });
  });

  it('client-certificate: a kubernetes.io/tls Secret (tls.crt + tls.key) in the sidecar and the --once init container (container mode), never in app containers', () => {
    const p = injected(pod({ 'entra-sidecar.io/client-certificate': 'app-tls' }), 'container');
    expect(p.spec.volumes?.find((v) => v.name === 'entra-sidecar-client-credential')).toMatchObject({
      secret: {
        secretName: 'app-tls',
        items: [
          { key: 'tls.crt', path: 'tls.crt' },
          { key: 'tls.key', path: 'tls.key' },
        ],
      },
    });
    for (const name of ['entra-sidecar', 'entra-sidecar-init']) {
      const c = byName(p, name);
      expect(c?.volumeMounts).toContainEqual({
        name: 'entra-sidecar-client-credential',
        mountPath: '/var/run/secrets/entra-sidecar/client-certificate',
        readOnly: true,
      });
      expect(env(c)).toMatchObject({
        ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE: '/var/run/secrets/entra-sidecar/client-certificate/tls.crt',
        ENTRA_SIDECAR_CLIENT_CERTIFICATE_KEY_FILE: '/var/run/secrets/entra-sidecar/client-certificate/tls.key',
      });
    }
    for (const name of ['app', 'migrate']) expect((byName(p, name)?.volumeMounts ?? []).map((m) => m.name)).toEqual(['entra-sidecar-tokens']);
  });

  it('client-certificate with a key: that one file (PEM or PKCS#12)', () => {
    const p = injected(pod({ 'entra-sidecar.io/client-certificate': 'app-cert/client.pem' }));
    expect(env(byName(p, 'entra-sidecar')).ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE).toBe('/var/run/secrets/entra-sidecar/client-certificate/client.pem');
    expect(env(byName(p, 'entra-sidecar')).ENTRA_SIDECAR_CLIENT_CERTIFICATE_KEY_FILE).toBeUndefined();
  });

  it('invalid combinations are denied with a message naming the fix', () => {
    expect(deniedMessage(pod({ 'entra-sidecar.io/client-secret': 'a', 'entra-sidecar.io/client-certificate': 'b' }))).toMatch(
      /annotations entra-sidecar.io\/client-secret and entra-sidecar.io\/client-certificate are both set, but the sidecar uses exactly one credential: keep one/,
    );
    expect(deniedMessage(pod({ 'entra-sidecar.io/client-secret': 'a', 'entra-sidecar.io/token-expiration': '7200' }))).toMatch(
      /annotation entra-sidecar.io\/token-expiration applies only to federation .* remove entra-sidecar.io\/token-expiration/,
    );
    expect(deniedMessage(pod({ 'entra-sidecar.io/client-secret': 'App_SP' }))).toMatch(
      /annotation entra-sidecar.io\/client-secret must be <secret-name>\[\/<key>\] with the name of a Secret in the pod's namespace/,
    );
    expect(deniedMessage(pod({ 'entra-sidecar.io/client-certificate': 'app/a/b' }))).toMatch(/the key after '\/' must be a Secret data key/);
    expect(deniedMessage(pod({ 'entra-sidecar.io/client-secret': 'app/..' }))).toMatch(/the key after '\/' must be a Secret data key/);
  });

  it('the credential volume name is reserved: a pod that already uses it is denied', () => {
    const p = pod({ 'entra-sidecar.io/client-secret': 'app-sp' }, { volumes: [{ name: 'entra-sidecar-client-credential', emptyDir: {} }] });
    expect(deniedMessage(p)).toMatch(/the volume name\(s\) entra-sidecar-client-credential are reserved for entra-sidecar/);
    const federated = pod({}, { volumes: [{ name: 'entra-sidecar-client-credential', emptyDir: {} }] });
    expect(deniedMessage(federated)).toMatch(/reserved for entra-sidecar/);
  });
});
