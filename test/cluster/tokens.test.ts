import { copyFileSync, chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, serviceAccountSubject, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { signJwt } from '../../src/emulator/jwt.js';
import { generateSigningKeySync } from '../../src/emulator/keys.js';
import { SA_TOKEN_VOLUME } from '../../src/webhook/inject/volumes.js';
import { ANNOTATION } from '../../src/webhook/annotations.js';
import { recordSecret } from '../helpers/audit.js';
import { ensureHelm } from '../chart/tools.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { installWebhook, type InstalledWebhook } from './installed-webhook.js';
import { containerRuntimeProblem, preparePodVolumes, runContainer, type RunningContainer } from './kubelet.js';
import { createPod, envOf, getPod, INJECT, podManifest, type PodShape } from './pods.js';
import { freePort } from './process.js';
import { requireControlPlane } from './toolchain.js';

/**
 * Tokens end to end, kubelet's part played by the test: a pod admitted by the real API server, its
 * projected service-account token requested through TokenRequest (bound to the pod, with the
 * volume's audience and expirationSeconds), the sidecar run with exactly the mutated container's
 * command, args and env, and a real SDK client with exactly the app container's env. The Entra
 * emulator trusts the API server as an external issuer: it reads the API server's own OpenID
 * configuration and JWKS, as Entra would.
 */

const bins = requireControlPlane();
const helm = bins ? ensureHelm() : undefined;
const runtime = bins ? containerRuntimeProblem() : undefined;
if (bins && runtime) {
  if (process.env.CI === 'true') throw new Error(`the token end-to-end tests cannot run containers: ${runtime} (CI=true)`);
  console.warn(`SKIPPED: the token end-to-end tests: ${runtime}`);
}

const SCOPE = 'https://storage.azure.com/.default';

function postForm(url: string, caPem: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca: caPem, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(new URLSearchParams(form).toString());
  });
}

