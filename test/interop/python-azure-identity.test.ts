/**
 * Python azure-identity from Debian's python3-azure (1.13.x), run with /usr/bin/python3 in a child
 * process whose environment holds only what the webhook gives an app.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { startSidecarProcess, type SidecarProcess } from '../helpers/sidecar.js';
import { appServiceEnv, CLIENTS, expectEmulatorToken, imdsEnv, PYTHON, requestsDuring, requireClients, runClient, tokensOf } from './setup.js';

const ARM = 'https://management.azure.com/.default';
const POSTGRES = 'https://ossrdbms-aad.database.windows.net/.default';
const LIFETIME = 3599;

const skip = await requireClients('python-azure-identity');

describe.skipIf(skip)('Python azure-identity (Debian python3-azure) against the sidecar', () => {
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

  const py = (name: string, kind: 'default' | 'managed', env: Record<string, string>, ...scopes: string[]) =>
    requestsDuring(sidecar.health, () => runClient(`python-${name}`, PYTHON, [join(CLIENTS, 'azure_identity.py'), kind, ...scopes], env));

  const armFile = (): string => readFileSync(join(sidecar.tokenDir, 'arm'), 'utf8');

  it('DefaultAzureCredential().get_token() for ARM and the PostgreSQL scope gets the emulator-issued tokens over App Service 2019', async () => {
    const { value: run, requests } = await py('default', 'default', appServiceEnv(sidecar.endpoint, sidecar.identityHeader, emulator.clientId), ARM, POSTGRES);
    const [arm, postgres] = tokensOf(run);
    expect(arm!.version).toMatch(/^1\.1[3-9]\./);
    expectEmulatorToken(emulator, arm!, ARM, LIFETIME);
    expect(arm!.token).toBe(armFile());
    expectEmulatorToken(emulator, postgres!, POSTGRES, LIFETIME);
    expect(requests).toEqual({ 'app_service 200': 2 });
  });

  it('ManagedIdentityCredential(client_id=AZURE_CLIENT_ID) gets them over App Service 2019', async () => {
    const { value: run, requests } = await py(
      'managed-app-service',
      'managed',
      appServiceEnv(sidecar.endpoint, sidecar.identityHeader, emulator.clientId),
      POSTGRES,
    );
    const [postgres] = tokensOf(run);
    expectEmulatorToken(emulator, postgres!, POSTGRES, LIFETIME);
    expect(requests).toEqual({ 'app_service 200': 1 });
  });

  it('ManagedIdentityCredential gets them over IMDS with AZURE_POD_IDENTITY_AUTHORITY_HOST (no probe, Metadata: true)', async () => {
    const { value: run, requests } = await py('managed-imds', 'managed', imdsEnv(sidecar.endpoint, emulator.clientId), ARM, POSTGRES);
    const [arm, postgres] = tokensOf(run);
    expectEmulatorToken(emulator, arm!, ARM, LIFETIME);
    expect(arm!.token).toBe(armFile());
    expectEmulatorToken(emulator, postgres!, POSTGRES, LIFETIME);
    expect(requests).toEqual({ 'imds 200': 2 });
  });

  it('DefaultAzureCredential gets them over IMDS with AZURE_POD_IDENTITY_AUTHORITY_HOST', async () => {
    const { value: run, requests } = await py('default-imds', 'default', imdsEnv(sidecar.endpoint), ARM);
    const [arm] = tokensOf(run);
    expectEmulatorToken(emulator, arm!, ARM, LIFETIME);
    expect(requests).toEqual({ 'imds 200': 1 });
  });
});
