/**
 * The interop matrix every SDK client goes through: one sidecar run the way a pod runs it, one
 * client in a child process with only the app container's environment, and the checks a user
 * would make — the exact token the emulator issued for the right audience with a sane expiry,
 * "identity not found" for a foreign client id, Entra's AADSTS text for a permanent refusal, a
 * clear 401 for a wrong IDENTITY_HEADER — plus what each client does that may surprise (whether
 * DefaultAzureCredential stops or moves on after the sidecar's 400, the IMDS probe), pinned per
 * client in `Pins` so the README's table is the tests'.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { startSidecarProcess, type SidecarProcess } from '../helpers/sidecar.js';
import { appServiceEnv, errorOf, expectEmulatorToken, requestsDuring, tokensOf } from './setup.js';
import type { SdkClient } from './sdk-clients.js';

export const ARM = 'https://management.azure.com/.default';
export const VAULT = 'https://vault.azure.net/.default';
export const POSTGRES = 'https://ossrdbms-aad.database.windows.net/.default';
export const LIFETIME = 3599;
/** a resource the tenant does not know: Entra answers AADSTS500011 */
export const UNKNOWN = 'https://unknown-resource.example.com';
/** an identity the pod was not given */
export const FOREIGN_CLIENT_ID = '33333333-3333-4333-8333-333333333333';

/** What a client does that differs between clients; the README's flavour table says the same. */
export interface Pins {
  /** the error class ManagedIdentityCredential raises for the sidecar's 400 (and 401, unless managedError401 says otherwise) */
  managedError: string;
  managedError401?: string;
  /** DefaultAzureCredential after the sidecar's 400/401: raises at once, or tries the developer credentials after it */
  defaultAfter4xx: 'stops' | 'continues';
  /** endpoint requests (flavour code → count) of DefaultAzureCredential in the IMDS flavour: a probe shows as `imds 400` */
  defaultImdsRequests: Record<string, number>;
  /** the flavour the client speaks with the App Service environment (default app_service) */
  appServiceFlavour?: string;
  /** a text the client's error for the sidecar's 400 carries besides the sidecar's message (whose code path it took) */
  errorMarker?: string;
  /** run only the App Service rows (for a second mode of a slow client) */
  appServiceOnly?: boolean;
}

/** The emulator and sidecar of one matrix file. */
export interface Pod {
  emulator: Emulator;
  sidecar: SidecarProcess;
  /** the app container's environment for the App Service flavour */
  appService: Record<string, string>;
}

/** Starts an emulator and a sidecar for the file; `pod()` gives them to tests. */
export function usePod(): () => Pod {
  let pod: Pod | undefined;
  beforeAll(async () => {
    const emulator = await startTestEmulator({ tokenLifetimeSec: LIFETIME, unknownResources: [UNKNOWN] });
    const sidecar = await startSidecarProcess({ emulator, tokens: 'arm=https://management.azure.com/.default' });
    await sidecar.waitReady();
    pod = { emulator, sidecar, appService: appServiceEnv(sidecar.endpoint, sidecar.identityHeader, emulator.clientId) };
  });
  afterAll(async () => {
    await pod?.sidecar.stop();
    await pod?.emulator.close();
  });
  return () => {
    if (!pod) throw new Error('the pod did not start');
    return pod;
  };
}

/** The token the sidecar wrote to its `arm` target file. */
export function armFile(p: Pod): string {
  return readFileSync(join(p.sidecar.tokenDir, 'arm'), 'utf8');
}

/** Runs a client and returns its run and the endpoint requests it caused. */
export function run(p: Pod, client: SdkClient, kind: 'default' | 'managed' | 'workload', env: Record<string, string>, ...scopes: string[]) {
  return requestsDuring(p.sidecar.health, () => client.run(kind, env, scopes));
}

