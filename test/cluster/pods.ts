import { recordSecret } from '../helpers/audit.js';
import type { ControlPlane, KubeResponse } from './control-plane.js';
import { uniqueName } from './control-plane.js';

export type Container = {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  restartPolicy?: string;
  startupProbe?: unknown;
  ports?: { name?: string; containerPort: number }[];
};
export type PodShape = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
  };
  spec: {
    serviceAccountName?: string;
    restartPolicy?: string;
    hostNetwork?: boolean;
    initContainers?: Container[];
    containers: Container[];
    volumes?: {
      name: string;
      projected?: {
        sources: {
          serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
          configMap?: { name: string; items?: { key: string; path: string }[] };
          downwardAPI?: { items: { path: string; fieldRef?: { fieldPath: string } }[] };
        }[];
      };
      emptyDir?: unknown;
    }[];
  };
};

/** The opt-in annotation. */
export const INJECT = { 'entra-sidecar.io/inject': 'true' };

/** A plain pod: one app container, the given ServiceAccount and annotations. */
export function podManifest(o: {
  name?: string;
  serviceAccount: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  spec?: Partial<PodShape['spec']>;
}): PodShape {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: o.name ?? uniqueName('pod'), annotations: o.annotations, labels: o.labels },
    spec: {
      serviceAccountName: o.serviceAccount,
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0', command: ['sleep', 'infinity'] }],
      ...(o.spec ?? {}),
    },
  };
}

/** Creates a pod through the API server (admission included); the answer is the stored pod or a Status. */
export async function createPod(
  cp: ControlPlane,
  namespace: string,
  pod: PodShape,
): Promise<KubeResponse<PodShape & { message?: string; code?: number; reason?: string }>> {
  const r = await cp.request<PodShape & { message?: string; code?: number; reason?: string }>('POST', `/api/v1/namespaces/${namespace}/pods`, pod);
  // the per-pod identity header is a secret: no log may contain it
  if (r.status === 201) for (const c of containersOf(r.body)) recordSecret(envOf(c).ENTRA_SIDECAR_IDENTITY_HEADER ?? envOf(c).IDENTITY_HEADER);
  return r;
}

/** Reads a pod back from the API server (what etcd stored). */
export function getPod(cp: ControlPlane, namespace: string, name: string): Promise<PodShape> {
  return cp.must<PodShape>('GET', `/api/v1/namespaces/${namespace}/pods/${name}`);
}

/** The env of a container as a map (literal values only). */
export function envOf(c: Container | undefined): Record<string, string | undefined> {
  return Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));
}

/** Every container of a pod by name (init containers first). */
export function containersOf(pod: PodShape): Container[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
}
