import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fjp from 'fast-json-patch';
import forge from 'node-forge';
import { recordSecret } from './audit.js';

/**
 * A small fake Kubernetes API server over HTTPS, answering in the real JSON shapes (objects with
 * metadata.resourceVersion, `Status` objects for errors) for what the webhook uses: `/version`,
 * ServiceAccounts (get), Secrets (get, create, JSON-patch, update) and
 * MutatingWebhookConfigurations (get, JSON-patch, update). Writes are guarded by resourceVersion
 * like the real server (409 Conflict). Tests reach it through @kubernetes/client-node with the
 * kubeconfig it writes (server URL, its CA, a bearer token), so the real client code runs.
 */

type Obj = Record<string, any>;

export interface FakeRequest {
  method: string;
  path: string;
  status: number;
  contentType?: string;
}

export interface Fault {
  method?: string;
  /** matches when the path starts with this */
  pathPrefix: string;
  /** answer with this status (a Status object), or hang for hangMs before answering normally */
  status?: number;
  hangMs?: number;
  /** how many requests it applies to (default 1) */
  times?: number;
}

export interface FakeKubeApi {
  url: string;
  caPem: string;
  token: string;
  /** kubeconfig file pointing at this server with its CA and token */
  kubeconfigPath: string;
  version: { major: string; minor: string; gitVersion: string };
  requests: FakeRequest[];
  /** adds or replaces a ServiceAccount, now or after `delayMs` */
  putServiceAccount(namespace: string, name: string, annotations?: Record<string, string>, delayMs?: number): void;
  putSecret(namespace: string, name: string, data?: Record<string, string>, type?: string): Obj;
  getSecret(namespace: string, name: string): Obj | undefined;
  putWebhookConfig(name: string, body: Obj): Obj;
  getWebhookConfig(name: string): Obj | undefined;
  /** the next matching requests fail or hang */
  addFault(fault: Fault): void;
  /** hold the next `count` Secret GETs until all of them have arrived (forces a race between replicas) */
  holdSecretReads(count: number): void;
  close(): Promise<void>;
}

