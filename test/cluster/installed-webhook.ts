import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificateAuthority, issueServingCertificate, serviceDnsNames } from '../../src/webhook/certificates.js';
import { helmInstall } from './chart.js';
import { uniqueName, type ControlPlane } from './control-plane.js';
import { loopbackArgs, startWebhookProcess, type WebhookProcess } from './webhook-process.js';

type EnvEntry = { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } };
type StoredDeployment = { spec: { template: { spec: { serviceAccountName: string; containers: { args: string[]; env?: EnvEntry[] }[] } } } };

/** The chart installed on the test cluster, and the webhook running as a process in its place. */
export interface InstalledWebhook {
  namespace: string;
  release: string;
  /** the chart's full name: Deployment, Service, MutatingWebhookConfiguration, ClusterRole */
  fullname: string;
  serviceAccount: string;
  /** the container args of the Deployment as stored by the API server */
  deploymentArgs: string[];
  /** the environment the Deployment gives the container, fieldRefs resolved */
  deploymentEnv: Record<string, string>;
  /** a kubeconfig holding a TokenRequest token of the chart's own ServiceAccount */
  kubeconfig: string;
  /** the Service's ClusterIP:443, as the API server asks the "cluster" egress for it */
  serviceTarget: string;
  /** the running replica (see start) */
  webhook: WebhookProcess;
  /** starts one more replica (or a new one after stop); the egress routes the Service to the newest */
  start(options?: { route?: boolean; name?: string }): Promise<WebhookProcess>;
}

export interface InstallOptions {
  /** chart values on top of the test's own (TLS) */
  values?: Record<string, unknown>;
  /** `existingSecret` (default: a CA and certificate made here, in a Secret) or `selfManaged` */
  tls?: 'existingSecret' | 'selfManaged';
  /** don't start the webhook */
  noStart?: boolean;
}

/**
 * Installs the chart with `helm install` into a fresh namespace and runs the webhook the way its
 * Deployment would: the stored Deployment's args (listen addresses moved to loopback, TLS files
 * written from the Secret as kubelet would mount them), its env, and a kubeconfig holding a token of
 * the chart's ServiceAccount, so the chart's RBAC is what the webhook has. The API server reaches
 * it through the chart's Service (clientConfig unchanged), routed by the test's egress proxy.
 */
export async function installWebhook(cp: ControlPlane, helm: string, options: InstallOptions = {}): Promise<InstalledWebhook> {
  const namespace = await cp.namespace('entra-system');
  const release = uniqueName('es').slice(0, 20);
  const fullname = `${release}-entra-sidecar`;
  const tlsMode = options.tls ?? 'existingSecret';
  const dir = mkdtempSync(join(cp.dir, 'webhook-'));
  const values: Record<string, unknown> = { ...(options.values ?? {}) };

  if (tlsMode === 'existingSecret') {
    const ca = await createCertificateAuthority('entra-sidecar test webhook CA', 30, new Date());
    const pair = await issueServingCertificate(ca, serviceDnsNames(fullname, namespace), 30, new Date());
    const secretName = `${fullname}-serving`;
    await cp.must('POST', `/api/v1/namespaces/${namespace}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: secretName },
      data: { 'tls.crt': Buffer.from(pair.cert).toString('base64'), 'tls.key': Buffer.from(pair.key).toString('base64') },
    });
    values['tls.mode'] = 'existingSecret';
    values['tls.existingSecret.name'] = secretName;
    values['tls.existingSecret.caBundle'] = Buffer.from(ca.cert).toString('base64');
  }

  const installed = await helmInstall(cp, helm, release, namespace, values);
  if (installed.code !== 0) throw new Error(`helm install failed: ${installed.stderr}`);

  const deployment = await cp.must<StoredDeployment>('GET', `/apis/apps/v1/namespaces/${namespace}/deployments/${fullname}`);
  const container = deployment.spec.template.spec.containers[0] as { args: string[]; env?: EnvEntry[] };
  const serviceAccount = deployment.spec.template.spec.serviceAccountName;
  const deploymentEnv: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) deploymentEnv[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') deploymentEnv[e.name] = namespace;
  }

  // kubelet's part: the Secret volume's files, and the pod's ServiceAccount token.
  const replace: Record<string, string> = {};
  if (container.args.some((a) => a.startsWith('--tls-cert-file='))) {
    const secretName = values['tls.existingSecret.name'] as string;
    const secret = await cp.must<{ data: Record<string, string> }>('GET', `/api/v1/namespaces/${namespace}/secrets/${secretName}`);
    writeFileSync(join(dir, 'tls.crt'), Buffer.from(secret.data['tls.crt'] as string, 'base64'));
    writeFileSync(join(dir, 'tls.key'), Buffer.from(secret.data['tls.key'] as string, 'base64'), { mode: 0o600 });
    replace['tls-cert-file'] = join(dir, 'tls.crt');
    replace['tls-key-file'] = join(dir, 'tls.key');
  }
  const { token } = await cp.createToken(namespace, serviceAccount, { expirationSeconds: 3600 });
  const kubeconfig = cp.kubeconfigFor(token, `webhook-${release}`);

  const service = await cp.must<{ spec: { clusterIP: string; ports: { port: number }[] } }>('GET', `/api/v1/namespaces/${namespace}/services/${fullname}`);
  const serviceTarget = `${service.spec.clusterIP}:443`;

  const args = loopbackArgs(container.args, replace);
  const result: InstalledWebhook = {
    namespace,
    release,
    fullname,
    serviceAccount,
    deploymentArgs: container.args,
    deploymentEnv,
    kubeconfig,
    serviceTarget,
    webhook: undefined as unknown as WebhookProcess,
    async start(o = {}) {
      const w = await startWebhookProcess(args, kubeconfig, { env: deploymentEnv, name: o.name ?? `webhook-${release}` });
      if (o.route !== false) {
        cp.egress.route(serviceTarget, w.port);
        result.webhook = w;
      }
      return w;
    },
  };
  if (!options.noStart) await result.start();
  return result;
}
