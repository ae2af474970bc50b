import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { validateObject } from '../chart/kube-schema.js';
import { ensureHelm, ROOT, type KubeObject } from '../chart/tools.js';
import { MATRIX } from '../chart/values-matrix.js';
import { helmInstall, helmTemplateFor, isCustomResource, objectPath } from './chart.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { requireControlPlane } from './toolchain.js';

/**
 * The chart on a real kube-apiserver: `helm install` with its defaults and with the values matrix
 * of the `helm template` tests, so server-side validation, defaulting and admission judge every
 * object; and deploy/entra-sidecar.yaml through `kubectl apply --dry-run=server`.
 */

const bins = requireControlPlane();
const helm = bins ? ensureHelm() : undefined;

describe.skipIf(!bins || !helm)('the chart on a real API server', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane(bins!);
  });
  afterAll(async () => {
    await cp?.stop();
  });

  describe.each(Object.keys(MATRIX))('with %s values', (name) => {
    const values = MATRIX[name] as Record<string, unknown>;

    it('is accepted by the API server: every object stored (built-in kinds) or schema-valid (CRD kinds)', async () => {
      // short names: cert-manager refuses a certificate commonName (<release>-entra-sidecar.<namespace>.svc) over 64 characters
      const namespace = await cp.namespace('chart');
      const release = `r${Object.keys(MATRIX).indexOf(name)}`;
      const rendered = helmTemplateFor(helm!.helm, release, namespace, values);
      expect(rendered.status, rendered.stderr).toBe(0);
      const custom = rendered.objects.filter(isCustomResource);
      const builtIn = rendered.objects.filter((o) => !isCustomResource(o));

      if (custom.length === 0) {
        // A real install: helm creates every object through the API server.
        const r = await helmInstall(cp, helm!.helm, release, namespace, values);
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        expect(r.stdout).toContain('STATUS: deployed');
      } else {
        // The CRDs (prometheus-operator, cert-manager) are not on this cluster: the built-in kinds go
        // through server-side dry-run, the custom resources through the same schema check as the
        // `helm template` tests (test/chart/kube-schema.ts).
        // (the `helm test` pod runs as the namespace's default ServiceAccount: no controller-manager makes it here)
        await cp.serviceAccount(namespace, 'default');
        const yaml = builtIn.map((o) => JSON.stringify(o)).join('\n---\n');
        const r = await cp.kubectl(['apply', '--dry-run=server', '-n', namespace, '-f', '-'], { input: yaml });
        expect(r.code, r.stderr).toBe(0);
        expect(custom.flatMap(validateObject)).toEqual([]);
      }

      if (custom.length === 0) {
        for (const o of builtIn) {
          if (o.metadata.annotations?.['helm.sh/hook']) continue; // helm test pod: created by `helm test` only
          const stored = await cp.request<KubeObject>('GET', objectPath(o, namespace));
          expect(stored.status, `${o.kind} ${o.metadata.name}: ${stored.text.slice(0, 300)}`).toBe(200);
          expect(stored.body.metadata.labels?.['app.kubernetes.io/instance']).toBe(release);
        }
        // Server-side defaulting happened, and nothing the chart wrote was dropped: the stored
        // webhook configuration keeps its matchConditions, selectors, policies and timeout.
        const hook = rendered.objects.find((o) => o.kind === 'MutatingWebhookConfiguration') as KubeObject & { webhooks: Record<string, unknown>[] };
        const storedHook = (await cp.must<{ webhooks: Record<string, unknown>[] }>('GET', objectPath(hook))).webhooks[0] as Record<string, unknown>;
        const renderedHook = hook.webhooks[0] as Record<string, unknown>;
        for (const field of [
          'failurePolicy',
          'timeoutSeconds',
          'reinvocationPolicy',
          'sideEffects',
          'matchPolicy',
          'rules',
          'namespaceSelector',
          'matchConditions',
          'objectSelector',
        ]) {
          if (renderedHook[field] === undefined) continue;
          expect(storedHook[field], field).toEqual(renderedHook[field]);
        }
        const deployment = rendered.objects.find((o) => o.kind === 'Deployment') as KubeObject;
        const stored = await cp.must<{
          spec: { template: { spec: { containers: { terminationMessagePath?: string; args: string[] }[]; dnsPolicy?: string } } };
        }>('GET', objectPath(deployment, namespace));
        expect(stored.spec.template.spec.dnsPolicy).toBe('ClusterFirst');
        expect(stored.spec.template.spec.containers[0]?.terminationMessagePath).toBe('/dev/termination-log');
      }
    });
  });

  it('refuses a values file that breaks the schema, naming the value (helm install against the server)', async () => {
    const namespace = await cp.namespace('chart-bad');
    const r = await helmInstall(cp, helm!.helm, 'bad', namespace, { 'webhook.failurePolicy': 'Sometimes' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/failurePolicy/);
  });

  it('deploy/entra-sidecar.yaml passes `kubectl apply --dry-run=server`', async () => {
    const text = readFileSync(join(ROOT, 'deploy', 'entra-sidecar.yaml'), 'utf8');
    const objects = parseAllDocuments(text)
      .map((d) => d.toJS() as KubeObject | null)
      .filter((o): o is KubeObject => o !== null);
    const namespaceDoc = objects.find((o) => o.kind === 'Namespace') as KubeObject;
    // The namespace must exist for the server to judge the namespaced objects: create it for real
    // (as the first document of `kubectl apply -f` would), then dry-run the whole file.
    const created = await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(namespaceDoc) });
    expect(created.code, created.stderr).toBe(0);
    const r = await cp.kubectl(['apply', '--dry-run=server', '-f', join(ROOT, 'deploy', 'entra-sidecar.yaml')]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(objects.length);
    for (const line of lines) expect(line).toMatch(/(created|configured|unchanged) \(server dry run\)$/);
    // the example application is valid for the server too
    const example = await cp.kubectl(['apply', '--dry-run=server', '-n', namespaceDoc.metadata.name, '-f', join(ROOT, 'deploy', 'example-deployment.yaml')]);
    expect(example.code, example.stderr).toBe(0);
  });
});
