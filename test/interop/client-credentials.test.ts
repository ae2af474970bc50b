/**
 * Clusters without federation: the JS, Python, Go and Java Azure SDK clients get tokens from a sidecar that
 * holds a client secret, and from one that holds a client certificate — with exactly the
 * environment the webhook gives an app today (no secret, no certificate, no
 * AZURE_FEDERATED_TOKEN_FILE), while the emulator shows which credential authenticated.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { registerCertificate, registerSecret, SecretVolume } from '../helpers/client-credential.js';
import { startSidecarProcess, type SidecarProcess } from '../helpers/sidecar.js';
import { appServiceEnv, CLIENTS, expectEmulatorToken, PYTHON, requestsDuring, requireClients, runClient, tokensOf, type ClientRun } from './setup.js';
import { go, java, requireInstalled } from './sdk-clients.js';

const ARM = 'https://management.azure.com/.default';
const VAULT = 'https://vault.azure.net/.default';
const LIFETIME = 3599;

const skip = await requireClients('azure-identity-latest', 'python-azure-identity');
// Go azidentity (the newest release) and Java azure-identity too, where the interop matrix has them
const goDirs = (await requireInstalled('go')).dirs;
const javaDirs = (await requireInstalled('java')).dirs;

type Run = (which: string, env: Record<string, string>, scopes: string[]) => Promise<ClientRun>;
const CLIENTS_UNDER_TEST: { name: string; run: Run }[] = [
  {
    name: '@azure/identity 4.13.1',
    run: (which, env, scopes) =>
      runClient(`client-${which}-js`, process.execPath, [join(CLIENTS, 'azure-identity.mjs'), 'azure-identity-latest', 'default', ...scopes], env, 60_000),
  },
  {
    name: 'Python azure-identity',
    run: (which, env, scopes) => runClient(`client-${which}-python`, PYTHON, [join(CLIENTS, 'azure_identity.py'), 'default', ...scopes], env, 60_000),
  },
  ...(goDirs ? [{ name: 'Go azidentity v1.15.0', run: ((_which, env, scopes) => go(goDirs, 'new').run('default', env, scopes, 60_000)) as Run }] : []),
  ...(javaDirs ? [{ name: 'Java azure-identity', run: ((_which, env, scopes) => java(javaDirs).run('default', env, scopes, 90_000)) as Run }] : []),
];

describe.skipIf(skip)('JS, Python, Go and Java DefaultAzureCredential against sidecars holding a client secret and a certificate', () => {
  let emulator: Emulator;
  const sidecars: Record<'secret' | 'certificate', { sidecar: SidecarProcess; credentialId: string }> = {} as never;

  beforeAll(async () => {
    emulator = await startTestEmulator({ tokenLifetimeSec: LIFETIME });
    const secret = registerSecret(emulator);
    const secretVol = new SecretVolume();
    secretVol.write({ 'client-secret': secret.value });
    const cert = registerCertificate(emulator);
    const certVol = new SecretVolume(0o440);
    certVol.write({ 'tls.crt': cert.certPem, 'tls.key': cert.keyPem });
    const noFederation = { AZURE_FEDERATED_TOKEN_FILE: undefined };
    const [s, c] = await Promise.all([
      startSidecarProcess({ emulator, tokens: `arm=${ARM}`, env: { ...noFederation, ENTRA_SIDECAR_CLIENT_SECRET_FILE: secretVol.path('client-secret') } }),
      startSidecarProcess({
        emulator,
        tokens: `arm=${ARM}`,
        env: {
          ...noFederation,
          ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE: certVol.path('tls.crt'),
          ENTRA_SIDECAR_CLIENT_CERTIFICATE_KEY_FILE: certVol.path('tls.key'),
        },
      }),
    ]);
    sidecars.secret = { sidecar: s, credentialId: secret.id };
    sidecars.certificate = { sidecar: c, credentialId: cert.id as string };
    await Promise.all([s.waitReady(60_000), c.waitReady(60_000)]);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(Object.values(sidecars).map((x) => x.sidecar.stop()));
    await emulator?.close();
  });

  for (const which of ['secret', 'certificate'] as const) {
    for (const client of CLIENTS_UNDER_TEST) {
      it(`${client.name} DefaultAzureCredential, sidecar with a client ${which}: the emulator-issued token, authenticated by that ${which}`, async () => {
        const { sidecar, credentialId } = sidecars[which];
        const env = appServiceEnv(sidecar.endpoint, sidecar.identityHeader, emulator.clientId);
        expect(Object.keys(env).sort()).toEqual(['AZURE_CLIENT_ID', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER']);
        const from = emulator.exchanges.length;
        const { value: run, requests } = await requestsDuring(sidecar.health, () => client.run(which, env, [ARM, VAULT]));
        const [arm, vault] = tokensOf(run);
        expectEmulatorToken(emulator, arm!, ARM, LIFETIME);
        expectEmulatorToken(emulator, vault!, VAULT, LIFETIME);
        expect(requests).toEqual({ 'app_service 200': 2 });
        // the on-demand vault scope was exchanged with this sidecar's credential
        const exchanged = emulator.exchanges.slice(from).filter((x) => x.status === 200);
        expect(exchanged.length).toBeLessThanOrEqual(1);
        for (const x of exchanged) expect(x.credentialId).toBe(credentialId);
        expect(emulator.exchanges.filter((x) => x.status === 200 && x.scope === ARM).map((x) => x.credentialId)).toContain(credentialId);
      }, 90_000);
    }
  }
});
