import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { mutatePod } from '../../src/webhook/mutate.js';
import type { Container, Pod } from '../../src/webhook/pod.js';
import { DEFAULT_SIDECAR_SETTINGS, type MutationSettings } from '../../src/webhook/settings.js';
import { createCertificateAuthority, issueServingCertificate, serviceDnsNames } from '../../src/webhook/certificates.js';
import { ProjectedVolumeWriter } from '../../src/emulator/projected-volume.js';
import { ensureHelm, helmTemplate, NAMESPACE, only, RELEASE } from '../chart/tools.js';
import { recordSecret } from '../helpers/audit.js';
import { startFakeKubeApi } from '../helpers/fake-kube-api.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { buildImage, IMAGE_ARCHIVE, imageTestsUnavailable, unpackImage, type UnpackedImage } from './oci-image.js';
import { podContainerConfig, type HostVolume } from './pod-container.js';
import { runContainer, runToExit, type RuncContainer } from './runc.js';

/**
 * The container image, built from the project's Dockerfile by scripts/build-image.sh (buildah, no
 * daemon) and run with runc the way kubelet runs the containers the webhook injects: the pod spec
 * comes from the webhook's own mutation, and each container's args, env, user, capabilities,
 * read-only root, memory limit and volume mounts become the OCI runtime config (pod-container.ts).
 * The containers share the host's network namespace, so they reach the Entra emulator on loopback.
 */

const ROOT = process.cwd();
const unavailable = imageTestsUnavailable();
if (unavailable) {
  console.warn(`image tests: SKIPPED — ${unavailable}${process.env.CI === 'true' ? ' (CI=true: this fails the run)' : ''}`);
}

