import * as k8s from '@kubernetes/client-node';
import { Ajv, type ValidateFunction } from 'ajv';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { KubeObject } from './tools.js';

/**
 * Validates rendered objects the way the API server would reject them:
 *  - built-in kinds against the Kubernetes OpenAPI schemas (kubernetes-models: required fields,
 *    types, enums), plus a strict pass for unknown fields (a typo such as `readinesProbe` is
 *    silently dropped by the API server; here it fails), using @kubernetes/client-node's model
 *    field lists;
 *  - the CRDs the chart uses (prometheus-operator, cert-manager) by the structure of their schemas:
 *    required fields, types and enums, no unknown fields at the levels the chart writes.
 */

type ModelClass = new (data: never) => { validate(): void };

const BUILT_IN: Record<string, { model: ModelClass; clientModel: string }> = {
  'v1/Service': { model: Service as unknown as ModelClass, clientModel: 'V1Service' },
  'v1/ServiceAccount': { model: ServiceAccount as unknown as ModelClass, clientModel: 'V1ServiceAccount' },
  'v1/Secret': { model: Secret as unknown as ModelClass, clientModel: 'V1Secret' },
  'v1/ConfigMap': { model: ConfigMap as unknown as ModelClass, clientModel: 'V1ConfigMap' },
  'v1/Pod': { model: Pod as unknown as ModelClass, clientModel: 'V1Pod' },
  'v1/Namespace': { model: Namespace as unknown as ModelClass, clientModel: 'V1Namespace' },
  'apps/v1/Deployment': { model: Deployment as unknown as ModelClass, clientModel: 'V1Deployment' },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget as unknown as ModelClass, clientModel: 'V1PodDisruptionBudget' },
  'rbac.authorization.k8s.io/v1/ClusterRole': { model: ClusterRole as unknown as ModelClass, clientModel: 'V1ClusterRole' },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { model: ClusterRoleBinding as unknown as ModelClass, clientModel: 'V1ClusterRoleBinding' },
  'rbac.authorization.k8s.io/v1/Role': { model: Role as unknown as ModelClass, clientModel: 'V1Role' },
  'rbac.authorization.k8s.io/v1/RoleBinding': { model: RoleBinding as unknown as ModelClass, clientModel: 'V1RoleBinding' },
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': {
    model: MutatingWebhookConfiguration as unknown as ModelClass,
    clientModel: 'V1MutatingWebhookConfiguration',
  },
};

interface Attribute {
  baseName: string;
  type: string;
}

const models = k8s as unknown as Record<string, { getAttributeTypeMap?: () => Attribute[] } | undefined>;

/** Paths of fields that the Kubernetes API does not define (would be dropped or rejected). */
export function unknownFields(value: unknown, type: string, path = ''): string[] {
  if (value === null || value === undefined) return [];
  const t = type.trim();
  if (['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString'].includes(t)) return [];
  const array = /^Array<(.+)>$/.exec(t);
  if (array) {
    if (!Array.isArray(value)) return [`${path}: expected a list`];
    return value.flatMap((item, i) => unknownFields(item, array[1] as string, `${path}[${i}]`));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(t);
  if (map) {
    if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected a map`];
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => unknownFields(v, map[1] as string, `${path}.${k}`));
  }
  const model = models[t];
  if (!model?.getAttributeTypeMap) throw new Error(`unknown Kubernetes model type ${t} at ${path}`);
  if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected an object (${t})`];
  const attributes = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const attrType = attributes.get(key);
    if (attrType === undefined) problems.push(`${path}.${key}: not a field of ${t}`);
    else problems.push(...unknownFields(v, attrType, `${path}.${key}`));
  }
  return problems;
}

// --- CRDs, by the structure of their published schemas ------------------------------------------

const str = { type: 'string' };
const strMap = { type: 'object', additionalProperties: { type: 'string' } };
const labelSelector = {
  type: 'object',
  additionalProperties: false,
  properties: {
    matchLabels: strMap,
    matchExpressions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'operator'],
        properties: { key: str, operator: { enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] }, values: { type: 'array', items: str } },
      },
    },
  },
};
const metadata = {
  type: 'object',
  required: ['name'],
  properties: { name: str, namespace: str, labels: strMap, annotations: strMap },
  additionalProperties: false,
};
const duration = { type: 'string', pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' };
const monitoringNamespaceSelector = {
  type: 'object',
  additionalProperties: false,
  properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: str } },
};
const scrapeEndpoint = (portType: object) => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    port: portType,
    path: str,
    scheme: { enum: ['http', 'https', 'HTTP', 'HTTPS'] },
    interval: duration,
    scrapeTimeout: duration,
    honorLabels: { type: 'boolean' },
    relabelings: { type: 'array' },
    metricRelabelings: { type: 'array' },
  },
});
const crd = (apiVersion: string, kind: string, spec: object) => ({
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: { apiVersion: { const: apiVersion }, kind: { const: kind }, metadata, spec },
});
const rule = {
  type: 'object',
  additionalProperties: false,
  required: ['expr'],
  oneOf: [{ required: ['alert'] }, { required: ['record'] }],
  properties: {
    alert: { type: 'string', pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]*$' },
    record: str,
    expr: { type: 'string', minLength: 1 },
    for: duration,
    keep_firing_for: duration,
    labels: strMap,
    annotations: strMap,
  },
};
const issuerRef = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1 }, kind: { enum: ['Issuer', 'ClusterIssuer'] }, group: str },
};
const KEY_USAGES = [
  'signing',
  'digital signature',
  'content commitment',
  'key encipherment',
  'key agreement',
  'data encipherment',
  'cert sign',
  'crl sign',
  'encipher only',
  'decipher only',
  'any',
  'server auth',
  'client auth',
  'code signing',
  'email protection',
  's/mime',
  'ipsec end system',
  'ipsec tunnel',
  'ipsec user',
  'timestamping',
  'ocsp signing',
  'microsoft sgc',
  'netscape sgc',
];