function makeTlsMaterial(): { caPem: string; certPem: string; keyPem: string } {
  const caKeys = forge.pki.rsa.generateKeyPair(2048);
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = '01';
  ca.validity.notBefore = new Date(Date.now() - 60_000);
  ca.validity.notAfter = new Date(Date.now() + 86_400_000);
  const caSubject = [{ name: 'commonName', value: 'fake-kube-api-ca' }];
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, critical: true },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '02';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: 'kube-apiserver' }]);
  cert.setIssuer(caSubject);
  cert.setExtensions([
    {
      name: 'subjectAltName',
      altNames: [
        { type: 7, ip: '127.0.0.1' },
        { type: 2, value: 'localhost' },
      ],
    },
    { name: 'extKeyUsage', serverAuth: true },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());
  return { caPem: forge.pki.certificateToPem(ca), certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

const PLURAL: Record<string, string> = { serviceaccounts: 'ServiceAccount', secrets: 'Secret', mutatingwebhookconfigurations: 'MutatingWebhookConfiguration' };

function status(code: number, reason: string, message: string, details?: Obj): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** Starts the fake API on 127.0.0.1 with a fresh CA. */
export async function startFakeKubeApi(options: { version?: { major: string; minor: string; gitVersion: string } } = {}): Promise<FakeKubeApi> {
  const tlsMaterial = makeTlsMaterial();
  const token = randomBytes(24).toString('hex');
  recordSecret(token);
  let rv = 1000;
  const nextRv = () => String(++rv);
  const store = new Map<string, Obj>(); // `${plural}/${ns}/${name}` (ns '' for cluster-scoped)
  const requests: FakeRequest[] = [];
  const faults: Array<Fault & { left: number }> = [];
  const timers = new Set<NodeJS.Timeout>();
  let held: { count: number; waiting: Array<() => void> } | undefined;

  const meta = (namespace: string | undefined, name: string, extra: Obj = {}) => ({
    name,
    ...(namespace ? { namespace } : {}),
    uid: `${randomBytes(4).toString('hex')}-0000-4000-8000-${randomBytes(6).toString('hex')}`,
    resourceVersion: nextRv(),
    creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    ...extra,
  });

  const api: FakeKubeApi = {
    url: '',
    caPem: tlsMaterial.caPem,
    token,
    kubeconfigPath: '',
    version: options.version ?? { major: '1', minor: '32', gitVersion: 'v1.32.4' },
    requests,
    putServiceAccount(namespace, name, annotations = {}, delayMs = 0) {
      const put = () => {
        store.set(`serviceaccounts/${namespace}/${name}`, {
          kind: 'ServiceAccount',
          apiVersion: 'v1',
          metadata: meta(namespace, name, Object.keys(annotations).length ? { annotations } : {}),
        });
      };
      if (delayMs > 0) {
        const t = setTimeout(() => {
          timers.delete(t);
          put();
        }, delayMs);
        timers.add(t);
      } else put();
    },
    putSecret(namespace, name, data, type = 'Opaque') {
      const obj: Obj = { kind: 'Secret', apiVersion: 'v1', metadata: meta(namespace, name), type };
      if (data) obj.data = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
      store.set(`secrets/${namespace}/${name}`, obj);
      return obj;
    },
    getSecret: (namespace, name) => store.get(`secrets/${namespace}/${name}`),
    putWebhookConfig(name, body) {
      const obj = {
        kind: 'MutatingWebhookConfiguration',
        apiVersion: 'admissionregistration.k8s.io/v1',
        ...body,
        metadata: meta(undefined, name, { generation: 1 }),
      };
      store.set(`mutatingwebhookconfigurations//${name}`, obj);
      return obj;
    },
    getWebhookConfig: (name) => store.get(`mutatingwebhookconfigurations//${name}`),
    addFault(fault) {
      faults.push({ ...fault, left: fault.times ?? 1 });
    },
    holdSecretReads(count) {
      held = { count, waiting: [] };
    },
    close: async () => undefined,
  };

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
  }

  async function route(req: IncomingMessage, method: string, path: string): Promise<[number, Obj]> {
    if (path === '/version' && method === 'GET') {
      return [
        200,
        {
          ...api.version,
          gitCommit: 'abc123',
          gitTreeState: 'clean',
          buildDate: '2025-04-22T00:00:00Z',
          goVersion: 'go1.23.8',
          compiler: 'gc',
          platform: 'linux/amd64',
        },
      ];
    }
    let m = /^\/api\/v1\/namespaces\/([^/]+)\/(serviceaccounts|secrets)(?:\/([^/]+))?$/.exec(path);
    let plural: string;
    let namespace: string;
    let name: string | undefined;
    if (m) {
      [, namespace, plural, name] = m as unknown as [string, string, string, string | undefined];
    } else {
      m = /^\/apis\/admissionregistration\.k8s\.io\/v1\/(mutatingwebhookconfigurations)(?:\/([^/]+))?$/.exec(path);
      if (!m) return [404, status(404, 'NotFound', 'the server could not find the requested resource')];
      [, plural, name] = m as unknown as [string, string, string | undefined];
      namespace = '';
    }
    const key = `${plural}/${namespace}/${name ?? ''}`;
    const kind = PLURAL[plural] as string;
    const notFound = (): [number, Obj] => [404, status(404, 'NotFound', `${plural} "${name}" not found`, { name, kind: plural })];
    const conflict = (): [number, Obj] => [
      409,
      status(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name, kind: plural },
      ),
    ];

    if (method === 'GET' && name) {
      if (plural === 'secrets' && held && held.count > 0) {
        const h = held;
        await new Promise<void>((resolve) => {
          h.waiting.push(resolve);
          if (h.waiting.length >= h.count) {
            held = undefined;
            for (const w of h.waiting) w();
          }
        });
      }
      const obj = store.get(key);
      return obj ? [200, obj] : notFound();
    }
    if (method === 'POST' && !name && plural === 'secrets') {
      const body = (await readJson(req)) as Obj;
      const n = body?.metadata?.name as string;
      const k = `${plural}/${namespace}/${n}`;
      if (store.has(k)) return [409, status(409, 'AlreadyExists', `${plural} "${n}" already exists`, { name: n, kind: plural })];
      const obj = { ...body, kind, apiVersion: 'v1', metadata: { ...body.metadata, ...meta(namespace, n) } };
      store.set(k, obj);
      return [201, obj];
    }
    if ((method === 'PATCH' || method === 'PUT') && name && plural !== 'serviceaccounts') {
      const current = store.get(key);
      if (!current) return notFound();
      let next: Obj;
      if (method === 'PATCH') {
        if (req.headers['content-type'] !== 'application/json-patch+json') {
          return [
            415,
            status(
              415,
              'UnsupportedMediaType',
              `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
            ),
          ];
        }
        const ops = (await readJson(req)) as fjp.Operation[];
        try {
          next = fjp.applyPatch(structuredClone(current), ops, true, false).newDocument;
        } catch (err) {
          return [422, status(422, 'Invalid', `the server rejected our request due to an error in our request: ${(err as Error).message.split('\n')[0]}`)];
        }
      } else next = (await readJson(req)) as Obj;
      if (next?.metadata?.resourceVersion !== undefined && next.metadata.resourceVersion !== current.metadata.resourceVersion) return conflict();
      next.metadata = { ...current.metadata, ...next.metadata, resourceVersion: nextRv(), uid: current.metadata.uid };
      store.set(key, next);
      return [200, next];
    }
    return [405, status(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`)];
  }

  const server: Server = createServer({ key: tlsMaterial.keyPem, cert: tlsMaterial.certPem }, (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] as string;
    const reply = (code: number, body: Obj) => {
      requests.push({ method, path, status: code, contentType: req.headers['content-type'] });
      const text = JSON.stringify(body);
      res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    void (async () => {
      if (req.headers.authorization !== `Bearer ${token}`) return reply(401, status(401, 'Unauthorized', 'Unauthorized'));
      const fault = faults.find((f) => f.left > 0 && path.startsWith(f.pathPrefix) && (!f.method || f.method === method));
      if (fault) {
        fault.left--;
        if (fault.hangMs) {
          await new Promise<void>((r) => {
            const t = setTimeout(() => {
              timers.delete(t);
              r();
            }, fault.hangMs);
            timers.add(t);
          });
          if (res.destroyed || req.destroyed) return;
        } else if (fault.status) {
          const reason = fault.status === 403 ? 'Forbidden' : fault.status === 429 ? 'TooManyRequests' : fault.status >= 500 ? 'InternalError' : 'BadRequest';
          return reply(fault.status, status(fault.status, reason, `injected fault ${fault.status}`));
        }
      }
      try {
        const [code, body] = await route(req, method, path);
        reply(code, body);
      } catch (err) {
        reply(500, status(500, 'InternalError', (err as Error).message));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  api.url = `https://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'fake-kube-'));
  api.kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(
    api.kubeconfigPath,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake',
      '  cluster:',
      `    server: ${api.url}`,
      `    certificate-authority-data: ${Buffer.from(tlsMaterial.caPem).toString('base64')}`,
      'contexts:',
      '- name: fake',
      '  context:',
      '    cluster: fake',
      '    user: webhook',
      'current-context: fake',
      'users:',
      '- name: webhook',
      '  user:',
      `    token: ${token}`,
      '',
    ].join('\n'),
  );
  api.close = () =>
    new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      server.close(() => resolve());
      rmSync(dir, { recursive: true, force: true });
    });
  return api;
}
