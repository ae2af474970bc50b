/**
 * @azure/identity, an early 4.x (4.0.1, its own App Service/IMDS code) and the newest 4.x that runs
 * on Node 20 (4.13.1, msal-node based), side by side as npm aliases. Each runs in a child process
 * whose environment holds only what the webhook gives an app.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { startSidecarProcess, type SidecarProcess } from '../helpers/sidecar.js';
import { appServiceEnv, CLIENTS, expectEmulatorToken, imdsEnv, requestsDuring, requireClients, runClient, tokensOf } from './setup.js';

const PACKAGES = [
  { name: 'azure-identity-4-0', version: '4.0.1' },
  { name: 'azure-identity-latest', version: '4.13.1' },
] as const;
const ARM = 'https://management.azure.com/.default';
const VAULT = 'https://vault.azure.net/.default';
const LIFETIME = 3599;

const skip = await requireClients('azure-identity-4-0', 'azure-identity-latest');

describe.skipIf(skip)('@azure/identity against the sidecar', () => {
  let emulator: Emulator;
  let sidecar: SidecarProcess;

  beforeAll(async () => {
    emulator = await startTestEmulator({ tokenLifetimeSec: LIFETIME });
    sidecar = await startSidecarProcess({ emulator, tokens: 'arm=https://management.azure.com/.default' });
    await sidecar.waitReady();
  });
  afterAll(async () => {
    await sidecar?.stop();
    await emulator?.close();
  });

  const js = (pkg: string, kind: 'default' | 'managed', env: Record<string, string>, ...scopes: string[]) =>
    requestsDuring(sidecar.health, () => runClient(`${pkg}-${kind}`, process.execPath, [join(CLIENTS, 'azure-identity.mjs'), pkg, kind, ...scopes], env));

  const armFile = (): string => readFileSync(join(sidecar.tokenDir, 'arm'), 'utf8');

  for (const pkg of PACKAGES) {
    describe(`${pkg.name} (@azure/identity ${pkg.version})`, () => {
      it('is the version the flavour table names', () => {
        const meta = JSON.parse(readFileSync(join(process.cwd(), 'node_modules', pkg.name, 'package.json'), 'utf8')) as { name: string; version: string };
        expect(meta).toMatchObject({ name: '@azure/identity', version: pkg.version });
      });

      it('DefaultAzureCredential with IDENTITY_ENDPOINT, IDENTITY_HEADER, AZURE_CLIENT_ID gets the emulator-issued tokens over App Service 2019', async () => {
        const { value: run, requests } = await js(pkg.name, 'default', appServiceEnv(sidecar.endpoint, sidecar.identityHeader, emulator.clientId), ARM, VAULT);
        const [arm, vault] = tokensOf(run);
        expectEmulatorToken(emulator, arm!, ARM, LIFETIME);
        expect(arm!.token).toBe(armFile());
        expectEmulatorToken(emulator, vault!, VAULT, LIFETIME);
        expect(requests).toEqual({ 'app_service 200': 2 });
      });

      it('ManagedIdentityCredential(AZURE_CLIENT_ID) gets them over App Service 2019', async () => {
        const { value: run, requests } = await js(pkg.name, 'managed', appServiceEnv(sidecar.endpoint, sidecar.identityHeader, emulator.clientId), ARM);
        const [arm] = tokensOf(run);
        expectEmulatorToken(emulator, arm!, ARM, LIFETIME);
        expect(arm!.token).toBe(armFile());
        expect(requests).toEqual({ 'app_service 200': 1 });
      });

      it('ManagedIdentityCredential gets them over IMDS with AZURE_POD_IDENTITY_AUTHORITY_HOST', async () => {
        const { value: run, requests } = await js(pkg.name, 'managed', imdsEnv(sidecar.endpoint, emulator.clientId), ARM, VAULT);
        const [arm, vault] = tokensOf(run);
        expectEmulatorToken(emulator, arm!, ARM, LIFETIME);
        expect(arm!.token).toBe(armFile());
        expectEmulatorToken(emulator, vault!, VAULT, LIFETIME);
        expect(requests).toEqual({ 'imds 200': 2 });
      });

      it('DefaultAzureCredential gets them over IMDS with AZURE_POD_IDENTITY_AUTHORITY_HOST', async () => {
        const { value: run, requests } = await js(pkg.name, 'default', imdsEnv(sidecar.endpoint, emulator.clientId), ARM);
        const [arm] = tokensOf(run);
        expectEmulatorToken(emulator, arm!, ARM, LIFETIME);
        expect(arm!.token).toBe(armFile());
        expect(requests).toEqual({ 'imds 200': 1 });
      });
    });
  }
});
