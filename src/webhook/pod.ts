/**
 * The parts of a Kubernetes Pod the webhook reads or writes, as plain JSON types, and the one
 * boundary check that turns an untrusted `request.object` into a `Pod` the mutation can rely on.
 * Fields the webhook does not touch are carried through untouched (`[key: string]: unknown`).
 */

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  [key: string]: unknown;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
  [key: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: EnvVar[];
  envFrom?: unknown[];
  volumeMounts?: VolumeMount[];
  ports?: ContainerPort[];
  restartPolicy?: string;
  [key: string]: unknown;
}

export interface Volume {
  name: string;
  [key: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  hostNetwork?: boolean;
  restartPolicy?: string;
  serviceAccountName?: string;
  serviceAccount?: string;
  automountServiceAccountToken?: boolean;
  [key: string]: unknown;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec: PodSpec;
  [key: string]: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkStringMap(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return `${where} must be a map of strings`;
  for (const [k, val] of Object.entries(v)) if (typeof val !== 'string') return `${where}["${k}"] must be a string`;
  return undefined;
}

function checkContainers(v: unknown, where: string, required: boolean): string | undefined {
  if (v === undefined || v === null) return required ? `${where} is required` : undefined;
  if (!Array.isArray(v)) return `${where} must be a list`;
  if (required && v.length === 0) return `${where} must not be empty`;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    const at = `${where}[${i}]`;
    if (!isObject(c)) return `${at} must be an object`;
    if (typeof c.name !== 'string' || c.name === '') return `${at}.name must be a non-empty string`;
    for (const [field, keys] of [
      ['env', ['name']],
      ['volumeMounts', ['name', 'mountPath']],
    ] as const) {
      const list = c[field];
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) return `${at}.${field} must be a list`;
      for (let j = 0; j < list.length; j++) {
        const item = list[j];
        if (!isObject(item)) return `${at}.${field}[${j}] must be an object`;
        for (const k of keys) if (typeof item[k] !== 'string') return `${at}.${field}[${j}].${k} must be a string`;
      }
    }
    if (c.ports !== undefined && c.ports !== null) {
      if (!Array.isArray(c.ports)) return `${at}.ports must be a list`;
      for (let j = 0; j < c.ports.length; j++) {
        const p = c.ports[j];
        if (!isObject(p)) return `${at}.ports[${j}] must be an object`;
      }
    }
    if (c.envFrom !== undefined && c.envFrom !== null && !Array.isArray(c.envFrom)) return `${at}.envFrom must be a list`;
  }
  return undefined;
}

/**
 * Checks that a value has the Pod shape the mutation relies on (the API server only ever sends
 * valid pods; this guards against anything else). Returns the first problem, or undefined.
 *
 * @example
 * checkPodShape({ spec: { containers: [] } }) // 'spec.containers must not be empty'
 */
export function checkPodShape(value: unknown): string | undefined {
  if (!isObject(value)) return 'the object must be a Pod';
  const meta = value.metadata;
  if (meta !== undefined && meta !== null) {
    if (!isObject(meta)) return 'metadata must be an object';
    const problem = checkStringMap(meta.annotations, 'metadata.annotations') ?? checkStringMap(meta.labels, 'metadata.labels');
    if (problem) return problem;
    for (const k of ['name', 'generateName', 'namespace'] as const) {
      if (meta[k] !== undefined && meta[k] !== null && typeof meta[k] !== 'string') return `metadata.${k} must be a string`;
    }
  }
  const spec = value.spec;
  if (!isObject(spec)) return 'spec must be an object';
  const problem = checkContainers(spec.containers, 'spec.containers', true) ?? checkContainers(spec.initContainers, 'spec.initContainers', false);
  if (problem) return problem;
  if (spec.volumes !== undefined && spec.volumes !== null) {
    if (!Array.isArray(spec.volumes)) return 'spec.volumes must be a list';
    for (let i = 0; i < spec.volumes.length; i++) {
      const v = spec.volumes[i];
      if (!isObject(v) || typeof v.name !== 'string') return `spec.volumes[${i}].name must be a string`;
    }
  }
  for (const k of ['serviceAccountName', 'serviceAccount', 'restartPolicy'] as const) {
    if (spec[k] !== undefined && spec[k] !== null && typeof spec[k] !== 'string') return `spec.${k} must be a string`;
  }
  return undefined;
}

/** A name for logs and messages: the pod name, or `<generateName>*` for a controller's pod. */
export function podDisplayName(pod: Pod, requestName?: string): string {
  const meta = pod.metadata ?? {};
  if (meta.name) return meta.name;
  if (requestName) return requestName;
  if (meta.generateName) return `${meta.generateName}*`;
  return '(unnamed)';
}

/** The pod's ServiceAccount name; an empty name means `default`, as the API server does. */
export function serviceAccountNameOf(pod: Pod): string {
  return pod.spec.serviceAccountName || pod.spec.serviceAccount || 'default';
}
