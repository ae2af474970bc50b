import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCertificateAuthority, createServerCertificate } from '../../src/emulator/certs.js';
import { generateRsaKeyPair } from '../../src/emulator/keys.js';
import { recordSecret } from '../helpers/audit.js';
import { startEgressProxy, type EgressProxy } from './egress-proxy.js';
import { freePort, startProcess, type ManagedProcess } from './process.js';
import type { ControlPlaneBinaries } from './toolchain.js';

/** An answer of the API server. */
export interface KubeResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  text: string;
}

/** A running etcd + kube-apiserver on loopback, and what tests need to talk to it. */
export interface ControlPlane {
  bins: ControlPlaneBinaries;
  /** `https://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** the service-account issuer (served by the API server itself) */
  issuer: string;
  caFile: string;
  caPem: string;
  adminToken: string;
  /** a kubeconfig for the cluster-admin user */
  adminKubeconfig: string;
  egress: EgressProxy;
  /** the folder holding everything of this control plane (removed by stop) */
  dir: string;
  apiserver(): ManagedProcess;
  /** calls the API server as admin, or with `token` */
  request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    options?: { token?: string | null; contentType?: string },
  ): Promise<KubeResponse<T>>;
  /** like request, but throws unless the status is 2xx */
  must<T = Record<string, unknown>>(method: string, path: string, body?: unknown, options?: { token?: string | null; contentType?: string }): Promise<T>;
  /** runs the real kubectl (admin kubeconfig unless `kubeconfig` is given) */
  kubectl(args: string[], options?: { input?: string; kubeconfig?: string }): Promise<{ code: number; stdout: string; stderr: string }>;
  /** a kubeconfig file for a bearer token */
  kubeconfigFor(token: string, name: string): string;
  /** creates a namespace with a unique name (namespaces never finish deleting without a controller-manager) */
  namespace(prefix: string, labels?: Record<string, string>): Promise<string>;
  /** creates a ServiceAccount */
  serviceAccount(namespace: string, name: string, annotations?: Record<string, string>): Promise<Record<string, unknown>>;
  /** a TokenRequest for a ServiceAccount, optionally bound to a pod */
  createToken(
    namespace: string,
    serviceAccount: string,
    options?: { audiences?: string[]; expirationSeconds?: number; boundPod?: { name: string; uid: string } },
  ): Promise<{ token: string; expirationTimestamp: string }>;
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

const exec = promisify(execFile);
let sequence = 0;