const CRDS: Record<string, object> = {
  'monitoring.coreos.com/v1/PodMonitor': crd('monitoring.coreos.com/v1', 'PodMonitor', {
    type: 'object',
    additionalProperties: false,
    required: ['selector'],
    properties: {
      selector: labelSelector,
      namespaceSelector: monitoringNamespaceSelector,
      podMetricsEndpoints: { type: 'array', minItems: 1, items: scrapeEndpoint(str) },
      jobLabel: str,
      podTargetLabels: { type: 'array', items: str },
    },
  }),
  'monitoring.coreos.com/v1/ServiceMonitor': crd('monitoring.coreos.com/v1', 'ServiceMonitor', {
    type: 'object',
    additionalProperties: false,
    required: ['selector', 'endpoints'],
    properties: {
      selector: labelSelector,
      namespaceSelector: monitoringNamespaceSelector,
      endpoints: { type: 'array', minItems: 1, items: scrapeEndpoint(str) },
      jobLabel: str,
      targetLabels: { type: 'array', items: str },
    },
  }),
  'monitoring.coreos.com/v1/PrometheusRule': crd('monitoring.coreos.com/v1', 'PrometheusRule', {
    type: 'object',
    additionalProperties: false,
    properties: {
      groups: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: { name: { type: 'string', minLength: 1 }, interval: duration, rules: { type: 'array', items: rule } },
        },
      },
    },
  }),
  'cert-manager.io/v1/Issuer': crd('cert-manager.io/v1', 'Issuer', {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    properties: {
      selfSigned: { type: 'object', additionalProperties: false, properties: { crlDistributionPoints: { type: 'array', items: str } } },
      ca: { type: 'object', additionalProperties: false, required: ['secretName'], properties: { secretName: str, crlDistributionPoints: { type: 'array' } } },
      acme: { type: 'object' },
      vault: { type: 'object' },
      venafi: { type: 'object' },
    },
  }),
  'cert-manager.io/v1/Certificate': crd('cert-manager.io/v1', 'Certificate', {
    type: 'object',
    additionalProperties: false,
    required: ['secretName', 'issuerRef'],
    properties: {
      secretName: { type: 'string', minLength: 1 },
      issuerRef,
      commonName: { type: 'string', maxLength: 64 },
      dnsNames: { type: 'array', items: str },
      duration: { type: 'string', pattern: '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$' },
      renewBefore: { type: 'string', pattern: '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$' },
      isCA: { type: 'boolean' },
      usages: { type: 'array', items: { enum: KEY_USAGES } },
      privateKey: {
        type: 'object',
        additionalProperties: false,
        properties: {
          algorithm: { enum: ['RSA', 'ECDSA', 'Ed25519'] },
          size: { type: 'integer' },
          encoding: { enum: ['PKCS1', 'PKCS8'] },
          rotationPolicy: { enum: ['Never', 'Always'] },
        },
      },
    },
  }),
};

const ajv = new Ajv({ allErrors: true, strict: false });
const crdValidators = new Map<string, ValidateFunction>(Object.entries(CRDS).map(([k, s]) => [k, ajv.compile(s)]));

/** Every problem the API server (or a CRD's schema) would find in the object; empty when valid. */
export function validateObject(object: KubeObject): string[] {
  const key = `${object.apiVersion}/${object.kind}`;
  const where = `${object.kind} ${object.metadata?.name}`;
  const builtIn = BUILT_IN[key];
  if (builtIn) {
    const problems: string[] = [];
    try {
      new builtIn.model(object as never).validate();
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
    problems.push(...unknownFields(object, builtIn.clientModel).map((p) => `${where}: ${p}`));
    return problems;
  }
  const validator = crdValidators.get(key);
  if (!validator) return [`${where}: no schema for ${key}`];
  if (validator(object)) return [];
  return (validator.errors ?? []).map((e) => `${where}: ${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
}
