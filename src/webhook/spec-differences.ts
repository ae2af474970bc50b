import { parseQuantity } from './quantity.js';

/**
 * Compares a container or volume found in a pod with the one the webhook would build, the way the
 * API server stores them: a field the API server fills with its default (core/v1 defaulting, which
 * runs after every mutating webhook, so a reinvoked webhook sees it) counts as absent, and
 * resource quantities compare by value (`0.1` = `100m`). Everything else must be equal: an extra
 * field, a missing one, another value or another list length is a difference.
 *
 * Returns the paths that differ (`env[4].value`, `securityContext.privileged`), never the values:
 * they may hold the identity header.
 *
 * @example
 * specDifferences(found, buildSidecarContainer(options, settings, header, 'native')) // [] when unchanged
 */
export function specDifferences(found: unknown, expected: unknown): string[] {
  const out: string[] = [];
  compare(found, expected, '', out);
  return out;
}

/** Where the API server's ServiceAccount admission plugin mounts the Kubernetes API token. */
const API_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
const API_TOKEN_VOLUME = /^kube-api-access-[a-z0-9]{5}$/;

/**
 * A container without what the API server's own admission plugins add to every container of a pod
 * (the ServiceAccount plugin, reinvoked after a webhook adds containers, mounts the Kubernetes API
 * token volume `kube-api-access-xxxxx` read-only at /var/run/secrets/kubernetes.io/serviceaccount).
 * Exactly that mount and nothing like it: another name, path or option stays and is a difference.
 */
export function withoutApiServerAdditions<C extends { volumeMounts?: Array<Record<string, unknown>> }>(container: C): C {
  const mounts = container.volumeMounts;
  if (!mounts) return container;
  const kept = mounts.filter(
    (m) =>
      !(Object.keys(m).length === 3 && typeof m.name === 'string' && API_TOKEN_VOLUME.test(m.name) && m.mountPath === API_TOKEN_PATH && m.readOnly === true),
  );
  return kept.length === mounts.length ? container : { ...container, volumeMounts: kept };
}

/** Defaults the API server writes into containers and volumes (k8s.io/kubernetes pkg/apis/core/v1/defaults.go). */
const DEFAULTS: ReadonlyArray<readonly [RegExp, unknown]> = [
  [/^terminationMessagePath$/, '/dev/termination-log'],
  [/^terminationMessagePolicy$/, 'File'],
  [/^ports\[\]\.protocol$/, 'TCP'],
  [/^(startup|liveness|readiness)Probe\.timeoutSeconds$/, 1],
  [/^(startup|liveness|readiness)Probe\.periodSeconds$/, 10],
  [/^(startup|liveness|readiness)Probe\.successThreshold$/, 1],
  [/^(startup|liveness|readiness)Probe\.failureThreshold$/, 3],
  [/^(startup|liveness|readiness)Probe\.httpGet\.scheme$/, 'HTTP'],
  [/^env\[\]\.valueFrom\.fieldRef\.apiVersion$/, 'v1'],
  [/^(projected|secret|configMap|downwardAPI)\.defaultMode$/, 0o644],
  [/^projected\.sources\[\]\.serviceAccountToken\.expirationSeconds$/, 3600],
];

const QUANTITY_PATH = /^resources\.(requests|limits)\.[^.]+$|^emptyDir\.sizeLimit$/;

function isDefault(path: string, value: unknown): boolean {
  const generic = path.replace(/\[\d+\]/g, '[]');
  return DEFAULTS.some(([p, v]) => p.test(generic) && v === value);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function compare(found: unknown, expected: unknown, path: string, out: string[]): void {
  if (Array.isArray(found) && Array.isArray(expected)) {
    if (found.length !== expected.length) {
      out.push(`${path} (${found.length} entries, expected ${expected.length})`);
      return;
    }
    found.forEach((f, i) => compare(f, expected[i], `${path}[${i}]`, out));
    return;
  }
  if (isObject(found) && isObject(expected)) {
    for (const key of new Set([...Object.keys(found), ...Object.keys(expected)])) {
      const at = path === '' ? key : `${path}.${key}`;
      const f = found[key];
      const e = expected[key];
      if (f === undefined && e === undefined) continue;
      if (e === undefined && isDefault(at, f)) continue;
      if (f === undefined && isDefault(at, e)) continue;
      compare(f, e, at, out);
    }
    return;
  }
  if (found === expected) return;
  if (typeof found === 'string' && typeof expected === 'string' && QUANTITY_PATH.test(path)) {
    const a = parseQuantity(found);
    if (a !== undefined && a === parseQuantity(expected)) return;
  }
  out.push(path === '' ? '(the whole object)' : path);
}
