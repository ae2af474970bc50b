import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { mutatePod } from '../../src/webhook/mutate.js';
import { parseWebhookSettings } from '../../src/webhook/options.js';
import type { Pod } from '../../src/webhook/pod.js';
import { DEFAULT_SIDECAR_SETTINGS } from '../../src/webhook/settings.js';
import { validateObject } from './kube-schema.js';
import { CA_BUNDLE, MATRIX } from './values-matrix.js';
import { CHART, ensureHelm, helmTemplate, type KubeObject, NAMESPACE, only, RELEASE, type Rendered } from './tools.js';

/**
 * The chart, rendered by the real helm over a matrix of values: every object is schema-valid, the
 * webhook configuration reaches the Deployment through the Service, RBAC is least-privilege, the
 * TLS modes wire the right Secret, monitoring is off by default and correct when on, and the
 * sidecar defaults equal what the webhook injects.
 */

const tools = ensureHelm();
const helm = tools?.helm as string;

const FULLNAME = RELEASE; // the release name already holds the chart name
const SERVICE_HOST = `${FULLNAME}.${NAMESPACE}.svc`;
const rendered: Record<string, Rendered> = {};
function render(name: string): Rendered {
  rendered[name] ??= helmTemplate(helm, MATRIX[name]);
  return rendered[name] as Rendered;
}

type Container = {
  name: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  env?: { name: string; value?: string }[];
};
type PodSpec = {
  serviceAccountName?: string;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string; items?: { key: string }[] } }[];
  topologySpreadConstraints?: { maxSkew: number; topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }[];
  [k: string]: unknown;
};
type DeploymentShape = {
  spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
};
type ServiceShape = { spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string | number }[] } };
type WebhookShape = {
  webhooks: {
    name: string;
    clientConfig: { service: { name: string; namespace: string; path: string; port: number }; caBundle?: string };
    failurePolicy: string;
    timeoutSeconds: number;
    reinvocationPolicy: string;
    sideEffects: string;
    admissionReviewVersions: string[];
    rules: { operations: string[]; apiGroups: string[]; apiVersions: string[]; resources: string[] }[];
    namespaceSelector: { matchLabels?: Record<string, string>; matchExpressions: { key: string; operator: string; values: string[] }[] };
    objectSelector?: unknown;
    matchConditions?: { name: string; expression: string }[];
  }[];
};
type RuleShape = { rules: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[] };
type BindingShape = { roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace: string }[] };

function webhookContainer(objects: KubeObject[]): Container {
  return only<DeploymentShape>(objects, 'Deployment').spec.template.spec.containers[0] as Container;
}

/** `--flag=value` arguments of the webhook container, as a map (boolean flags map to true). */
function flags(objects: KubeObject[]): Map<string, string | true> {
  const args = webhookContainer(objects).args ?? [];
  expect(args[0]).toBe('webhook');
  return new Map(
    args.slice(1).map((a) => {
      const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
      if (!m) throw new Error(`webhook argument "${a}" is not --flag or --flag=value`);
      return [m[1] as string, m[2] ?? true] as [string, string | true];
    }),
  );
}

function listenPort(value: string | true | undefined): number {
  const m = /:(\d+)$/.exec(String(value));
  if (!m) throw new Error(`not host:port: ${value}`);
  return Number(m[1]);
}

