import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CHART, ensureHelm, helmTemplate } from './tools.js';

/**
 * A wrong value fails `helm template` (and so `helm install`) before anything reaches the
 * cluster, with a message that names the value and what it accepts — from values.schema.json, or
 * from the chart's own checks for what a schema cannot say.
 */

const tools = ensureHelm();
const helm = tools?.helm as string;

const REJECTED: [string, Record<string, unknown>, RegExp[]][] = [
  ['an unknown failurePolicy', { 'webhook.failurePolicy': 'Sometimes' }, [/\/webhook\/failurePolicy/, /'Fail', 'Ignore'/]],
  ['an unknown TLS mode', { 'tls.mode': 'letsencrypt' }, [/\/tls\/mode/, /selfManaged/]],
  ['existingSecret without a Secret or CA', { 'tls.mode': 'existingSecret' }, [/\/tls\/existingSecret\/name/, /\/tls\/existingSecret\/caBundle/]],
  [
    'a caBundle that is not base64',
    { 'tls.mode': 'existingSecret', 'tls.existingSecret.name': 'x', 'tls.existingSecret.caBundle': '-----BEGIN CERTIFICATE-----' },
    [/\/tls\/existingSecret\/caBundle/],
  ],
  ['a webhook timeout the API server refuses', { 'webhook.timeoutSeconds': 60 }, [/\/webhook\/timeoutSeconds/, /maximum/]],
  ['a privileged sidecar port', { 'sidecar.port': 80 }, [/\/sidecar\/port/, /minimum/]],
  ['a port given as text', { 'webhook.port': '8443' }, [/\/webhook\/port/, /integer/]],
  ['an unknown sidecar mode', { 'sidecar.mode': 'sidecar' }, [/\/sidecar\/mode/, /'native', 'container'/]],
  ['a relative token directory', { 'sidecar.tokenDir': 'secrets/entra' }, [/\/sidecar\/tokenDir/]],
  ['a memory limit that is not a quantity', { 'sidecar.resources.memoryLimit': 'lots' }, [/\/sidecar\/resources\/memoryLimit/]],
  ['an image digest that is not sha256', { 'image.digest': 'sha256:abc' }, [/\/image\/digest/]],
  ['an http authority host', { authorityHost: 'http://login.microsoftonline.com' }, [/\/authorityHost/]],
  ['an authority host with a path', { authorityHost: 'https://login.microsoftonline.com/common' }, [/\/authorityHost/]],
  ['a tenant id that is neither a GUID nor a domain', { defaultTenantId: 'my tenant' }, [/\/defaultTenantId/]],
  ['zero replicas', { 'webhook.replicas': 0 }, [/\/webhook\/replicas/, /minimum/]],
  ['a misspelt key', { 'webhook.replica': 3 }, [/\/webhook/, /additional properties 'replica' not allowed/]],
  ['an unknown log level', { 'webhook.logLevel': 'verbose' }, [/\/webhook\/logLevel/]],
  [
    'an excluded namespace that is not a name',
    { 'webhook.namespaceSelector.excludeNamespaces': ['Bad_NS'] },
    [/\/webhook\/namespaceSelector\/excludeNamespaces\/0/],
  ],
  [
    'an object selector with an unknown operator',
    { 'webhook.objectSelector': { matchExpressions: [{ key: 'a', operator: 'Equals' }] } },
    [/\/webhook\/objectSelector\/matchExpressions\/0\/operator/],
  ],
  [
    'an expiry alert threshold that would always fire',
    { 'monitoring.prometheusRule.tokenExpiryThresholdSeconds': 3600 },
    [/tokenExpiryThresholdSeconds/, /maximum/],
  ],
  ['a scrape interval without a unit', { 'monitoring.podMonitor.interval': '30' }, [/\/monitoring\/podMonitor\/interval/]],
  ['a cert-manager issuer of an unknown kind', { 'tls.mode': 'certManager', 'tls.certManager.issuerRef': { name: 'x', kind: 'Vault' } }, [/issuerRef\/kind/]],
  ['the same port for the sidecar endpoint and its health port', { 'sidecar.healthPort': 42350 }, [/sidecar\.port and sidecar\.healthPort are both 42350/]],
  ['the same port for the webhook and its health port', { 'webhook.healthPort': 8443 }, [/webhook\.port and webhook\.healthPort are both 8443/]],
];

const ACCEPTED: [string, Record<string, unknown>][] = [
  ['a tenant GUID', { defaultTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' }],
  ['a tenant domain', { defaultTenantId: 'contoso.onmicrosoft.com' }],
  ['the US Government authority', { authorityHost: 'https://login.microsoftonline.us' }],
  ['the China authority with a trailing slash', { authorityHost: 'https://login.chinacloudapi.cn/' }],
  ['a percentage PDB', { 'webhook.podDisruptionBudget.minAvailable': '50%' }],
  ['a fractional CPU request', { 'sidecar.resources.cpuRequest': '0.05' }],
  ['a parent chart’s global values', { global: { imageRegistry: 'x' } }],
];

describe.skipIf(!tools)('values.schema.json', () => {
  it.each(REJECTED)('rejects %s with a message naming the value', (_what, values, messages) => {
    const r = helmTemplate(helm, values);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    for (const m of messages) expect(r.stderr).toMatch(m);
    expect(r.stderr).not.toMatch(/goroutine|panic/);
  });

  it.each(ACCEPTED)('accepts %s', (_what, values) => {
    const r = helmTemplate(helm, values);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('describes every value in values.yaml, and values.yaml satisfies it', () => {
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
    const missing: string[] = [];
    const walk = (value: unknown, node: { properties?: Record<string, unknown>; additionalProperties?: unknown } | undefined, path: string) => {
      if (!value || typeof value !== 'object' || Array.isArray(value)) return;
      for (const [key, child] of Object.entries(value)) {
        const childSchema = node?.properties?.[key] as typeof node;
        if (!childSchema && node?.additionalProperties === false) missing.push(`${path}${key}`);
        if (childSchema?.properties) walk(child, childSchema, `${path}${key}.`);
      }
    };
    walk(values, schema, '');
    expect(missing).toEqual([]);
    expect(helmTemplate(helm).status).toBe(0);
  });

  it('is matched by the chart README, which documents every value', () => {
    const full = readFileSync(join(CHART, 'README.md'), 'utf8');
    const readme = full.slice(full.indexOf('## Values'), full.indexOf('\n## ', full.indexOf('## Values') + 1));
    const documented = new Set([...readme.matchAll(/^\| `([A-Za-z0-9_.]+)` \|/gm)].map((m) => m[1] as string));
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const undocumented: string[] = [];
    const walk = (value: Record<string, unknown>, prefix: string) => {
      for (const [key, child] of Object.entries(value)) {
        const path = `${prefix}${key}`;
        if (documented.has(path)) continue;
        if (child && typeof child === 'object' && !Array.isArray(child) && Object.keys(child).length > 0) walk(child as Record<string, unknown>, `${path}.`);
        else undocumented.push(path);
      }
    };
    walk(values, '');
    expect(undocumented).toEqual([]);
    // and the README documents nothing that does not exist
    const exists = (path: string) =>
      path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), values) !== undefined;
    expect([...documented].filter((p) => !exists(p))).toEqual([]);
  });
});