/** A name unique in this run: `<prefix>-<pid base36>-<counter>-<random>`, at most 63 characters. */
export function uniqueName(prefix: string): string {
  sequence += 1;
  return `${prefix}-${process.pid.toString(36)}${sequence}-${randomBytes(3).toString('hex')}`.slice(0, 63);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, proc?: ManagedProcess): Promise<void> {
  const until = Date.now() + timeoutMs;
  let exited = false;
  void proc?.exited.then(() => (exited = true));
  for (;;) {
    if (await check().catch(() => false)) return;
    if (exited) throw new Error(`${what}: ${proc?.name} exited; last output:\n${proc?.tail()}`);
    if (Date.now() > until) throw new Error(`${what}: not within ${timeoutMs} ms${proc ? `; last output of ${proc.name}:\n${proc.tail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function httpGetStatus(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: 2000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Starts etcd and kube-apiserver (built from source) on free loopback ports: RBAC authorization,
 * the default admission plugins (ServiceAccount included), an https service-account issuer served
 * by the API server, OIDC discovery readable anonymously, the "cluster" egress through a loopback
 * proxy (see egress-proxy.ts). Resolves once `/readyz` answers 200.
 *
 * @example
 * const cp = await startControlPlane(bins);
 * await cp.kubectl(['get', 'ns']);
 * await cp.stop();
 */
export async function startControlPlane(bins: ControlPlaneBinaries): Promise<ControlPlane> {
  const dir = mkdtempSync(join(tmpdir(), 'entra-cluster-'));
  let etcd: ManagedProcess | undefined;
  let apiserver: ManagedProcess | undefined;
  let egress: EgressProxy | undefined;
  const cleanup = async () => {
    await apiserver?.stop();
    await etcd?.stop();
    await egress?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const pki = join(dir, 'pki');
    mkdirSync(pki);
    const [caPair, serverPair, saPair] = await Promise.all([generateRsaKeyPair(), generateRsaKeyPair(), generateRsaKeyPair()]);
    const ca = createCertificateAuthority(caPair, 'entra-sidecar test cluster CA');
    const serving = createServerCertificate(ca, serverPair, ['127.0.0.1', 'localhost', 'kubernetes.default.svc']);
    const caFile = join(pki, 'ca.crt');
    writeFileSync(caFile, ca.certPem);
    writeFileSync(join(pki, 'apiserver.crt'), serving.certPem);
    writeFileSync(join(pki, 'apiserver.key'), serving.keyPem, { mode: 0o600 });
    writeFileSync(join(pki, 'sa.key'), saPair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    writeFileSync(join(pki, 'sa.pub'), saPair.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const adminToken = randomBytes(24).toString('hex');
    recordSecret(adminToken);
    writeFileSync(join(pki, 'tokens.csv'), `${adminToken},admin,admin,system:masters\n`, { mode: 0o600 });

    egress = await startEgressProxy(join(dir, 'egress.sock'));
    writeFileSync(
      join(dir, 'egress.yaml'),
      [
        'apiVersion: apiserver.k8s.io/v1beta1',
        'kind: EgressSelectorConfiguration',
        'egressSelections:',
        '  - name: cluster',
        '    connection:',
        '      proxyProtocol: HTTPConnect',
        '      transport:',
        '        uds:',
        `          udsName: ${egress.socketPath}`,
        '',
      ].join('\n'),
    );

    // etcd: a port pair chosen free, retried if another process takes one meanwhile.
    for (let attempt = 1; ; attempt++) {
      const [client, peer] = [await freePort(), await freePort()];
      const clientUrl = `http://127.0.0.1:${client}`;
      const peerUrl = `http://127.0.0.1:${peer}`;
      etcd = startProcess('etcd', bins.etcd, [
        '--name=default',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${clientUrl}`,
        `--advertise-client-urls=${clientUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ]);
      try {
        await waitFor('etcd /health', async () => (await httpGetStatus(`${clientUrl}/health`)).text.includes('"health":"true"'), 60_000, etcd);
        (etcd as ManagedProcess & { clientUrl?: string }).clientUrl = clientUrl;
        break;
      } catch (err) {
        if (attempt >= 3 || !/address already in use/.test(etcd.tail())) throw err;
        rmSync(join(dir, 'etcd'), { recursive: true, force: true });
      }
    }
    const etcdUrl = (etcd as ManagedProcess & { clientUrl: string }).clientUrl;

    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    const issuer = url;
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${port}`,
      `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
      `--token-auth-file=${join(pki, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--service-account-issuer=${issuer}`,
      `--service-account-jwks-uri=${issuer}/openid/v1/jwks`,
      `--service-account-key-file=${join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      `--cert-dir=${join(dir, 'cert-dir')}`,
      `--egress-selector-config-file=${join(dir, 'egress.yaml')}`,
      '--v=1',
    ];
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, NO_PROXY: '127.0.0.1,localhost' };
    const launch = () => startProcess('kube-apiserver', bins.kubeApiserver, apiserverArgs, { env });
    const cpPartial = { url, caPem: ca.certPem, adminToken };
    const readyz = async () => (await apiRequest(cpPartial, 'GET', '/readyz')).status === 200;
    apiserver = launch();
    await waitFor('kube-apiserver /readyz', readyz, 180_000, apiserver);

    const adminKubeconfig = writeKubeconfig(dir, 'admin', url, caFile, adminToken);
    const cp: ControlPlane = {
      bins,
      url,
      port,
      issuer,
      caFile,
      caPem: ca.certPem,
      adminToken,
      adminKubeconfig,
      egress,
      dir,
      apiserver: () => apiserver as ManagedProcess,
      request: (method, path, body, options) => apiRequest(cpPartial, method, path, body, options),
      async must(method, path, body, options) {
        const r = await apiRequest(cpPartial, method, path, body, options);
        if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: ${r.status} ${r.text.slice(0, 600)}`);
        return r.body as never;
      },
      async kubectl(args, options = {}) {
        const child = spawn(bins.kubectl, ['--kubeconfig', options.kubeconfig ?? adminKubeconfig, `--cache-dir=${join(dir, 'kube-cache')}`, ...args], {
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        child.stdin.end(options.input ?? '');
        const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
        return new Promise((resolve) => {
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
          child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
          child.on('close', (code) => {
            clearTimeout(timer);
            resolve({ code: code ?? -1, stdout, stderr });
          });
        });
      },
      kubeconfigFor: (token, name) => writeKubeconfig(dir, name, url, caFile, token),
      async namespace(prefix, labels = {}) {
        const name = uniqueName(prefix);
        await cp.must('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
        return name;
      },
      serviceAccount: (namespace, name, annotations) =>
        cp.must('POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, annotations } }),
      async createToken(namespace, serviceAccount, options = {}) {
        const spec: Record<string, unknown> = { audiences: options.audiences ?? [], expirationSeconds: options.expirationSeconds ?? 3600 };
        if (options.boundPod) spec.boundObjectRef = { apiVersion: 'v1', kind: 'Pod', name: options.boundPod.name, uid: options.boundPod.uid };
        const r = await cp.must<{ status: { token: string; expirationTimestamp: string } }>(
          'POST',
          `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
          {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec,
          },
        );
        recordSecret(r.status.token);
        return r.status;
      },
      async stopApiServer() {
        await apiserver?.stop();
      },
      async startApiServer() {
        apiserver = launch();
        await waitFor('kube-apiserver /readyz after restart', readyz, 180_000, apiserver);
      },
      stop: cleanup,
    };

    // OIDC discovery readable without credentials, as Entra (or any relying party) reads it.
    await cp.must('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'service-account-issuer-discovery-anonymous' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:service-account-issuer-discovery' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:unauthenticated' }],
    });
    return cp;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function writeKubeconfig(dir: string, name: string, server: string, caFile: string, token: string): string {
  const path = join(dir, `kubeconfig-${name}-${randomBytes(4).toString('hex')}`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name, user: { token } }],
    contexts: [{ name, context: { cluster: 'test', user: name } }],
    'current-context': name,
  };
  writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
  return path;
}

function apiRequest<T>(
  cp: { url: string; caPem: string; adminToken: string },
  method: string,
  path: string,
  body?: unknown,
  options: { token?: string | null; contentType?: string } = {},
): Promise<KubeResponse<T>> {
  const token = options.token === undefined ? cp.adminToken : options.token;
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (payload !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${cp.url}${path}`, { method, headers, ca: cp.caPem, timeout: 30_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let parsed: unknown = {};
        try {
          parsed = text ? JSON.parse(text) : {};
        } catch {
          parsed = { raw: text };
        }
        resolve({ status: res.statusCode ?? 0, body: parsed as T, text });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs a command to completion (helm and friends), never throwing: code, stdout, stderr. */
export async function runTool(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(command, args, {
      encoding: 'utf8',
      env: options.env ?? process.env,
      timeout: options.timeoutMs ?? 180_000,
      maxBuffer: 32 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message ?? '' };
  }
}
