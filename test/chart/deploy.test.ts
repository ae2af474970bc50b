import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { mutatePod } from '../../src/webhook/mutate.js';
import type { Pod } from '../../src/webhook/pod.js';
import { DEFAULT_SIDECAR_SETTINGS } from '../../src/webhook/settings.js';
import { validateObject } from './kube-schema.js';
import { CHART, ensureHelm, helmTemplate, type KubeObject, only, ROOT } from './tools.js';

/**
 * deploy/ is for users without Helm: it must be exactly what the chart renders (one source), every
 * object must be valid, and the example application must be one the webhook really injects.
 */

const tools = ensureHelm();
const DEPLOY = join(ROOT, 'deploy');

function objectsOf(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

describe.skipIf(!tools)('deploy/ (plain manifests rendered from the chart)', () => {
  it('is up to date with the chart (scripts/render-deploy.sh --check)', () => {
    const r = spawnSync('bash', [join(ROOT, 'scripts', 'render-deploy.sh'), '--check'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('installs a restricted namespace and only valid objects, without the helm test pod or any hook', () => {
    const objects = objectsOf(join(DEPLOY, 'entra-sidecar.yaml'));
    expect(objects[0]).toMatchObject({
      kind: 'Namespace',
      metadata: { name: 'entra-sidecar', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    });
    expect(objects.flatMap(validateObject)).toEqual([]);
    expect(objects.filter((o) => o.kind === 'Pod')).toEqual([]);
    expect(objects.filter((o) => o.metadata.annotations?.['helm.sh/hook'])).toEqual([]);
    for (const o of objects.slice(1)) {
      const clusterScoped = ['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration'].includes(o.kind);
      expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(clusterScoped ? undefined : 'entra-sidecar');
    }
    const kinds = objects.map((o) => o.kind).sort();
    expect(kinds).toEqual(
      [
        'ClusterRole',
        'ClusterRole',
        'ClusterRoleBinding',
        'ClusterRoleBinding',
        'Deployment',
        'MutatingWebhookConfiguration',
        'Namespace',
        'PodDisruptionBudget',
        'Role',
        'RoleBinding',
        'Secret',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
  });

  it('ships the dashboard and the alert rules the chart ships', () => {
    expect(readFileSync(join(DEPLOY, 'grafana-dashboard.json'), 'utf8')).toBe(readFileSync(join(CHART, 'dashboards', 'entra-sidecar.json'), 'utf8'));
    const rendered = helmTemplate(tools?.helm as string, { 'monitoring.prometheusRule.enabled': true }, [
      '--namespace',
      'entra-sidecar',
      '--show-only',
      'templates/prometheusrule.yaml',
    ]);
    expect(rendered.status, rendered.stderr).toBe(0);
    const rule = only<{ spec: unknown }>(rendered.objects, 'PrometheusRule');
    expect(parse(readFileSync(join(DEPLOY, 'prometheus-rules.yaml'), 'utf8'))).toEqual(rule.spec);
  });

  it('has a valid example application that the webhook injects, reading the token it asks for', () => {
    const objects = objectsOf(join(DEPLOY, 'example-deployment.yaml'));
    expect(objects.flatMap(validateObject)).toEqual([]);
    const serviceAccount = only(objects, 'ServiceAccount');
    const deployment = only<{ spec: { template: { metadata: { annotations: Record<string, string> }; spec: Pod['spec'] } } }>(objects, 'Deployment');
    const template = deployment.spec.template;
    expect(template.spec.serviceAccountName).toBe(serviceAccount.metadata.name);
    expect(template.metadata.annotations['entra-sidecar.io/inject']).toBe('true');

    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'token-reader-', namespace: 'demo', ...template.metadata },
      spec: template.spec,
    } as Pod;
    const outcome = mutatePod(
      pod,
      { namespace: 'demo', name: serviceAccount.metadata.name, annotations: serviceAccount.metadata.annotations ?? {} },
      { ...DEFAULT_SIDECAR_SETTINGS, image: 'entra-sidecar:0.1.0', mode: 'native' },
      () => 'a'.repeat(64),
    );
    expect(outcome.kind, JSON.stringify(outcome)).toBe('mutated');
    const injected = (outcome as { pod: Pod }).pod;
    expect(validateObject(injected as unknown as KubeObject)).toEqual([]);
    const app = injected.spec.containers.find((c) => c.name === 'app');
    expect(app?.volumeMounts?.map((m) => m.mountPath)).toContain(DEFAULT_SIDECAR_SETTINGS.tokenDir);
    expect(app?.env?.map((e) => e.name)).toEqual(expect.arrayContaining(['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'ENTRA_TOKEN_DIR']));

    // the app reads the file named in entra-sidecar.io/tokens and calls the endpoint with the header
    const script = (template.spec.containers[0]?.args ?? [])[0] as string;
    const tokenName = template.metadata.annotations['entra-sidecar.io/tokens']?.split('=')[0];
    expect(script).toContain(`\${dir}/${tokenName}\``);
    expect(script).toContain("'X-IDENTITY-HEADER': process.env.IDENTITY_HEADER");
    expect(script).toContain('process.env.IDENTITY_ENDPOINT');
    expect(script).not.toMatch(/console\.log\([^)]*\btoken\}/); // prints the token's length, never the token
  });
});
