import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, createServerCertificate, createSigningCertificate } from './certs.js';
import { ClientCredentials } from './client-credentials.js';
import { Directory } from './directory.js';
import { ExternalIssuers } from './external-issuer.js';
import { FaultSchedule, parseFault, parseScheduleOptions } from './faults.js';
import { History } from './history.js';
import { generateRsaKeyPair, generateSigningKeySync, kubernetesSigningKey, publicJwk, type SigningKey } from './keys.js';
import { ProjectedVolumeWriter } from './projected-volume.js';
import { createRequestHandler, type TokenSettings } from './routes.js';
import { mintServiceAccountToken, serviceAccountSubject, type ServiceAccountDefaults } from './service-account-token.js';
import type { Emulator, EmulatorOptions, ServiceAccountTokenOptions } from './types.js';

/** Default tenant of the emulated directory. */
export const DEFAULT_TENANT_ID = '11111111-1111-4111-8111-111111111111';
/** Default application (client) id, registered in the default tenant with a federated credential. */
export const DEFAULT_CLIENT_ID = '22222222-2222-4222-8222-222222222222';

function checkSeconds(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number of seconds, at least 1; got ${value}`);
  return value;
}

/**
 * Starts the Entra emulator: an HTTPS server on loopback with its own CA, acting as Entra ID
 * (discovery, JWKS, token endpoint with federated-credential validation) and as the cluster's
 * OIDC issuer (service-account tokens, kubelet projected-volume layout). Trust `caFile` (or
 * `caPem`) and use `url` as the authority host.
 *
 * @example
 * const emu = await startEmulator({ tokenLifetimeSec: 5 });
 * const { path } = emu.writeProjectedToken(tokenDir);
 * // ... AZURE_AUTHORITY_HOST=emu.url, NODE_EXTRA_CA_CERTS=emu.caFile
 * await emu.close();
 */
export async function startEmulator(o: EmulatorOptions = {}): Promise<Emulator> {
  const host = o.host ?? '127.0.0.1';
  const tenantId = o.tenantId ?? DEFAULT_TENANT_ID;
  const clientId = o.clientId ?? DEFAULT_CLIENT_ID;
  const defaults: ServiceAccountDefaults = {
    issuer: o.issuer ?? `https://oidc.emulator.local/${randomBytes(12).toString('hex')}`,
    namespace: o.namespace ?? 'default',
    serviceAccount: o.serviceAccount ?? 'workload',
  };
  const settings: TokenSettings = {
    tokenLifetimeSec: checkSeconds(o.tokenLifetimeSec ?? 3599, 'tokenLifetimeSec'),
    refreshInSec: o.refreshInSec === undefined ? undefined : checkSeconds(o.refreshInSec, 'refreshInSec'),
    unknownResources: new Set(o.unknownResources ?? []),
  };

  const [caPair, serverPair, clusterPair, entraPair] = await Promise.all([
    generateRsaKeyPair(),
    generateRsaKeyPair(),
    generateRsaKeyPair(),
    generateRsaKeyPair(),
  ]);
  const ca = createCertificateAuthority(caPair);
  const tls = createServerCertificate(ca, serverPair, ['127.0.0.1', '::1', 'localhost', host]);
  const entraCert = createSigningCertificate(entraPair);
  const entraKey = { ...entraPair, kid: entraCert.x5t, x5t: entraCert.x5t, x5c: entraCert.derBase64, ...publicJwk(entraPair.publicKey) };
  const clusterKey = kubernetesSigningKey(clusterPair);
  let unknownKey: SigningKey | undefined;

  const ownsDir = o.dir === undefined;
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'entra-emulator-'));
  mkdirSync(dir, { recursive: true });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.certPem);

  const directory = new Directory();
  directory.addApplication(clientId, tenantId);
  directory.addFederatedCredential({ clientId, issuer: defaults.issuer, subject: serviceAccountSubject(defaults.namespace, defaults.serviceAccount) });
  const clientCredentials = new ClientCredentials();
  const history = new History(o.historyLimit ?? 20_000);
  const faults = new FaultSchedule();
  const timers = new Set<NodeJS.Timeout>();
  const rotations = new Set<NodeJS.Timeout>();
  const volumes = new ProjectedVolumeWriter();
  const externalIssuers = new ExternalIssuers();
  const sockets = new Set<Socket>();
  let url = '';

  const setTokenLifetime = (sec: number) => {
    settings.tokenLifetimeSec = checkSeconds(sec, 'token lifetime');
  };
  const setRefreshIn = (sec: number | undefined) => {
    settings.refreshInSec = sec === undefined ? undefined : checkSeconds(sec, 'refresh_in');
  };

  const handler = createRequestHandler({
    baseUrl: () => url,
    directory,
    clientCredentials,
    history,
    faults,
    settings,
    entraKey,
    // An external issuer (trustIssuer) is judged by its own published keys only; every other issuer
    // the emulator mints for publishes the cluster key (like one API server with several issuer URLs).
    issuerKey: (issuer, kid) => (externalIssuers.has(issuer) ? externalIssuers.key(issuer, kid) : kid === clusterKey.kid ? clusterKey.publicKey : undefined),
    prepareIssuer: (issuer, kid) => externalIssuers.refreshFor(issuer, kid),
    admin: {
      state: () => ({
        ...history.summary(),
        pendingFaults: faults.size,
        tokenLifetimeSec: settings.tokenLifetimeSec,
        refreshInSec: settings.refreshInSec ?? null,
        tenantId,
        clientId,
        issuer: defaults.issuer,
      }),
      inject: (f, s) => faults.add(f, s),
      clearFaults: () => faults.clear(),
      setTokenLifetime,
      setRefreshIn,
    },
    timers,
    logger: o.logger,
    now: Date.now,
  });

  const server = createServer({ key: tls.keyPem, cert: tls.certPem, ca: [ca.certPem] }, handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {
    /* a client that does not trust the CA; nothing to do */
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : isIP(host) === 6 ? `[${host}]` : host;
  url = `https://${urlHost}:${address.port}`;
  writeFileSync(join(dir, 'emulator.json'), `${JSON.stringify({ url, caFile, tenantId, clientId, issuer: defaults.issuer, pid: process.pid }, null, 2)}\n`);

  const mint = (t: ServiceAccountTokenOptions = {}) => {
    let key = clusterKey;
    if (t.signWithUnknownKey) key = unknownKey ??= generateSigningKeySync();
    const minted = mintServiceAccountToken(key, defaults, t, Date.now());
    history.secret(minted.token);
    return minted;
  };
  const writeProjected = (target: string, t?: ServiceAccountTokenOptions) => {
    const minted = mint(t);
    const [path] = volumes.write(target, { token: minted.token });
    return { path: path as string, jti: minted.jti };
  };

  let closing: Promise<void> | undefined;
  const emulator: Emulator = {
    url,
    caFile,
    caPem: ca.certPem,
    tenantId,
    clientId,
    issuer: defaults.issuer,
    mintServiceAccountToken: mint,
    writeProjectedToken: writeProjected,
    startRotation(target, intervalMs, t) {
      if (!(intervalMs >= 1)) throw new Error(`rotation interval must be at least 1 ms; got ${intervalMs}`);
      writeProjected(target, t);
      const timer = setInterval(() => {
        try {
          writeProjected(target, t);
        } catch (err) {
          o.logger?.error({ dir: target, err: err instanceof Error ? err.message : String(err) }, 'service-account token rotation failed');
        }
      }, intervalMs);
      timer.unref();
      rotations.add(timer);
      return () => {
        clearInterval(timer);
        rotations.delete(timer);
      };
    },
    addApplication: (id, tenant = tenantId) => directory.addApplication(id, tenant),
    trustIssuer: (issuer, options) => externalIssuers.trust(issuer, options),
    addFederatedCredential: (r) => directory.addFederatedCredential(r),
    removeFederatedCredentials: (id) => directory.removeFederatedCredentials(id),
    addClientSecret(c = {}) {
      const value = c.value ?? `${randomBytes(3).toString('hex')}~${randomBytes(27).toString('base64url')}`;
      history.secret(value);
      const id = clientCredentials.addSecret(c.clientId ?? clientId, value, c.expiresInSec === undefined ? undefined : Date.now() + c.expiresInSec * 1000);
      return { id, value };
    },
    addClientCertificate: (certPem, c = {}) => clientCredentials.addCertificate(c.clientId ?? clientId, certPem),
    removeClientCredential: (id) => {
      if (!clientCredentials.remove(id)) throw new Error(`no client secret or certificate with id ${id}`);
    },
    setTokenLifetime,
    setRefreshIn,
    exchanges: history.exchanges,
    exchangeCount: (scope) => history.exchangeCount(scope),
    requests: history.requests,
    discoveryRequestCount: () => history.discoveryCount(),
    inject: (fault, s) => faults.add(parseFault(fault), parseScheduleOptions({ ...(s ?? {}) })),
    clearFaults: () => faults.clear(),
    faultsEnded: (scope) => faults.ended(scope),
    issuedSecrets: () => history.issuedSecrets(),
    close() {
      closing ??= (async () => {
        for (const t of rotations) clearInterval(t);
        rotations.clear();
        for (const t of timers) clearTimeout(t);
        timers.clear();
        volumes.flush();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await closed;
        if (ownsDir) rmSync(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
  return emulator;
}