describe.runIf(unavailable !== undefined && process.env.CI === 'true')('the image tests in CI', () => {
  it('have the tools they need', () => {
    throw new Error(`image tests cannot run: ${unavailable}`);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A folder only root can enter on the host, and a mode-0777 folder inside it (kubelet's emptyDir). */
function emptyDir(): { hostPath: string; cleanup: () => void } {
  const parent = mkdtempSync(join(tmpdir(), 'entra-pod-'));
  const dir = join(parent, 'volume');
  spawnSync('mkdir', ['-m', '0777', dir]);
  // medium: Memory, sizeLimit 1Mi, as the webhook asks: a tmpfs of that size
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0777,nosuid,nodev', 'tmpfs', dir]).status === 0;
  return {
    hostPath: dir,
    cleanup: () => {
      if (mounted) spawnSync('umount', [dir]);
      rmSync(parent, { recursive: true, force: true });
    },
  };
}

function walk(dir: string, visit: (path: string) => void): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    visit(p);
    if (e.isDirectory()) walk(p, visit);
  }
}

describe.skipIf(unavailable !== undefined)('the container image, run with runc as a pod runs it', () => {
  let image: UnpackedImage;
  let emulator: Emulator;
  const cleanups: (() => void)[] = [];
  const running: RuncContainer[] = [];

  beforeAll(async () => {
    const out = await buildImage();
    console.log(out.trim());
    image = await unpackImage();
    emulator = await startTestEmulator();
  }, 1_800_000);

  afterAll(async () => {
    for (const c of running) c.remove();
    for (const f of cleanups.reverse()) f();
    await emulator?.close();
  });

  /** The webhook's mutation of a pod that opts in with the emulator's identity. */
  async function injectedPod(mode: 'native' | 'init-only', extra: Partial<MutationSettings> = {}): Promise<{ pod: Pod; settings: MutationSettings }> {
    const settings: MutationSettings = {
      ...DEFAULT_SIDECAR_SETTINGS,
      image: image.ref,
      mode: 'native',
      authorityHost: emulator.url,
      port: await freePort(),
      healthPort: await freePort(),
      ...extra,
    };
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'orders-api',
        namespace: 'default',
        annotations: {
          'entra-sidecar.io/inject': 'true',
          'entra-sidecar.io/client-id': emulator.clientId,
          'entra-sidecar.io/tenant-id': emulator.tenantId,
          'entra-sidecar.io/tokens': 'storage=https://storage.azure.com/.default',
          'entra-sidecar.io/mode': mode,
        },
      },
      spec: { containers: [{ name: 'app', image: 'example/app:1' }] },
    } as Pod;
    let n = 0;
    const outcome = mutatePod(pod, undefined, settings, () => `${'ab'.repeat(31)}${String(++n).padStart(2, '0')}`);
    if (outcome.kind !== 'mutated') throw new Error(`the webhook did not inject: ${JSON.stringify(outcome)}`);
    return { pod: outcome.pod, settings };
  }

  /** The pod's volumes on the host: the projected service-account token (kubelet's layout) and the token emptyDir. */
  function podVolumes(): { volumes: Record<string, HostVolume>; tokens: string } {
    const saDir = mkdtempSync(join(tmpdir(), 'entra-sa-'));
    chmodSync(saDir, 0o755);
    emulator.writeProjectedToken(saDir);
    cleanups.push(() => rmSync(saDir, { recursive: true, force: true }));
    const tokens = emptyDir();
    cleanups.push(tokens.cleanup);
    return { volumes: { 'entra-sidecar-sa-token': { hostPath: saDir }, 'entra-sidecar-tokens': { hostPath: tokens.hostPath } }, tokens: tokens.hostPath };
  }

  /** The emulator's CA, trusted the way a cluster with a private CA would add it (the only change to the pod). */
  function trustEmulator() {
    return {
      extraBinds: [{ hostPath: emulator.caFile, containerPath: '/etc/entra-test/emulator-ca.pem' }],
      extraEnv: { NODE_EXTRA_CA_CERTS: '/etc/entra-test/emulator-ca.pem' },
    };
  }

  function config(
    name: string,
    container: Container,
    volumes: Record<string, HostVolume>,
    extra: ReturnType<typeof trustEmulator> | Record<string, never> = trustEmulator(),
  ) {
    return podContainerConfig({
      rootfs: image.rootfs,
      image: image.config,
      container,
      volumes,
      cgroupsPath: `/entra-image-test/${name}-${process.pid}-${Date.now()}`,
      ...extra,
    });
  }

  /** A path inside the image with its symbolic links resolved (/var/run → /run). */
  function resolveInImage(path: string): string {
    let resolved = '';
    for (const part of path.split('/').filter(Boolean)) {
      const candidate = `${resolved}/${part}`;
      try {
        const target = readlinkSync(join(image.rootfs, candidate));
        resolved = target.startsWith('/') ? resolveInImage(target) : resolveInImage(`${resolved}/${target}`);
      } catch {
        resolved = candidate;
      }
    }
    return resolved;
  }

  const byName = (pod: Pod, name: string) => [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === name) as Container;

  it('is configured to run as 65532:65532 in production mode, with entra-sidecar as its entrypoint', () => {
    expect(image.config.User).toBe('65532:65532');
    expect(image.config.Entrypoint).toEqual(['entra-sidecar']);
    expect(image.config.Env).toContain('NODE_ENV=production');
    const sizes = spawnSync(process.execPath, [join(ROOT, 'scripts', 'image-sizes.mjs'), IMAGE_ARCHIVE], { encoding: 'utf8' });
    expect(sizes.status).toBe(0);
    console.log(sizes.stdout.trim());
  });

  it('runs as 65532:65532 when a pod sets no user (`kubectl run` with the image and nothing else)', async () => {
    const plain: Container = { name: 'plain', command: ['sh', '-c', 'echo "$(id -u):$(id -g)"'] };
    const r = await runToExit('plain', config('plain', plain, {}, {}));
    expect(r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toEqual(['65532:65532']);
  });

  it('holds the production dependencies and no dev dependency, source map or test', () => {
    const app = join(image.rootfs, 'app');
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.dev === true)
      .map(([path]) => path);
    expect(devOnly).toEqual(expect.arrayContaining(['node_modules/vitest', 'node_modules/typescript', 'node_modules/esbuild']));
    expect(devOnly.filter((path) => existsSync(join(app, path)))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(app, 'node_modules', dep, 'package.json')), dep).toBe(true);
    const unwanted: string[] = [];
    walk(join(app, 'dist'), (p) => {
      if (/\.(map|ts)$|\.test\.js$/.test(p)) unwanted.push(relative(app, p));
    });
    expect(unwanted).toEqual([]);
    expect(existsSync(join(app, 'src'))).toBe(false);
    expect(existsSync(join(app, 'test'))).toBe(false);
    expect(existsSync(join(app, 'dist', 'cli.js'))).toBe(true);
  });

  it('has no file or folder that UID/GID 65532 owns or that anyone may write (sticky /tmp aside)', () => {
    const offenders: string[] = [];
    walk(image.rootfs, (p) => {
      const s = lstatSync(p);
      // device nodes (debootstrap's /dev) are hidden by the runtime's /dev tmpfs
      if (s.isSymbolicLink() || s.isCharacterDevice() || s.isBlockDevice()) return;
      const sticky = (s.mode & 0o1000) !== 0;
      if (s.uid === 65532 || s.gid === 65532 || ((s.mode & 0o002) !== 0 && !sticky))
        offenders.push(`${relative(image.rootfs, p)} (${s.uid}:${s.gid} ${(s.mode & 0o7777).toString(8)})`);
    });
    expect(offenders).toEqual([]);
  });

  it('`entra-sidecar sidecar --once` (the init-only container) writes the token files from Entra and exits 0', async () => {
    const { pod } = await injectedPod('init-only');
    const once = byName(pod, 'entra-sidecar-init');
    expect(once.args).toEqual(['sidecar', '--once']);
    const { volumes, tokens } = podVolumes();
    const r = await runToExit('once', config('once', once, volumes));
    expect(r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    const token = readFileSync(join(tokens, 'storage'), 'utf8');
    recordSecret(token);
    expect(emulator.issuedSecrets()).toContain(token);
    const json = JSON.parse(readFileSync(join(tokens, 'storage.json'), 'utf8')) as { access_token: string; expires_on: number };
    expect(json.access_token).toBe(token);
    // written by 65532, readable by the app containers, nothing else in the volume
    expect(statSync(join(tokens, 'storage')).uid).toBe(65532);
    expect(readdirSync(tokens).sort()).toEqual(['storage', 'storage.json']);
    expect(emulator.exchangeCount()).toBeGreaterThan(0);
  });

  it('`entra-sidecar sidecar` (the native sidecar) serves tokens and /readyz, writes nothing outside its volumes, and exits 0 on SIGTERM', async () => {
    const { pod, settings } = await injectedPod('native');
    const sidecar = byName(pod, 'entra-sidecar');
    const env = Object.fromEntries((sidecar.env ?? []).map((e) => [e.name, e.value]));
    expect(env.NODE_OPTIONS).toMatch(/--max-old-space-size=/);
    const { volumes, tokens } = podVolumes();
    const c = runContainer('sidecar', config('sidecar', sidecar, volumes));
    running.push(c);
    recordSecret(env.ENTRA_SIDECAR_IDENTITY_HEADER);
    await c.waitForLog((l) => l.msg === 'sidecar started');
    const health = `http://127.0.0.1:${settings.healthPort}`;
    const readyBy = Date.now() + 30_000;
    for (;;) {
      const r = await fetch(`${health}/readyz`).catch(() => undefined);
      if (r?.status === 200) break;
      if (Date.now() > readyBy)
        throw new Error(
          `/readyz never answered 200 (last: ${r?.status ?? 'no answer'}); stderr: ${c.stderr.join(' | ')}; logs: ${c.stdout.slice(-5).join(' | ')}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100)); // polling the readiness signal, as kubelet's probe does
    }
    const res = await fetch(`http://127.0.0.1:${settings.port}/msi/token?api-version=2019-08-01&resource=${encodeURIComponent('https://storage.azure.com/')}`, {
      headers: { 'X-IDENTITY-HEADER': env.ENTRA_SIDECAR_IDENTITY_HEADER as string },
    });
    const body = (await res.json()) as { access_token: string };
    recordSecret(body.access_token);
    expect(res.status).toBe(200);
    expect(emulator.issuedSecrets()).toContain(body.access_token);
    expect(readFileSync(join(tokens, 'storage'), 'utf8')).toBe(body.access_token);

    // inside the running container, as its user: nothing on the root file system is writable
    // (find exits 1 for the folders 65532 may not enter, such as /root: those are not writable either)
    const writable = spawnSync('runc', ['exec', '--user', '65532:65532', c.id, 'find', '/', '-xdev', '-writable', '-print'], { encoding: 'utf8' });
    expect(writable.stderr.split('\n').filter((l) => l !== '' && !/Permission denied$/.test(l))).toEqual([]);
    const volumeMounts = new Set((sidecar.volumeMounts ?? []).filter((m) => !m.readOnly).map((m) => resolveInImage(m.mountPath)));
    expect(volumeMounts.size).toBe(1); // the token folder
    expect(writable.stdout.split('\n').filter((l) => l !== '' && !volumeMounts.has(l))).toEqual([]);
    expect(writable.stdout.split('\n')).toContain([...volumeMounts][0]); // find saw the writable volume

    expect(await c.stop('SIGTERM')).toBe(0);
    expect(c.stderr).toEqual([]);
  });

  it('the sidecar never loads @kubernetes/client-node (the bench module audit, in the container), and the check catches it when it is loaded', async () => {
    const { pod, settings } = await injectedPod('native');
    const sidecar = byName(pod, 'entra-sidecar');
    const env = Object.fromEntries((sidecar.env ?? []).map((e) => [e.name, e.value]));
    const record = emptyDir();
    cleanups.push(record.cleanup);
    const hook = 'file:///opt/entra-bench-hooks/record-modules.mjs';
    const audit = (name: string) => ({
      extraBinds: [...trustEmulator().extraBinds, { hostPath: join(ROOT, 'bench', 'hooks'), containerPath: '/opt/entra-bench-hooks' }],
      extraEnv: { ...trustEmulator().extraEnv, NODE_OPTIONS: `${env.NODE_OPTIONS} --import=${hook}`, BENCH_MODULE_LOG: `/var/run/entra-bench/${name}.txt` },
    });
    const recordMount = { name: 'bench-record', mountPath: '/var/run/entra-bench' };
    const withRecord = (c: Container): Container => ({ ...c, volumeMounts: [...(c.volumeMounts ?? []), recordMount] });
    const { volumes } = podVolumes();
    volumes['bench-record'] = { hostPath: record.hostPath };
    const c = runContainer('module-audit', { ...config('module-audit', withRecord(sidecar), volumes, audit('sidecar')) });
    running.push(c);
    recordSecret(env.ENTRA_SIDECAR_IDENTITY_HEADER);
    await c.waitForLog((l) => l.msg === 'sidecar started');
    const endpoint = `http://127.0.0.1:${settings.port}`;
    const health = `http://127.0.0.1:${settings.healthPort}`;
    const calls = [
      fetch(`${endpoint}/msi/token?api-version=2019-08-01&resource=https://storage.azure.com/`, {
        headers: { 'x-identity-header': env.ENTRA_SIDECAR_IDENTITY_HEADER as string },
      }),
      fetch(`${endpoint}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net`, { headers: { metadata: 'true' } }),
      fetch(`${health}/healthz`),
      fetch(`${health}/readyz`),
      fetch(`${health}/metrics`),
    ];
    for (const r of await Promise.all(calls)) {
      const text = await r.text();
      for (const m of text.matchAll(/"access_token":"([^"]+)"/g)) recordSecret(m[1]);
    }
    expect(await c.stop('SIGTERM')).toBe(0);
    const loaded = readFileSync(join(record.hostPath, 'sidecar.txt'), 'utf8').split('\n').filter(Boolean);
    expect(loaded.length).toBeGreaterThan(5);
    expect(loaded.some((l) => l.includes('/app/dist/'))).toBe(true);
    expect(loaded.filter((l) => l.includes('@kubernetes/client-node'))).toEqual([]);

    // the control: a process in the same image that imports the package is caught by the same hook
    const control: Container = { ...withRecord(sidecar), command: ['node', '--input-type=module', '-e', "await import('@kubernetes/client-node')"], args: [] };
    const r = await runToExit('module-audit-control', config('module-audit-control', control, volumes, audit('control')));
    expect(r.code).toBe(0);
    expect(readFileSync(join(record.hostPath, 'control.txt'), 'utf8')).toContain('@kubernetes/client-node');
  });

  it('`entra-sidecar webhook` (the chart Deployment) answers an AdmissionReview over TLS and /healthz, and exits 0 on SIGTERM', async () => {
    const helm = ensureHelm(); // under CI=true a missing helm throws; elsewhere it says why it skips
    if (!helm) return;
    const [port, healthPort] = [await freePort(), await freePort()];
    const rendered = helmTemplate(helm.helm, {
      'webhook.port': port,
      'webhook.healthPort': healthPort,
      'tls.mode': 'existingSecret',
      'tls.existingSecret.name': 'entra-sidecar-tls',
      'tls.existingSecret.caBundle': Buffer.from('unused').toString('base64'),
    });
    expect(rendered.stderr).toBe('');
    const deployment = only<{ spec: { template: { spec: { containers: Container[]; volumes: { name: string; secret?: { secretName: string } }[] } } } }>(
      rendered.objects,
      'Deployment',
      RELEASE,
    );
    const webhook = deployment.spec.template.spec.containers.find((c) => c.name === 'webhook') as Container;

    // the API server (the fake one), reached the in-cluster way: kubelet's service env and the
    // kube-api-access projected volume (token, ca.crt, namespace)
    const api = await startFakeKubeApi({ version: { major: '1', minor: '33', gitVersion: 'v1.33.1' } });
    cleanups.push(() => void api.close());
    api.putServiceAccount('shop', 'orders-api', {
      'azure.workload.identity/client-id': emulator.clientId,
      'azure.workload.identity/tenant-id': emulator.tenantId,
    });
    recordSecret(api.token);
    const writer = new ProjectedVolumeWriter();
    const kubeApiAccess = mkdtempSync(join(tmpdir(), 'entra-kube-api-access-'));
    chmodSync(kubeApiAccess, 0o755);
    writer.write(kubeApiAccess, { token: api.token, 'ca.crt': api.caPem, namespace: NAMESPACE });
    // the TLS Secret volume: the serving certificate for the webhook's Service
    const ca = await createCertificateAuthority('entra-sidecar test CA', 30, new Date());
    const serving = await issueServingCertificate(ca, serviceDnsNames(RELEASE, NAMESPACE), 30, new Date());
    recordSecret(serving.key);
    const tlsDir = mkdtempSync(join(tmpdir(), 'entra-tls-'));
    chmodSync(tlsDir, 0o755);
    writer.write(tlsDir, { 'tls.crt': serving.cert, 'tls.key': serving.key });
    writer.flush();
    const tmp = emptyDir();
    cleanups.push(
      tmp.cleanup,
      () => rmSync(kubeApiAccess, { recursive: true, force: true }),
      () => rmSync(tlsDir, { recursive: true, force: true }),
    );
    const apiPort = new URL(api.url).port;
    const container: Container = {
      ...webhook,
      volumeMounts: [...(webhook.volumeMounts ?? []), { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
    };
    const cfg = podContainerConfig({
      rootfs: image.rootfs,
      image: image.config,
      container,
      volumes: { tmp: { hostPath: tmp.hostPath }, tls: { hostPath: tlsDir }, 'kube-api-access': { hostPath: kubeApiAccess } },
      extraEnv: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: apiPort },
      podNamespace: NAMESPACE,
      cgroupsPath: `/entra-image-test/webhook-${process.pid}-${Date.now()}`,
    });
    const c = runContainer('webhook', cfg);
    running.push(c);
    const ready = await c.waitForLog((l) => l.msg === 'webhook ready');
    expect(ready).toMatchObject({ tls: 'files', mode: 'native' });

    const health = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
    expect(health.status).toBe(200);

    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'orders-api-', namespace: 'shop', annotations: { 'entra-sidecar.io/inject': 'true' } },
      spec: { serviceAccountName: 'orders-api', containers: [{ name: 'app', image: 'example/app:1' }] },
    };
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u-1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'shop', object: pod },
    };
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/mutate?timeout=5s',
          method: 'POST',
          ca: ca.cert,
          servername: `${RELEASE}.${NAMESPACE}.svc`,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(review));
    });
    expect(reply.status).toBe(200);
    const response = (JSON.parse(reply.body) as { response: { uid: string; allowed: boolean; patch: string } }).response;
    expect(response).toMatchObject({ uid: 'u-1', allowed: true });
    const patch = Buffer.from(response.patch, 'base64').toString();
    for (const m of patch.matchAll(/"([0-9a-f]{64})"/g)) recordSecret(m[1]);
    expect(patch).toContain('"name":"entra-sidecar"');
    expect(patch).toContain(emulator.clientId); // from the ServiceAccount, read through the API server

    expect(await c.stop('SIGTERM')).toBe(0);
    expect(c.stderr).toEqual([]);
  });
});
