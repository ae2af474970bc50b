import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fjp from 'fast-json-patch';
import { Pod as PodModel } from 'kubernetes-models/v1';
import { expect } from 'vitest';
import type { Container, Pod } from '../../src/webhook/pod.js';
import type { MutationSettings } from '../../src/webhook/settings.js';
import { DEFAULT_SIDECAR_SETTINGS } from '../../src/webhook/settings.js';
import type { ServiceAccountRef } from '../../src/webhook/annotations.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

/** A pod fixture from test/fixtures/pods. */
export function loadPod(name: string): Pod {
  return JSON.parse(readFileSync(join(FIXTURES, 'pods', `${name}.json`), 'utf8')) as Pod;
}

export const CLIENT_ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
export const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';

export function settings(overrides: Partial<MutationSettings> = {}): MutationSettings {
  return { ...DEFAULT_SIDECAR_SETTINGS, image: 'ghcr.io/entra-sidecar/entra-sidecar:0.1.0', mode: 'native', ...overrides };
}

/** A ServiceAccount annotated the Azure Workload Identity way. */
export function workloadIdentitySa(pod: Pod, extra: Record<string, string> = {}): ServiceAccountRef {
  return {
    namespace: pod.metadata?.namespace ?? 'default',
    name: pod.spec.serviceAccountName ?? 'default',
    annotations: { 'azure.workload.identity/client-id': CLIENT_ID, 'azure.workload.identity/tenant-id': TENANT_ID, ...extra },
  };
}

/** Deterministic secrets: `secret-1`, `secret-2`, … padded to 64 hex-looking characters. */
export function secretSequence(): () => string {
  let n = 0;
  return () => `${String(++n).padStart(4, '0')}${'ab'.repeat(30)}`;
}

/** Freezes a value deeply: any write to it (the mutation must copy, never modify its input) throws. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/** Applies an RFC 6902 patch with a standard library (validating every operation) to a copy. */
export function applyJsonPatch<T>(doc: T, patch: unknown[]): T {
  return fjp.applyPatch(structuredClone(doc), patch as fjp.Operation[], true, false).newDocument;
}

/**
 * Applies a patch as the API server's library (evanphx/json-patch) does, stricter than
 * fast-json-patch: `replace` and `remove` need the member to exist, `add` an existing parent and, in
 * a list, an index at most its length. Returns the patched copy.
 */
export function applyJsonPatchStrictly<T>(doc: T, patch: Array<{ op: string; path: string }>): T {
  let current = structuredClone(doc);
  for (const op of patch) {
    const segments = op.path.split('/').slice(1);
    const parentPath = segments.length > 1 ? `/${segments.slice(0, -1).join('/')}` : '';
    const last = (segments.at(-1) ?? '').replace(/~1/g, '/').replace(/~0/g, '~');
    const parent = parentPath === '' ? current : fjp.getValueByPointer(current, parentPath);
    expect(parent !== null && typeof parent === 'object', `${op.op} ${op.path}: no parent`).toBe(true);
    if (Array.isArray(parent)) {
      const i = Number(last);
      expect(Number.isInteger(i) && i >= 0 && i <= parent.length - (op.op === 'add' ? 0 : 1), `${op.op} ${op.path}: index out of range`).toBe(true);
    } else if (op.op !== 'add') {
      expect(Object.hasOwn(parent, last) && (parent as Record<string, unknown>)[last] !== undefined, `${op.op} ${op.path}: no such member`).toBe(true);
    }
    current = fjp.applyPatch(current, [op as fjp.Operation], true, false).newDocument;
  }
  return current;
}

export const allContainers = (pod: Pod): Container[] => [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
export const env = (c: Container | undefined): Record<string, string | undefined> => Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));
export const byName = (pod: Pod, name: string): Container | undefined => allContainers(pod).find((c) => c.name === name);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * What the API server would reject, beyond the OpenAPI schema: the rules of ValidatePod that an
 * injected pod could break. Also checks that the federated token volume reaches only the sidecar.
 */