/** The matrix for one client. */
export function describeMatrix(client: SdkClient, pins: Pins, pod: () => Pod): void {
  const f = pins.appServiceFlavour ?? 'app_service';
  const imdsIt: (name: string, fn: () => Promise<void>) => void = pins.appServiceOnly ? () => undefined : (name, fn) => it(name, fn);
  describe(client.label, () => {
    it('DefaultAzureCredential gets exactly the emulator-issued tokens over App Service 2019 (the arm target file holds the same one)', async () => {
      const p = pod();
      const { value: r, requests } = await run(p, client, 'default', p.appService, ARM, POSTGRES);
      const [arm, postgres] = tokensOf(r);
      if (client.version) expect(arm!.version).toBe(client.version);
      expectEmulatorToken(p.emulator, arm!, ARM, LIFETIME);
      expect(arm!.token).toBe(armFile(p));
      expectEmulatorToken(p.emulator, postgres!, POSTGRES, LIFETIME);
      expect(requests).toEqual({ [`${f} 200`]: 2 });
    });

    it('ManagedIdentityCredential with the client id gets them over App Service 2019', async () => {
      const p = pod();
      const { value: r, requests } = await run(p, client, 'managed', p.appService, VAULT);
      expectEmulatorToken(p.emulator, tokensOf(r)[0]!, VAULT, LIFETIME);
      expect(requests).toEqual({ [`${f} 200`]: 1 });
    });

    imdsIt('ManagedIdentityCredential gets them over IMDS', async () => {
      const p = pod();
      const { value: r, requests } = await run(p, client, 'managed', { ...client.imdsEnv(p.sidecar.endpoint), AZURE_CLIENT_ID: p.emulator.clientId }, ARM);
      const [arm] = tokensOf(r);
      expectEmulatorToken(p.emulator, arm!, ARM, LIFETIME);
      expect(arm!.token).toBe(armFile(p));
      expect(requests).toEqual({ 'imds 200': 1 });
    });

    imdsIt(`DefaultAzureCredential gets them over IMDS (requests: ${JSON.stringify(pins.defaultImdsRequests)})`, async () => {
      const p = pod();
      const { value: r, requests } = await run(p, client, 'default', { ...client.imdsEnv(p.sidecar.endpoint), AZURE_CLIENT_ID: p.emulator.clientId }, ARM);
      expectEmulatorToken(p.emulator, tokensOf(r)[0]!, ARM, LIFETIME);
      expect(requests).toEqual(pins.defaultImdsRequests);
    });

    it(`a foreign client id gets "Identity not found" naming the identity the pod has (${pins.managedError})`, async () => {
      const p = pod();
      const { value: r, requests } = await run(p, client, 'managed', { ...p.appService, AZURE_CLIENT_ID: FOREIGN_CLIENT_ID }, ARM);
      const e = errorOf(r);
      expect(e.name).toBe(pins.managedError);
      expect(e.message).toContain(`Identity not found: this sidecar serves client id ${p.emulator.clientId}, not ${FOREIGN_CLIENT_ID}`);
      if (pins.errorMarker) expect(e.message).toContain(pins.errorMarker);
      expect(requests).toEqual({ [`${f} 400`]: 1 });
    });

    it('a permanent Entra refusal reaches the app with the AADSTS text and the fix', async () => {
      const p = pod();
      const { value: r, requests } = await run(p, client, 'managed', p.appService, `${UNKNOWN}/.default`);
      const e = errorOf(r);
      expect(e.name).toBe(pins.managedError);
      expect(e.message).toContain('AADSTS500011');
      expect(e.message).toContain('fix:');
      expect(requests).toEqual({ [`${f} 400`]: 1 });
    });

    it(`DefaultAzureCredential ${pins.defaultAfter4xx === 'stops' ? 'stops at ManagedIdentityCredential' : 'moves on to the developer credentials'} after the refusal, and reports its text`, async () => {
      const p = pod();
      const { value: r } = await run(p, client, 'default', p.appService, `${UNKNOWN}/.default`);
      const e = errorOf(r);
      expect(e.message).toContain('AADSTS500011');
      const mi = e.message.search(/ManagedIdentityCredential/);
      expect(mi).toBeGreaterThanOrEqual(0);
      const later = e.message.slice(mi).search(/AzureCliCredential|AzureCLICredential|Azure CLI/);
      if (pins.defaultAfter4xx === 'stops') expect(later, 'no developer credential tried after ManagedIdentityCredential').toBe(-1);
      else expect(later, 'developer credentials tried after ManagedIdentityCredential').toBeGreaterThan(0);
    });

    it('a wrong IDENTITY_HEADER gets 401 and a message that names X-IDENTITY-HEADER, and no token', async () => {
      const p = pod();
      const { value: r, requests } = await run(p, client, 'managed', { ...p.appService, IDENTITY_HEADER: 'not-the-sidecar-secret-0123456789' }, ARM);
      const e = errorOf(r);
      expect(e.name).toBe(pins.managedError401 ?? pins.managedError);
      expect(e.message).toContain('Wrong X-IDENTITY-HEADER: send the value of the IDENTITY_HEADER environment variable');
      expect(requests).toEqual({ [`${f} 401`]: 1 });
    });
  });
}
