// Just enough of a Kubernetes API server for the webhook under load: GET /version and GET of
// ServiceAccounts, over HTTPS with a bearer token, plus the kubeconfig that points at it. The
// webhook's real @kubernetes/client-node code talks to it.
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loopbackTls } from './tls.mjs';

/** Starts the fake API; `serviceAccounts` maps "namespace/name" to annotations. */
export async function startFakeKubeApi(dir, serviceAccounts) {
  const tls = loopbackTls();
  const token = randomBytes(24).toString('hex');
  let requests = 0;
  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    requests++;
    const send = (status, body) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.headers.authorization !== `Bearer ${token}`)
      return send(401, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 });
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/version') return send(200, { major: '1', minor: '32', gitVersion: 'v1.32.4', platform: 'linux/amd64' });
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/serviceaccounts\/([^/]+)$/.exec(path);
    const annotations = m && req.method === 'GET' ? serviceAccounts[`${m[1]}/${m[2]}`] : undefined;
    if (!annotations) return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', message: `not found: ${path}`, code: 404 });
    return send(200, {
      kind: 'ServiceAccount',
      apiVersion: 'v1',
      metadata: { name: m[2], namespace: m[1], uid: '00000000-0000-4000-8000-000000000001', resourceVersion: '1001', annotations },
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${server.address().port}`;
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfigPath,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'bench',
      clusters: [{ name: 'bench', cluster: { server: url, 'certificate-authority-data': Buffer.from(tls.caPem).toString('base64') } }],
      users: [{ name: 'bench', user: { token } }],
      contexts: [{ name: 'bench', context: { cluster: 'bench', user: 'bench' } }],
    }),
  );
  return {
    url,
    kubeconfigPath,
    requestCount: () => requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