function portNumber(container: Container, port: string | number): number {
  if (typeof port === 'number') return port;
  const found = container.ports?.find((p) => p.name === port);
  if (!found) throw new Error(`container ${container.name} has no port named ${port}`);
  return found.containerPort;
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

describe.skipIf(!tools)('helm chart charts/entra-sidecar', () => {
  it('passes `helm lint --strict` with the defaults and with every optional part switched on', () => {
    for (const values of [MATRIX.defaults, MATRIX.monitoring, MATRIX.certManager, MATRIX.everythingSet]) {
      const args = ['lint', '--strict', CHART, '--namespace', NAMESPACE];
      for (const [k, v] of Object.entries(values ?? {})) args.push('--set-json', `${k}=${JSON.stringify(v)}`);
      const result = helmTemplateRaw(args);
      expect(result.status, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    }
  });

  describe.each(Object.keys(MATRIX))('rendered with %s values', (name) => {
    it('renders, and every object is valid against the Kubernetes (or its CRD) schema', () => {
      const r = render(name);
      expect(r.status, r.stderr).toBe(0);
      expect(r.objects.length).toBeGreaterThan(5);
      const problems = r.objects.flatMap(validateObject);
      expect(problems).toEqual([]);
    });

    it('labels every object with app.kubernetes.io/* and helm.sh/chart', () => {
      for (const o of render(name).objects) {
        const labels = o.metadata.labels ?? {};
        expect(labels['app.kubernetes.io/name'], `${o.kind} ${o.metadata.name}`).toBe('entra-sidecar');
        expect(labels['app.kubernetes.io/instance']).toBe(RELEASE);
        expect(labels['app.kubernetes.io/managed-by']).toBe('Helm');
        expect(labels['app.kubernetes.io/version']).toBe(parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')).appVersion);
        expect(labels['helm.sh/chart']).toMatch(/^entra-sidecar-\d+\.\d+\.\d+/);
        expect(labels['app.kubernetes.io/component']).toBeTruthy();
      }
    });

    it('points the webhook configuration at the Service, and the Service at the Deployment’s HTTPS port', () => {
      const objects = render(name).objects;
      const config = only<WebhookShape>(objects, 'MutatingWebhookConfiguration');
      const service = only<ServiceShape>(objects, 'Service');
      const deployment = only<DeploymentShape>(objects, 'Deployment');
      const container = webhookContainer(objects);
      const hook = config.webhooks[0];
      expect(config.webhooks).toHaveLength(1);
      expect(hook?.clientConfig.service).toEqual({ name: service.metadata.name, namespace: service.metadata.namespace, path: '/mutate', port: 443 });
      expect(service.metadata.namespace).toBe(NAMESPACE);
      const servicePort = service.spec.ports.find((p) => p.port === hook?.clientConfig.service.port);
      expect(servicePort, 'the Service has the port the webhook configuration calls').toBeDefined();
      const target = portNumber(container, (servicePort as { targetPort: string | number }).targetPort);
      expect(target).toBe(listenPort(flags(objects).get('listen')));
      expect(selects(service.spec.selector, deployment.spec.template.metadata.labels)).toBe(true);
      expect(selects(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
      // the metrics port on the Service is the webhook's health listener
      const metrics = service.spec.ports.find((p) => p.name === 'http-metrics');
      expect(portNumber(container, (metrics as { targetPort: string }).targetPort)).toBe(listenPort(flags(objects).get('health-listen')));
    });

    it('registers for Pod CREATE only, with the admission settings the webhook is built for', () => {
      const hook = only<WebhookShape>(render(name).objects, 'MutatingWebhookConfiguration').webhooks[0];
      const values = MATRIX[name] as Record<string, unknown>;
      expect(hook?.name).toMatch(/^[a-z0-9-]+\.[a-z0-9-]+\.[a-z0-9.-]+$/);
      expect(hook?.failurePolicy).toBe(values['webhook.failurePolicy'] ?? 'Fail');
      expect(hook?.timeoutSeconds).toBe(values['webhook.timeoutSeconds'] ?? 5);
      expect(hook?.reinvocationPolicy).toBe('IfNeeded');
      expect(hook?.sideEffects).toBe('None');
      expect(hook?.admissionReviewVersions).toEqual(['v1']);
      expect(hook?.rules).toEqual([{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
      const excluded = hook?.namespaceSelector.matchExpressions.find((e) => e.key === 'kubernetes.io/metadata.name');
      expect(excluded?.operator).toBe('NotIn');
      expect(excluded?.values).toEqual(expect.arrayContaining(['kube-system', 'kube-node-lease', NAMESPACE]));
      expect(hook?.objectSelector).toEqual(values['webhook.objectSelector']);
      if (values['webhook.matchConditions'] === false) expect(hook?.matchConditions).toBeUndefined();
      else expect(hook?.matchConditions?.[0]?.expression).toContain("'entra-sidecar.io/inject' in object.metadata.annotations");
    });

    it('runs the webhook as a restricted, read-only, probed and resourced Deployment with a PDB and spread', () => {
      const objects = render(name).objects;
      const values = MATRIX[name] as Record<string, unknown>;
      const deployment = only<DeploymentShape>(objects, 'Deployment');
      const pod = deployment.spec.template.spec;
      const container = webhookContainer(objects);
      expect(deployment.spec.replicas).toBe(values['webhook.replicas'] ?? 2);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
      expect(container.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
      expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
      const health = listenPort(flags(objects).get('health-listen'));
      expect(portNumber(container, container.livenessProbe?.httpGet?.port as string)).toBe(health);
      expect(portNumber(container, container.readinessProbe?.httpGet?.port as string)).toBe(health);
      expect(container.resources?.requests?.cpu).toBeTruthy();
      expect(container.resources?.requests?.memory).toBeTruthy();
      expect(container.resources?.limits?.memory).toBeTruthy();
      const pdb = only<{ spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } }>(objects, 'PodDisruptionBudget');
      expect(pdb.spec.minAvailable).toBe(1);
      expect(selects(pdb.spec.selector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
      const spread = pod.topologySpreadConstraints?.[0];
      expect(spread?.topologyKey).toBe('kubernetes.io/hostname');
      expect(selects(spread?.labelSelector.matchLabels ?? { none: 'x' }, deployment.spec.template.metadata.labels)).toBe(true);
      // read-only root: the only writable paths are volumes
      expect(container.volumeMounts?.find((m) => m.mountPath === '/tmp')).toBeDefined();
      for (const key of ['nodeSelector', 'tolerations', 'affinity', 'priorityClassName', 'imagePullSecrets']) {
        const value = values[`webhook.${key}`] ?? values[key];
        expect(pod[key], key).toEqual(value);
      }
    });

    it('grants least privilege: read ServiceAccounts; for self-managed TLS only its own Secret and webhook configuration', () => {
      const objects = render(name).objects;
      const values = MATRIX[name] as Record<string, unknown>;
      const mode = (values['tls.mode'] as string | undefined) ?? 'selfManaged';
      const serviceAccount = only(objects, 'ServiceAccount');
      expect(only<DeploymentShape>(objects, 'Deployment').spec.template.spec.serviceAccountName).toBe(serviceAccount.metadata.name);
      const roles = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role') as (KubeObject & RuleShape)[];
      const rules = roles.flatMap((r) => r.rules.map((rule) => ({ ...rule, role: `${r.kind}/${r.metadata.name}` })));
      for (const rule of rules) {
        expect(rule.verbs, rule.role).not.toContain('*');
        expect(rule.resources, rule.role).not.toContain('*');
        expect(rule.verbs, `${rule.role}: create cannot be limited by resourceNames`).not.toContain('create');
      }
      expect(rules.filter((r) => r.resources.includes('serviceaccounts'))).toEqual([
        expect.objectContaining({ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list', 'watch'] }),
      ]);
      expect(rules.filter((r) => r.resources.includes('serviceaccounts'))[0]?.role).toMatch(/^ClusterRole\//);
      const secretRules = rules.filter((r) => r.resources.includes('secrets'));
      const configRules = rules.filter((r) => r.resources.includes('mutatingwebhookconfigurations'));
      // every role is bound to the webhook's ServiceAccount, and only to it
      for (const binding of objects.filter((o) => o.kind.endsWith('Binding')) as (KubeObject & BindingShape)[]) {
        expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: serviceAccount.metadata.name, namespace: NAMESPACE }]);
        expect(roles.some((r) => r.kind === binding.roleRef.kind && r.metadata.name === binding.roleRef.name)).toBe(true);
      }
      if (mode === 'selfManaged') {
        const f = flags(objects);
        const secret = only(objects, 'Secret');
        expect(secret.metadata.namespace).toBe(NAMESPACE);
        expect(secret).not.toHaveProperty('data');
        expect(secret).not.toHaveProperty('stringData');
        expect(f.get('tls-self-managed')).toBe(true);
        expect(f.get('tls-secret-name')).toBe(secret.metadata.name);
        expect(f.get('webhook-config-name')).toBe(only(objects, 'MutatingWebhookConfiguration').metadata.name);
        expect(f.get('service-name')).toBe(only(objects, 'Service').metadata.name);
        expect(f.get('namespace')).toBe(NAMESPACE);
        expect(secretRules).toEqual([
          expect.objectContaining({ resourceNames: [secret.metadata.name], verbs: ['get', 'update', 'patch'], role: expect.stringMatching(/^Role\//) }),
        ]);
        expect(configRules).toEqual([
          expect.objectContaining({ resourceNames: [only(objects, 'MutatingWebhookConfiguration').metadata.name], verbs: ['get', 'update', 'patch'] }),
        ]);
        expect(webhookContainer(objects).volumeMounts?.map((m) => m.name)).not.toContain('tls');
      } else {
        expect(secretRules).toEqual([]);
        expect(configRules).toEqual([]);
        expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
      }
    });

    it('wires the TLS mode: certificate files from the right Secret, and a caBundle source', () => {
      const objects = render(name).objects;
      const values = MATRIX[name] as Record<string, unknown>;
      const mode = (values['tls.mode'] as string | undefined) ?? 'selfManaged';
      const config = only<WebhookShape>(objects, 'MutatingWebhookConfiguration');
      const pod = only<DeploymentShape>(objects, 'Deployment').spec.template.spec;
      const f = flags(objects);
      if (mode === 'selfManaged') {
        expect(config.webhooks[0]?.clientConfig.caBundle).toBeUndefined(); // the webhook patches it in
        expect(config.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBeUndefined();
        expect(f.has('tls-cert-file')).toBe(false);
        return;
      }
      const mount = webhookContainer(objects).volumeMounts?.find((m) => m.name === 'tls');
      expect(mount?.readOnly).toBe(true);
      expect(f.get('tls-cert-file')).toBe(`${mount?.mountPath}/tls.crt`);
      expect(f.get('tls-key-file')).toBe(`${mount?.mountPath}/tls.key`);
      expect(f.has('tls-self-managed')).toBe(false);
      const volumeSecret = pod.volumes?.find((v) => v.name === 'tls')?.secret?.secretName;
      if (mode === 'existingSecret') {
        expect(volumeSecret).toBe('my-webhook-tls');
        expect(config.webhooks[0]?.clientConfig.caBundle).toBe(CA_BUNDLE);
        expect(objects.some((o) => o.apiVersion.startsWith('cert-manager.io'))).toBe(false);
        return;
      }
      // certManager: the serving Certificate writes the mounted Secret, and the CA injector reads it
      const certificates = objects.filter((o) => o.kind === 'Certificate') as (KubeObject & {
        spec: { secretName: string; dnsNames: string[]; isCA?: boolean; issuerRef: { name: string; kind: string } };
      })[];
      const serving = certificates.find((c) => !c.spec.isCA);
      expect(serving?.spec.secretName).toBe(volumeSecret);
      expect(serving?.spec.dnsNames).toContain(SERVICE_HOST);
      expect(config.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe(`${NAMESPACE}/${serving?.metadata.name}`);
      expect(config.webhooks[0]?.clientConfig.caBundle).toBeUndefined();
      const issuerRef = values['tls.certManager.issuerRef'] as { name: string; kind: string } | undefined;
      if (issuerRef) {
        expect(serving?.spec.issuerRef).toMatchObject(issuerRef);
        expect(objects.filter((o) => o.kind === 'Issuer')).toEqual([]);
      } else {
        // a private CA: self-signed Issuer → CA Certificate → CA Issuer → serving Certificate
        const issuers = objects.filter((o) => o.kind === 'Issuer') as (KubeObject & { spec: { selfSigned?: object; ca?: { secretName: string } } })[];
        const caIssuer = issuers.find((i) => i.metadata.name === serving?.spec.issuerRef.name);
        const ca = certificates.find((c) => c.spec.isCA);
        expect(caIssuer?.spec.ca?.secretName).toBe(ca?.spec.secretName);
        expect(issuers.find((i) => i.metadata.name === ca?.spec.issuerRef.name)?.spec.selfSigned).toEqual({});
      }
    });

    it('passes the sidecar settings to the webhook', () => {
      const objects = render(name).objects;
      const values = MATRIX[name] as Record<string, unknown>;
      const f = flags(objects);
      expect(f.get('sidecar-port')).toBe(String(values['sidecar.port'] ?? DEFAULT_SIDECAR_SETTINGS.port));
      expect(f.get('sidecar-health-port')).toBe(String(values['sidecar.healthPort'] ?? DEFAULT_SIDECAR_SETTINGS.healthPort));
      expect(f.get('token-dir')).toBe(values['sidecar.tokenDir'] ?? DEFAULT_SIDECAR_SETTINGS.tokenDir);
      expect(f.get('authority-host')).toBe(values.authorityHost ?? DEFAULT_SIDECAR_SETTINGS.authorityHost);
      expect(f.get('default-tenant-id')).toBe(values.defaultTenantId);
      expect(f.get('mode')).toBe(values['sidecar.mode']);
      expect(f.get('log-level')).toBe(values['webhook.logLevel'] ?? 'info');
      const image = webhookContainer(objects) as Container & { image: string };
      if (name === 'everythingSet') {
        expect(image.image).toBe(`registry.example.com/platform/entra-sidecar@sha256:${'a'.repeat(64)}`);
        // the sidecar falls back to the webhook's repository and digest; a digest wins over a tag
        expect(f.get('sidecar-image')).toBe(`registry.example.com/platform/entra-sidecar@sha256:${'a'.repeat(64)}`);
      } else {
        expect(f.get('sidecar-image')).toBe(image.image);
      }
    });

    it('gives the webhook arguments its own parser accepts, meaning what the values say', () => {
      const objects = render(name).objects;
      const values = MATRIX[name] as Record<string, unknown>;
      const container = webhookContainer(objects) as Container & { image: string };
      const env = Object.fromEntries((container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]));
      const settings = parseWebhookSettings((container.args ?? []).slice(1), { ...env, POD_NAMESPACE: NAMESPACE });
      expect(settings.listen.port).toBe(portNumber(container, 'https'));
      expect(settings.healthListen.port).toBe(portNumber(container, 'http-metrics'));
      expect(settings.tls.kind).toBe(values['tls.mode'] === undefined ? 'self-managed' : 'files');
      expect(settings.mode).toBe(values['sidecar.mode']);
      expect(settings.logLevel).toBe(values['webhook.logLevel'] ?? 'info');
      expect(settings.sidecar).toMatchObject({
        port: values['sidecar.port'] ?? DEFAULT_SIDECAR_SETTINGS.port,
        healthPort: values['sidecar.healthPort'] ?? DEFAULT_SIDECAR_SETTINGS.healthPort,
        tokenDir: values['sidecar.tokenDir'] ?? DEFAULT_SIDECAR_SETTINGS.tokenDir,
        authorityHost: values.authorityHost ?? DEFAULT_SIDECAR_SETTINGS.authorityHost,
        defaultTenantId: values.defaultTenantId,
        cpuRequest: DEFAULT_SIDECAR_SETTINGS.cpuRequest,
        memoryRequest: DEFAULT_SIDECAR_SETTINGS.memoryRequest,
        memoryLimit: DEFAULT_SIDECAR_SETTINGS.memoryLimit,
      });
      if (settings.tls.kind === 'self-managed') {
        expect(settings.tls).toEqual({
          kind: 'self-managed',
          secretName: only(objects, 'Secret').metadata.name,
          webhookConfigName: only(objects, 'MutatingWebhookConfiguration').metadata.name,
          serviceName: only(objects, 'Service').metadata.name,
          namespace: NAMESPACE,
        });
      }
    });

    it('has a helm test pod that checks /healthz and a dry-run admission through the Service', () => {
      const objects = render(name).objects;
      const values = MATRIX[name] as Record<string, unknown>;
      const testPod = objects.find((o) => o.kind === 'Pod') as KubeObject & { spec: PodSpec };
      expect(testPod.metadata.annotations?.['helm.sh/hook']).toBe('test');
      const service = only<ServiceShape>(objects, 'Service');
      // it must not be selected by the Service or counted by the PDB
      expect(selects(service.spec.selector, testPod.metadata.labels ?? {})).toBe(false);
      const container = testPod.spec.containers[0] as Container & { command: string[]; image: string };
      expect(container.command).toEqual(['node', '--input-type=module', '-e']);
      expect(container.args?.[0]).toBe(readFileSync(join(CHART, 'files', 'helm-test.mjs'), 'utf8'));
      const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
      const metricsPort = service.spec.ports.find((p) => p.name === 'http-metrics')?.port;
      expect(env.WEBHOOK_HEALTH_URL).toBe(`http://${SERVICE_HOST}:${metricsPort}/healthz`);
      expect(env.WEBHOOK_MUTATE_URL).toBe(`https://${SERVICE_HOST}:443/mutate?timeout=5s`);
      expect(env.WEBHOOK_SERVER_NAME).toBe(SERVICE_HOST);
      if (values['tls.mode'] === 'existingSecret') {
        expect(env.WEBHOOK_CA_BUNDLE).toBe(CA_BUNDLE);
      } else {
        // only ca.crt is mounted, never the keys beside it
        const secretVolume = testPod.spec.volumes?.find((v) => v.secret)?.secret;
        expect(secretVolume?.items).toEqual([{ key: 'ca.crt', path: 'ca.crt' }]);
        const webhookSecret =
          values['tls.mode'] === 'certManager'
            ? only<DeploymentShape>(objects, 'Deployment').spec.template.spec.volumes?.find((v) => v.name === 'tls')?.secret?.secretName
            : String(flags(objects).get('tls-secret-name'));
        expect(secretVolume?.secretName).toBe(webhookSecret);
      }
    });
  });

  it('renders no monitoring objects by default, and correct ones when switched on', () => {
    const monitoringKinds = ['PodMonitor', 'ServiceMonitor', 'PrometheusRule', 'ConfigMap'];
    expect(render('defaults').objects.filter((o) => monitoringKinds.includes(o.kind))).toEqual([]);
    const objects = render('monitoring').objects;
    const podMonitor = only<{
      spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: { any: boolean }; podMetricsEndpoints: { port: string; path: string }[] };
    }>(objects, 'PodMonitor');
    expect(podMonitor.spec.selector.matchLabels).toEqual({ 'entra-sidecar.io/injected': 'true' });
    expect(podMonitor.spec.namespaceSelector).toEqual({ any: true });
    expect(podMonitor.spec.podMetricsEndpoints).toEqual([expect.objectContaining({ port: 'entra-metrics', path: '/metrics' })]);
    expect(podMonitor.metadata.labels?.release).toBe('kube-prometheus-stack');
    const service = only<ServiceShape>(objects, 'Service');
    const serviceMonitor = only<{
      spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] }; endpoints: { port: string; path: string }[] };
    }>(objects, 'ServiceMonitor');
    expect(selects(serviceMonitor.spec.selector.matchLabels, service.metadata.labels ?? {})).toBe(true);
    expect(serviceMonitor.spec.namespaceSelector.matchNames).toEqual([NAMESPACE]);
    const endpoint = serviceMonitor.spec.endpoints[0];
    expect(service.spec.ports.map((p) => p.name)).toContain(endpoint?.port);
    expect(endpoint?.path).toBe('/metrics');
    const rule = only<{ spec: { groups: { rules: { alert: string; expr: string }[] }[] } }>(objects, 'PrometheusRule');
    const alerts = rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts).toEqual(
      expect.arrayContaining([
        'EntraSidecarTokenExpiringSoon',
        'EntraSidecarRefreshFailing',
        'EntraSidecarWebhookErrors',
        'EntraSidecarWebhookDenials',
        'EntraSidecarWebhookDown',
      ]),
    );
    // the webhook-down alert looks for the job a ServiceMonitor creates: the Service's name
    const down = rule.spec.groups.flatMap((g) => g.rules).find((r) => r.alert === 'EntraSidecarWebhookDown');
    expect(down?.expr).toContain(`job="${service.metadata.name}"`);
    expect(down?.expr).toContain(`namespace="${NAMESPACE}"`);
    const dashboard = only<{ data: Record<string, string> }>(objects, 'ConfigMap');
    expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1');
    expect(dashboard.data['entra-sidecar.json']).toBe(readFileSync(join(CHART, 'dashboards', 'entra-sidecar.json'), 'utf8').replace(/\n$/, ''));
    expect(JSON.parse(dashboard.data['entra-sidecar.json'] as string).uid).toBe('entra-sidecar');
  });

  it('has a PodMonitor that finds what the webhook, run with the chart’s arguments, really injects', () => {
    const objects = render('monitoring').objects;
    const container = webhookContainer(objects);
    const settings = parseWebhookSettings((container.args ?? []).slice(1), { POD_NAMESPACE: NAMESPACE });
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: 'api-',
        namespace: 'apps',
        annotations: { 'entra-sidecar.io/inject': 'true', 'entra-sidecar.io/client-id': '11111111-2222-3333-4444-555555555555' },
      },
      spec: { containers: [{ name: 'app', image: 'example/app:1' }] },
    } as Pod;
    const outcome = mutatePod(
      pod,
      { namespace: 'apps', name: 'default', annotations: { 'entra-sidecar.io/tenant-id': 'contoso.onmicrosoft.com' } },
      { ...settings.sidecar, mode: 'native' },
      () => 'b'.repeat(64),
    );
    expect(outcome.kind, JSON.stringify(outcome)).toBe('mutated');
    const injected = (outcome as { pod: Pod }).pod;
    const podMonitor = only<{ spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string; path: string }[] } }>(
      objects,
      'PodMonitor',
    );
    expect(selects(podMonitor.spec.selector.matchLabels, (injected.metadata?.labels ?? {}) as Record<string, string>)).toBe(true);
    const sidecar = [...(injected.spec.initContainers ?? []), ...injected.spec.containers].find((c) =>
      (c.ports ?? []).some((p) => p.name === podMonitor.spec.podMetricsEndpoints[0]?.port),
    );
    expect(sidecar, 'a container with the PodMonitor’s port name').toBeDefined();
    const port = sidecar?.ports?.find((p) => p.name === 'entra-metrics');
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
    expect(port?.containerPort).toBe(values.sidecar.healthPort);
    expect(sidecar?.resources).toEqual({
      requests: { cpu: values.sidecar.resources.cpuRequest, memory: values.sidecar.resources.memoryRequest },
      limits: { memory: values.sidecar.resources.memoryLimit },
    });
    expect(sidecar?.image).toBe(String(flags(objects).get('sidecar-image')));
    const app = injected.spec.containers.find((c) => c.name === 'app');
    expect(app?.volumeMounts?.map((m) => m.mountPath)).toContain(values.sidecar.tokenDir);
    expect(app?.env?.find((e) => e.name === 'IDENTITY_ENDPOINT')?.value).toBe(`http://127.0.0.1:${values.sidecar.port}/msi/token`);
  });

  it('ships sidecar defaults equal to what the webhook injects (DEFAULT_SIDECAR_SETTINGS)', () => {
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
    expect({
      imagePullPolicy: values.sidecar.image.pullPolicy,
      port: values.sidecar.port,
      healthPort: values.sidecar.healthPort,
      tokenDir: values.sidecar.tokenDir,
      cpuRequest: values.sidecar.resources.cpuRequest,
      memoryRequest: values.sidecar.resources.memoryRequest,
      memoryLimit: values.sidecar.resources.memoryLimit,
      authorityHost: values.authorityHost,
    }).toEqual({
      imagePullPolicy: DEFAULT_SIDECAR_SETTINGS.imagePullPolicy,
      port: DEFAULT_SIDECAR_SETTINGS.port,
      healthPort: DEFAULT_SIDECAR_SETTINGS.healthPort,
      tokenDir: DEFAULT_SIDECAR_SETTINGS.tokenDir,
      cpuRequest: DEFAULT_SIDECAR_SETTINGS.cpuRequest,
      memoryRequest: DEFAULT_SIDECAR_SETTINGS.memoryRequest,
      memoryLimit: DEFAULT_SIDECAR_SETTINGS.memoryLimit,
      authorityHost: DEFAULT_SIDECAR_SETTINGS.authorityHost,
    });
    // and what the rendered Deployment passes on
    const f = flags(render('defaults').objects);
    expect({
      imagePullPolicy: f.get('sidecar-image-pull-policy'),
      port: Number(f.get('sidecar-port')),
      healthPort: Number(f.get('sidecar-health-port')),
      tokenDir: f.get('token-dir'),
      cpuRequest: f.get('sidecar-cpu-request'),
      memoryRequest: f.get('sidecar-memory-request'),
      memoryLimit: f.get('sidecar-memory-limit'),
      authorityHost: f.get('authority-host'),
    }).toEqual({
      imagePullPolicy: DEFAULT_SIDECAR_SETTINGS.imagePullPolicy,
      port: DEFAULT_SIDECAR_SETTINGS.port,
      healthPort: DEFAULT_SIDECAR_SETTINGS.healthPort,
      tokenDir: DEFAULT_SIDECAR_SETTINGS.tokenDir,
      cpuRequest: DEFAULT_SIDECAR_SETTINGS.cpuRequest,
      memoryRequest: DEFAULT_SIDECAR_SETTINGS.memoryRequest,
      memoryLimit: DEFAULT_SIDECAR_SETTINGS.memoryLimit,
      authorityHost: DEFAULT_SIDECAR_SETTINGS.authorityHost,
    });
  });

  it('shows how to opt a pod in after install (NOTES.txt)', () => {
    const result = helmTemplateRaw(['install', RELEASE, CHART, '--namespace', NAMESPACE, '--dry-run=client']);
    expect(result.status, result.stderr).toBe(0);
    const notes = result.stdout.slice(result.stdout.indexOf('NOTES:'));
    expect(notes).toContain('entra-sidecar.io/inject: "true"');
    expect(notes).toContain('entra-sidecar.io/client-id');
    expect(notes).toContain(`helm test ${RELEASE} -n ${NAMESPACE}`);
    expect(notes).toContain('system:serviceaccount:<namespace>:my-app');
  });

  it('keeps the PDB out when there is a single replica (it would block every node drain)', () => {
    const r = helmTemplate(helm, { 'webhook.replicas': 1 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.objects.filter((o) => o.kind === 'PodDisruptionBudget')).toEqual([]);
  });
});

function helmTemplateRaw(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(helm, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!tools)('cert-manager with long names', () => {
  it('a 63-character name renders Certificates cert-manager accepts: no common name over the 64 characters X.509 allows', () => {
    const fullname = `${'a'.repeat(49)}-entra-sidecar`;
    const { objects } = helmTemplate(helm, { ...MATRIX.certManager, fullnameOverride: fullname });
    const certificates = objects.filter((o) => o.kind === 'Certificate') as Array<
      KubeObject & { spec: { commonName?: string; dnsNames?: string[]; isCA?: boolean } }
    >;
    expect(certificates).toHaveLength(2);
    for (const c of certificates) if (c.spec.commonName !== undefined) expect(c.spec.commonName.length, c.spec.commonName).toBeLessThanOrEqual(64);
    expect(certificates.find((c) => !c.spec.isCA)?.spec.dnsNames).toContain(`${fullname}.${NAMESPACE}.svc`);
  });
});