describe.skipIf(!bins || !helm || runtime)('tokens end to end: real TokenRequest tokens federate through the sidecar to a real SDK client', () => {
  let cp: ControlPlane;
  let emu: Emulator;
  let hook: InstalledWebhook;
  let apps: string;
  let shared: string;
  const running: RunningContainer[] = [];

  beforeAll(async () => {
    cp = await startControlPlane(bins!);
    emu = await startEmulator();
    await emu.trustIssuer(cp.issuer, { caPem: cp.caPem });
    // the sidecar's ports are per pod on a node; here every pod shares the host's loopback, so each
    // install gets free ones through the chart's own values
    hook = await installWebhook(cp, helm!.helm, {
      values: { authorityHost: emu.url, defaultTenantId: emu.tenantId, 'sidecar.port': await freePort(), 'sidecar.healthPort': await freePort() },
    });
    apps = await cp.namespace('apps');
    await cp.serviceAccount(apps, 'api', { [ANNOTATION.clientId]: emu.clientId });
    await cp.serviceAccount(apps, 'other', { [ANNOTATION.clientId]: emu.clientId });
    emu.addFederatedCredential({ clientId: emu.clientId, issuer: cp.issuer, subject: serviceAccountSubject(apps, 'api') });
    // what stands in for the image's trust store: the emulator's CA (Entra's chains to public roots)
    shared = mkdtempSync(join(tmpdir(), 'entra-cluster-ca-'));
    chmodSync(shared, 0o755);
    copyFileSync(emu.caFile, join(shared, 'ca.pem'));
    chmodSync(join(shared, 'ca.pem'), 0o644);
  });
  afterAll(async () => {
    for (const c of running) await c.stop();
    await hook?.webhook?.stop();
    await emu?.close();
    await cp?.stop();
  });

  async function admitAndStartSidecar(
    serviceAccount: string,
  ): Promise<{ pod: PodShape; sidecar: RunningContainer; volumes: Awaited<ReturnType<typeof preparePodVolumes>> }> {
    // every pod here shares the host's loopback (no pod network namespace): one sidecar at a time
    for (const c of running.splice(0)) await c.stop();
    const created = await createPod(cp, apps, podManifest({ serviceAccount, annotations: { ...INJECT, [ANNOTATION.tokens]: `storage=${SCOPE}` } }));
    expect(created.status, created.text.slice(0, 500)).toBe(201);
    const pod = await getPod(cp, apps, created.body.metadata.name);
    const volumes = await preparePodVolumes(cp, pod, cp.dir);
    const sidecarSpec = pod.spec.initContainers?.find((c) => c.name === 'entra-sidecar');
    if (!sidecarSpec) throw new Error('no sidecar injected');
    recordSecret(envOf(sidecarSpec).ENTRA_SIDECAR_IDENTITY_HEADER);
    const sidecar = runContainer(pod, sidecarSpec, volumes, { runtimeEnv: { NODE_EXTRA_CA_CERTS: join(shared, 'ca.pem') }, name: `sidecar-${serviceAccount}` });
    running.push(sidecar);
    return { pod, sidecar, volumes };
  }

  it('the sidecar exchanges the pod-bound token with the emulator, and the app’s SDK client gets the token', async () => {
    const { pod, sidecar, volumes } = await admitAndStartSidecar('api');
    // the service-account token kubelet would project: issued by the real API server, bound to the pod
    const saVolume = pod.spec.volumes?.find((v) => v.name === SA_TOKEN_VOLUME);
    const source = saVolume?.projected?.sources[0]?.serviceAccountToken;
    const saToken = decodeJwt(volumes.tokens.get(saVolume?.name as string) as string)?.payload as Record<string, unknown>;
    expect(saToken.iss).toBe(cp.issuer);
    expect(saToken.sub).toBe(`system:serviceaccount:${apps}:api`);
    expect(saToken.aud).toEqual([source?.audience]);
    expect((saToken.exp as number) - (saToken.iat as number)).toBe(source?.expirationSeconds);
    expect((saToken['kubernetes.io'] as { pod: { name: string; uid: string } }).pod).toEqual({ name: pod.metadata.name, uid: pod.metadata.uid });

    await sidecar.waitForLog((l) => l.msg === 'sidecar started', 60_000);
    const health = /:(\d+)$/.exec(envOf(pod.spec.initContainers?.[0]).ENTRA_SIDECAR_HEALTH_LISTEN ?? '')?.[1];
    for (const until = Date.now() + 60_000; ; ) {
      const r = await fetch(`http://127.0.0.1:${health}/readyz`).catch(() => undefined);
      if (r?.status === 200) break;
      if (Date.now() > until) throw new Error(`sidecar not ready: ${sidecar.lines.slice(-5).join('\n')}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    const accepted = emu.exchanges.filter((e) => e.status === 200 && e.scope === SCOPE);
    expect(accepted.length).toBeGreaterThan(0);

    // the app container, as a process with exactly its env and mounts, and a real SDK client
    const appSpec = pod.spec.containers.find((c) => c.name === 'app');
    if (!appSpec) throw new Error('no app container');
    const app = runContainer(pod, appSpec, volumes, {
      command: [process.execPath, join(process.cwd(), 'test', 'cluster', 'clients', 'app.mjs'), SCOPE, 'storage'],
      defaultUser: 1000,
      name: 'app',
      fd3: true,
    });
    let result = '';
    (app.proc.stdio[3] as NodeJS.ReadableStream).on('data', (c: Buffer) => (result += c.toString('utf8')));
    const code = await app.exited;
    const answer = JSON.parse(result || '{}') as { sdk?: { token: string; expiresOnTimestamp: number }; file?: string; error?: unknown };
    expect(answer.error, app.lines.join('\n')).toBeUndefined();
    expect(code).toBe(0);
    recordSecret(answer.sdk?.token);
    expect(emu.issuedSecrets()).toContain(answer.sdk?.token);
    expect(answer.file).toBe(answer.sdk?.token);
    expect(decodeJwt(answer.sdk?.token as string)?.payload.aud).toBe('https://storage.azure.com');
    expect(answer.sdk?.expiresOnTimestamp).toBeGreaterThan(Date.now() + 30 * 60_000);
  });

  it('a token for another ServiceAccount is refused with AADSTS70021, and the sidecar log names the fix', async () => {
    const { sidecar } = await admitAndStartSidecar('other');
    const line = await sidecar.waitForLog((l) => JSON.stringify(l).includes('AADSTS70021'), 60_000);
    const text = JSON.stringify(line);
    expect(text).toContain('fix: add or fix the federated identity credential');
    expect(text).toContain(`system:serviceaccount:${apps}:other`);
    expect(text).toContain(cp.issuer);
  });

  it('the emulator refuses an assertion claiming the API server as issuer but signed by another key (AADSTS7000272)', async () => {
    const forger = generateSigningKeySync();
    const now = Math.floor(Date.now() / 1000);
    const forged = signJwt(
      { alg: 'RS256', kid: forger.kid, typ: 'JWT' },
      { iss: cp.issuer, sub: serviceAccountSubject(apps, 'api'), aud: ['api://AzureADTokenExchange'], iat: now, nbf: now, exp: now + 3600, jti: 'forged' },
      forger.privateKey,
    );
    recordSecret(forged);
    const r = await postForm(`${emu.url}/${emu.tenantId}/oauth2/v2.0/token`, emu.caPem, {
      grant_type: 'client_credentials',
      client_id: emu.clientId,
      scope: SCOPE,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: forged,
    });
    expect(r.status).toBe(401);
    expect(String(r.body.error_description)).toMatch(/^AADSTS7000272/);
    // and a real API-server token for the right ServiceAccount is accepted by the same endpoint
    const { token } = await cp.createToken(apps, 'api', { audiences: ['api://AzureADTokenExchange'], expirationSeconds: 3600 });
    const ok = await postForm(`${emu.url}/${emu.tenantId}/oauth2/v2.0/token`, emu.caPem, {
      grant_type: 'client_credentials',
      client_id: emu.clientId,
      scope: SCOPE,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: token,
    });
    recordSecret(String(ok.body.access_token ?? ''));
    expect(ok.status).toBe(200);
  });

  it('OIDC discovery is served by the API server and readable without credentials', async () => {
    const r = await cp.request<{ issuer: string; jwks_uri: string }>('GET', '/.well-known/openid-configuration', undefined, { token: null });
    expect(r.status).toBe(200);
    expect(r.body.issuer).toBe(cp.issuer);
    expect(r.body.jwks_uri).toBe(`${cp.issuer}/openid/v1/jwks`);
    expect(readFileSync(cp.caFile, 'utf8')).toContain('BEGIN CERTIFICATE');
  });
});