export function assertValidPod(pod: Pod): void {
  expect(() => new PodModel(pod as never).validate()).not.toThrow();
  const containers = allContainers(pod);
  const names = containers.map((c) => c.name);
  expect(new Set(names).size, `container names unique: ${names.join(',')}`).toBe(names.length);
  for (const n of names) expect(n).toMatch(DNS_LABEL);
  const volumes = (pod.spec.volumes ?? []).map((v) => v.name);
  expect(new Set(volumes).size, `volume names unique: ${volumes.join(',')}`).toBe(volumes.length);
  for (const c of containers) {
    const mounts = c.volumeMounts ?? [];
    for (const m of mounts) expect(volumes, `${c.name} mounts ${m.name}, which must be a volume`).toContain(m.name);
    const paths = mounts.map((m) => m.mountPath);
    expect(new Set(paths).size, `${c.name}: mount paths unique`).toBe(paths.length);
    const envNames = (c.env ?? []).map((e) => e.name);
    expect(new Set(envNames).size, `${c.name}: env names unique`).toBe(envNames.length);
    const portNames = (c.ports ?? []).map((p) => p.name).filter(Boolean) as string[];
    for (const p of portNames) expect(p.length).toBeLessThanOrEqual(15);
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
      const port = (c[probe] as { httpGet?: { port?: unknown } } | undefined)?.httpGet?.port;
      if (typeof port === 'string') expect(portNames, `${c.name}.${probe} names port ${port}`).toContain(port);
    }
  }
  for (const c of pod.spec.initContainers ?? []) {
    if (c.restartPolicy !== undefined) expect(c.restartPolicy).toBe('Always');
    if (c.restartPolicy !== 'Always') {
      for (const f of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe'])
        expect(c[f], `${c.name}: ${f} needs restartPolicy Always`).toBeUndefined();
    }
  }
  for (const c of pod.spec.containers) expect(c.restartPolicy, `${c.name}: restartPolicy only on init containers`).toBeUndefined();
  assertFederatedTokenOnlyInSidecar(pod);
  assertSecretsOnlyInSidecar(pod);
}

/** A Secret volume the webhook added (the client secret or certificate) is mounted only by the webhook's own containers, read-only. */
export function assertSecretsOnlyInSidecar(pod: Pod): void {
  const secrets = (pod.spec.volumes ?? []).filter((v) => v.name.startsWith('entra-sidecar') && 'secret' in v).map((v) => v.name);
  for (const c of allContainers(pod)) {
    for (const m of c.volumeMounts ?? []) {
      if (!secrets.includes(m.name)) continue;
      expect(['entra-sidecar', 'entra-sidecar-init'], `${c.name} must not mount the client credential`).toContain(c.name);
      expect(m.readOnly, `${c.name} mounts the client credential read-only`).toBe(true);
    }
    const e = env(c);
    for (const k of ['ENTRA_SIDECAR_CLIENT_SECRET_FILE', 'ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE', 'AZURE_CLIENT_SECRET', 'AZURE_CLIENT_CERTIFICATE_PATH']) {
      if (!['entra-sidecar', 'entra-sidecar-init'].includes(c.name)) expect(e[k], `${c.name} gets no ${k}`).toBeUndefined();
    }
  }
}

/** The projected token with audience api://AzureADTokenExchange is mounted only by the webhook's own containers. */
export function assertFederatedTokenOnlyInSidecar(pod: Pod): void {
  const federated = (pod.spec.volumes ?? []).filter((v) => JSON.stringify(v).includes('api://AzureADTokenExchange')).map((v) => v.name);
  for (const c of allContainers(pod)) {
    const mountsIt = (c.volumeMounts ?? []).some((m) => federated.includes(m.name));
    if (mountsIt) expect(['entra-sidecar', 'entra-sidecar-init'], `${c.name} must not mount the federated token`).toContain(c.name);
    expect(env(c).AZURE_FEDERATED_TOKEN_FILE === undefined || ['entra-sidecar', 'entra-sidecar-init'].includes(c.name)).toBe(true);
  }
}
