import { spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { CHART, type KubeObject } from '../chart/tools.js';
import { runTool, type ControlPlane } from './control-plane.js';

/** The helm command line for `values` (JSON-encoded with --set-json, so types are exact). */
export function setJsonArgs(values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`]);
}

/** `helm install` of charts/entra-sidecar into `namespace` of the test cluster. */
export function helmInstall(cp: ControlPlane, helm: string, release: string, namespace: string, values: Record<string, unknown>, extra: string[] = []) {
  return runTool(helm, ['install', release, CHART, '--namespace', namespace, '--kubeconfig', cp.adminKubeconfig, ...setJsonArgs(values), ...extra], {
    env: {
      PATH: process.env.PATH,
      HOME: cp.dir,
      HELM_CACHE_HOME: `${cp.dir}/helm-cache`,
      HELM_CONFIG_HOME: `${cp.dir}/helm-config`,
      HELM_DATA_HOME: `${cp.dir}/helm-data`,
    },
  });
}

/** The API path of an object (namespaced or cluster-scoped) for the kinds the chart renders. */
export function objectPath(o: KubeObject, namespace?: string): string {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const plural: Record<string, string> = {
    Namespace: 'namespaces',
    ServiceAccount: 'serviceaccounts',
    Secret: 'secrets',
    Service: 'services',
    ConfigMap: 'configmaps',
    Pod: 'pods',
    Deployment: 'deployments',
    PodDisruptionBudget: 'poddisruptionbudgets',
    ClusterRole: 'clusterroles',
    ClusterRoleBinding: 'clusterrolebindings',
    Role: 'roles',
    RoleBinding: 'rolebindings',
    MutatingWebhookConfiguration: 'mutatingwebhookconfigurations',
  };
  const resource = plural[o.kind];
  if (!resource) throw new Error(`no API path known for kind ${o.kind}`);
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const clusterScoped = ['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration'].includes(o.kind);
  const ns = o.metadata.namespace ?? namespace;
  return clusterScoped ? `${base}/${resource}/${o.metadata.name}` : `${base}/namespaces/${ns}/${resource}/${o.metadata.name}`;
}

/** Kinds that come from CRDs (prometheus-operator, cert-manager), not installed on the test cluster. */
export function isCustomResource(o: KubeObject): boolean {
  return /^(monitoring\.coreos\.com|cert-manager\.io)\//.test(o.apiVersion);
}

/** `helm template` for a release name and namespace: exit status, stderr, the parsed objects. */
export function helmTemplateFor(
  helm: string,
  release: string,
  namespace: string,
  values: Record<string, unknown>,
  extra: string[] = [],
): { status: number; stderr: string; objects: KubeObject[] } {
  const run = spawnSync(helm, ['template', release, CHART, '--namespace', namespace, ...setJsonArgs(values), ...extra], { encoding: 'utf8', timeout: 60_000 });
  const objects =
    run.status === 0
      ? parseAllDocuments(run.stdout)
          .map((d) => d.toJS() as KubeObject | null)
          .filter((o): o is KubeObject => o !== null)
      : [];
  return { status: run.status ?? -1, stderr: run.stderr, objects };
}
