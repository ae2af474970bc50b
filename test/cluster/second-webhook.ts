import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCertificateAuthority, createServerCertificate } from '../../src/emulator/certs.js';
import { generateRsaKeyPair } from '../../src/emulator/keys.js';
import type { ControlPlane } from './control-plane.js';
import { uniqueName } from './control-plane.js';

/**
 * Another team's mutating webhook, registered after ours (its configuration name sorts later): it
 * appends a container named `late-app` to pods labelled `test.entra-sidecar.io/add-container`, so
 * the API server must reinvoke our webhook (reinvocationPolicy: IfNeeded) to give that container the
 * token mount and environment. Served on loopback over HTTPS, called through `clientConfig.url`.
 */
export interface SecondWebhook {
  configName: string;
  calls: number;
  close(): Promise<void>;
}

export const ADD_CONTAINER_LABEL = 'test.entra-sidecar.io/add-container';
export const LATE_CONTAINER = 'late-app';

export async function startSecondWebhook(cp: ControlPlane, namespace: string, serviceAccount: string): Promise<SecondWebhook> {
  const [caPair, serverPair] = await Promise.all([generateRsaKeyPair(), generateRsaKeyPair()]);
  const ca = createCertificateAuthority(caPair, 'second webhook CA');
  const tls = createServerCertificate(ca, serverPair, ['127.0.0.1']);
  const state = { calls: 0 };
  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      state.calls += 1;
      const review = JSON.parse(body) as { request: { uid: string; object: { spec: { containers: { name: string }[] } } } };
      const containers = review.request.object.spec.containers;
      const response: Record<string, unknown> = { uid: review.request.uid, allowed: true };
      if (!containers.some((c) => c.name === LATE_CONTAINER)) {
        const patch = [
          { op: 'add', path: '/spec/containers/-', value: { name: LATE_CONTAINER, image: 'registry.example.com/late:1.0', command: ['sleep', 'infinity'] } },
        ];
        response.patchType = 'JSONPatch';
        response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const configName = `zz-${uniqueName('second-webhook')}`;
  await cp.must('POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: configName },
    webhooks: [
      {
        name: 'add-container.test.entra-sidecar.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        reinvocationPolicy: 'Never',
        timeoutSeconds: 5,
        clientConfig: { url: `https://127.0.0.1:${port}/add`, caBundle: Buffer.from(ca.certPem).toString('base64') },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
        objectSelector: { matchLabels: { [ADD_CONTAINER_LABEL]: 'true' } },
      },
    ],
  });
  // the API server reads webhook configurations through an informer: a pod created right after the
  // POST may not reach the new webhook yet. Dry-run pods that only it selects until it is called:
  // the API server calls admission webhooks before it answers a create, so each answer is the signal
  // (called or not yet), and the next probe goes out as soon as it comes; the deadline bounds it.
  const deadline = Date.now() + 30_000;
  while (state.calls === 0) {
    if (Date.now() > deadline) throw new Error(`the API server did not call the second webhook within 30 s of ${configName} being created`);
    await cp.request('POST', `/api/v1/namespaces/${namespace}/pods?dryRun=All`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: uniqueName('second-webhook-probe'), labels: { [ADD_CONTAINER_LABEL]: 'true' } },
      spec: { serviceAccountName: serviceAccount, containers: [{ name: 'probe', image: 'registry.example.com/probe:1.0' }] },
    });
  }
  state.calls = 0;
  return {
    configName,
    get calls() {
      return state.calls;
    },
    async close() {
      await cp.request('DELETE', `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${configName}`);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
