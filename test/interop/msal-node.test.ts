/**
 * @azure/msal-node's ManagedIdentityApplication (the code inside newer @azure/identity, and what an
 * app using MSAL directly runs), in a child process with only the app's environment.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { startSidecarProcess, type SidecarProcess } from '../helpers/sidecar.js';
import { appServiceEnv, CLIENTS, expectEmulatorToken, imdsEnv, requestsDuring, requireClients, runClient, tokensOf } from './setup.js';

const ARM = 'https://management.azure.com/';
const STORAGE = 'https://storage.azure.com';
const LIFETIME = 3599;

const skip = await requireClients('@azure/msal-node');

describe.skipIf(skip)('@azure/msal-node ManagedIdentityApplication against the sidecar', () => {
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

  const msal = (name: string, env: Record<string, string>, ...resources: string[]) =>
    requestsDuring(sidecar.health, () => runClient(`msal-node-${name}`, process.execPath, [join(CLIENTS, 'msal-node.mjs'), ...resources], env));

  it('acquireToken({ resource }) picks the App Service source from IDENTITY_ENDPOINT/IDENTITY_HEADER and gets the emulator-issued tokens', async () => {
    const { value: run, requests } = await msal('app-service', appServiceEnv(sidecar.endpoint, sidecar.identityHeader, emulator.clientId), ARM, STORAGE);
    const [arm, storage] = tokensOf(run);
    expect(arm!.source).toBe('AppService');
    expectEmulatorToken(emulator, arm!, ARM, LIFETIME);
    expect(arm!.token).toBe(readFileSync(join(sidecar.tokenDir, 'arm'), 'utf8'));
    expectEmulatorToken(emulator, storage!, STORAGE, LIFETIME);
    expect(requests).toEqual({ 'app_service 200': 2 });
  });

  it('system-assigned (no AZURE_CLIENT_ID) works too', async () => {
    const { IDENTITY_ENDPOINT, IDENTITY_HEADER } = appServiceEnv(sidecar.endpoint, sidecar.identityHeader, emulator.clientId);
    const { value: run, requests } = await msal('system-assigned', { IDENTITY_ENDPOINT: IDENTITY_ENDPOINT!, IDENTITY_HEADER: IDENTITY_HEADER! }, ARM);
    const [arm] = tokensOf(run);
    expectEmulatorToken(emulator, arm!, ARM, LIFETIME);
    expect(requests).toEqual({ 'app_service 200': 1 });
  });

  it('falls back to IMDS at AZURE_POD_IDENTITY_AUTHORITY_HOST when there is no IDENTITY_ENDPOINT', async () => {
    const { value: run, requests } = await msal('imds', imdsEnv(sidecar.endpoint, emulator.clientId), ARM);
    const [arm] = tokensOf(run);
    expect(arm!.source).toBe('DefaultToImds');
    expectEmulatorToken(emulator, arm!, ARM, LIFETIME);
    expect(requests).toEqual({ 'imds 200': 1 });
  });
});
