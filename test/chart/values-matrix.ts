/**
 * The values the chart is rendered and installed with, shared by the `helm template` tests
 * (test/chart/) and the installs on a real API server (test/cluster/).
 */
export const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUexample\n-----END CERTIFICATE-----\n';
export const CA_BUNDLE = Buffer.from(CA_PEM).toString('base64');

export const MATRIX: Record<string, Record<string, unknown>> = {
  defaults: {},
  certManager: { 'tls.mode': 'certManager' },
  certManagerClusterIssuer: { 'tls.mode': 'certManager', 'tls.certManager.issuerRef': { name: 'corp-ca', kind: 'ClusterIssuer' } },
  existingSecret: { 'tls.mode': 'existingSecret', 'tls.existingSecret.name': 'my-webhook-tls', 'tls.existingSecret.caBundle': CA_BUNDLE },
  monitoring: {
    'monitoring.podMonitor.enabled': true,
    'monitoring.serviceMonitor.enabled': true,
    'monitoring.prometheusRule.enabled': true,
    'monitoring.grafanaDashboard.enabled': true,
    'monitoring.podMonitor.labels': { release: 'kube-prometheus-stack' },
  },
  objectSelector: { 'webhook.objectSelector': { matchLabels: { 'entra-sidecar.io/opt-in': 'true' } } },
  failurePolicyIgnore: { 'webhook.failurePolicy': 'Ignore' },
  everythingSet: {
    defaultTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    authorityHost: 'https://login.microsoftonline.us',
    'image.repository': 'registry.example.com/platform/entra-sidecar',
    'image.digest': `sha256:${'a'.repeat(64)}`,
    'sidecar.image.tag': '0.1.0-debug',
    'sidecar.mode': 'native',
    'sidecar.port': 15000,
    'sidecar.healthPort': 15001,
    'sidecar.tokenDir': '/run/entra',
    'webhook.replicas': 3,
    'webhook.logLevel': 'debug',
    'webhook.timeoutSeconds': 10,
    'webhook.matchConditions': false,
    'webhook.namespaceSelector': {
      excludeNamespaces: ['istio-system'],
      matchLabels: { 'entra-sidecar.io/enabled': 'true' },
      matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['infra'] }],
    },
    'webhook.nodeSelector': { 'kubernetes.io/os': 'linux' },
    'webhook.tolerations': [{ key: 'CriticalAddonsOnly', operator: 'Exists' }],
    'webhook.affinity': {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] }] }],
        },
      },
    },
    'webhook.priorityClassName': 'system-cluster-critical',
    'webhook.podAnnotations': { 'example.com/team': 'platform' },
    'webhook.podLabels': { team: 'platform' },
    'webhook.extraEnv': [{ name: 'NO_PROXY', value: '.svc,.cluster.local' }],
    'serviceAccount.annotations': { 'example.com/owner': 'platform' },
    imagePullSecrets: [{ name: 'registry-credentials' }],
  },
};
