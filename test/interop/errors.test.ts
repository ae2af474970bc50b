/**
 * Failures as real clients see them: a permanent Entra refusal must reach the app's error message
 * with its AADSTS text (so the app's log names the fix), and a transient outage must be a 503
 * with an honest Retry-After that clients ride through.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { recordSecret } from '../helpers/audit.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { getToken, startSidecarProcess, type SidecarProcess } from '../helpers/sidecar.js';
import {
  appServiceEnv,
  CLIENTS,
  errorOf,
  expectEmulatorToken,
  imdsEnv,
  PYTHON,
  requestsDuring,
  requireClients,
  runClient,
  runShell,
  tokensOf,
} from './setup.js';

const LIFETIME = 3599;
/** a resource the tenant does not know: Entra answers AADSTS500011 */
const UNKNOWN = 'https://unknown-resource.example.com';
const UNKNOWN_SCOPE = `${UNKNOWN}/.default`;

const skip = await requireClients('python-azure-identity', 'curl', 'azure-identity-4-0', 'azure-identity-latest', '@azure/msal-node');

describe.skipIf(skip)('errors through real clients', () => {
  let emulator: Emulator;
  let sidecar: SidecarProcess;
  let appService: Record<string, string>;

  beforeAll(async () => {
    emulator = await startTestEmulator({ tokenLifetimeSec: LIFETIME, unknownResources: [UNKNOWN] });
    sidecar = await startSidecarProcess({ emulator, tokens: 'arm=https://management.azure.com/.default' });
    await sidecar.waitReady();
    appService = appServiceEnv(sidecar.endpoint, sidecar.identityHeader, emulator.clientId);
  });
  afterAll(async () => {
    await sidecar?.stop();
    await emulator?.close();
  });

  const js = (pkg: string, env: Record<string, string>, scope: string) =>
    requestsDuring(sidecar.health, () => runClient(`${pkg}-error`, process.execPath, [join(CLIENTS, 'azure-identity.mjs'), pkg, 'managed', scope], env));
  const py = (kind: 'default' | 'managed', env: Record<string, string>, scope: string) =>
    requestsDuring(sidecar.health, () => runClient(`python-${kind}-error`, PYTHON, [join(CLIENTS, 'azure_identity.py'), kind, scope], env));
  const msal = (env: Record<string, string>, resource: string) =>
    requestsDuring(sidecar.health, () => runClient('msal-node-error', process.execPath, [join(CLIENTS, 'msal-node.mjs'), resource], env));

  describe('a permanent refusal (AADSTS500011, resource not in the tenant)', () => {
    it('curl gets 400 and JSON carrying the AADSTS text and the fix', async () => {
      const run = await runShell(
        'curl-unknown',
        `curl -s -w '\\n%{http_code}\\n' -H "X-IDENTITY-HEADER: $IDENTITY_HEADER" "$IDENTITY_ENDPOINT?api-version=2019-08-01&resource=${UNKNOWN}"`,
        appService,
      );
      const lines = run.stdout.trimEnd().split('\n');
      expect(lines.at(-1)).toBe('400');
      const body = JSON.parse(lines.slice(0, -1).join('\n')) as Record<string, unknown>;
      expect(body).toMatchObject({ statusCode: 400, error: 'invalid_request' });
      expect(body.message).toContain('AADSTS500011');
      expect(body.message).toContain(UNKNOWN);
      expect(body.error_description).toBe(body.message);
    });

    it('Python ManagedIdentityCredential (App Service) raises with the AADSTS text', async () => {
      const { value: run, requests } = await py('managed', appService, UNKNOWN_SCOPE);
      const e = errorOf(run);
      expect(e.name).toBe('ClientAuthenticationError');
      expect(e.message).toContain('AADSTS500011');
      expect(requests).toEqual({ 'app_service 400': 1 });
    });

    it('Python DefaultAzureCredential stops at ManagedIdentityCredential and reports the AADSTS text', async () => {
      const { value: run } = await py('default', appService, UNKNOWN_SCOPE);
      const e = errorOf(run);
      expect(e.name).toBe('ClientAuthenticationError');
      expect(e.message).toContain('ManagedIdentityCredential');
      expect(e.message).toContain('AADSTS500011');
    });

    it('Python over IMDS turns any 400 into "no identity assigned" (azure-identity 1.13 drops the body): the App Service flavour is the one to use', async () => {
      const { value: run, requests } = await py('managed', imdsEnv(sidecar.endpoint), UNKNOWN_SCOPE);
      const e = errorOf(run);
      expect(e.name).toBe('CredentialUnavailableError');
      expect(e.message).toContain('No identity has been assigned');
      expect(requests).toEqual({ 'imds 400': 1 });
    });

    for (const pkg of ['azure-identity-4-0', 'azure-identity-latest']) {
      it(`${pkg} ManagedIdentityCredential rejects with the AADSTS text`, async () => {
        const { value: run, requests } = await js(pkg, appService, UNKNOWN_SCOPE);
        const e = errorOf(run);
        expect(e.message).toContain('AADSTS500011');
        expect(Object.keys(requests)).toEqual(['app_service 400']);
      });
    }

    it('msal-node ManagedIdentityApplication rejects with the AADSTS text', async () => {
      const { value: run, requests } = await msal(appService, UNKNOWN);
      const e = errorOf(run);
      expect(e.message).toContain('AADSTS500011');
      expect(Object.keys(requests)).toEqual(['app_service 400']);
    });
  });

  describe('a federation mismatch (AADSTS70021) for one scope', () => {
    it('reaches Python and @azure/identity with the AADSTS text and what to fix', async () => {
      const scope = 'https://database.windows.net/.default';
      emulator.inject({ kind: 'aadsts', code: 70021 }, { scope, count: 1 });
      const { value: run, requests } = await py('managed', appService, scope);
      const e = errorOf(run);
      expect(e.message).toContain('AADSTS70021');
      expect(e.message).toContain('federated identity credential');
      expect(requests).toEqual({ 'app_service 400': 1 });
      // the sidecar holds the refusal (no new exchange while it backs off), so the next app gets it too
      const { value: jsRun } = await js('azure-identity-latest', appService, scope);
      expect(errorOf(jsRun).message).toContain('AADSTS70021');
      expect(emulator.exchangeCount(scope)).toBe(1);
    });
  });

  describe('a wrong IDENTITY_HEADER', () => {
    const wrong = (): Record<string, string> => ({ ...appService, IDENTITY_HEADER: 'not-the-sidecar-secret-0123456789' });

    it('Python gets 401 and no token', async () => {
      const { value: run, requests } = await py('managed', wrong(), 'https://management.azure.com/.default');
      expect(errorOf(run).message).toContain('X-IDENTITY-HEADER');
      expect(requests).toEqual({ 'app_service 401': 1 });
    });

    for (const pkg of ['azure-identity-4-0', 'azure-identity-latest']) {
      it(`${pkg} gets 401 and no token`, async () => {
        const { value: run, requests } = await js(pkg, wrong(), 'https://management.azure.com/.default');
        expect(errorOf(run).message).toContain('X-IDENTITY-HEADER');
        expect(Object.keys(requests)).toEqual(['app_service 401']);
      });
    }
  });

  describe('a transient outage', () => {
    it('gives 503 with Retry-After, and a retry after that long gets the token', async () => {
      const scope = 'https://vault.azure.net/.default';
      emulator.inject({ kind: 'retry-after', seconds: 2, status: 503 }, { scope, durationMs: 120_000 });
      const run = await runShell(
        'curl-outage',
        `curl -s -i -H "X-IDENTITY-HEADER: $IDENTITY_HEADER" "$IDENTITY_ENDPOINT?api-version=2019-08-01&resource=https://vault.azure.net"`,
        appService,
      );
      const [head, body] = run.stdout.split(/\r\n\r\n/);
      expect(head).toMatch(/^HTTP\/1\.1 503 /);
      const retryAfter = Number(/^retry-after: (\d+)\r?$/im.exec(head ?? '')?.[1]);
      expect(retryAfter).toBeGreaterThanOrEqual(2);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(JSON.parse(body ?? '')).toMatchObject({ statusCode: 503, error: 'temporarily_unavailable', message: expect.stringContaining('HTTP 503') });

      const again = await getToken(sidecar, 'https://vault.azure.net');
      expect(again.status).toBe(503);
      expect(Number(again.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await again.json()).toMatchObject({ statusCode: 503, error: 'temporarily_unavailable' });

      emulator.clearFaults();
      await new Promise((r) => setTimeout(r, retryAfter * 1000));
      const after = await getToken(sidecar, 'https://vault.azure.net');
      expect(after.status).toBe(200);
      const ok = (await after.json()) as { access_token: string; expires_on: string };
      recordSecret(ok.access_token);
      expectEmulatorToken(emulator, { scope, token: ok.access_token, expiresOnTimestamp: Number(ok.expires_on) * 1000 }, scope, LIFETIME);
    });

    const clients = [
      { name: 'azure-identity-4-0', run: (scope: string) => js('azure-identity-4-0', appService, scope) },
      { name: 'azure-identity-latest', run: (scope: string) => js('azure-identity-latest', appService, scope) },
      { name: 'msal-node', run: (scope: string) => msal(appService, scope.replace(/\/\.default$/, '')) },
      { name: 'Python azure-identity', run: (scope: string) => py('managed', appService, scope) },
    ];
    clients.forEach((c, i) => {
      it(`${c.name} rides through one failed exchange by honouring Retry-After`, async () => {
        const scope = `https://outage-${i}.example.com/.default`;
        emulator.inject({ kind: 'retry-after', seconds: 1, status: 503 }, { scope, count: 1 });
        const { value: run, requests } = await c.run(scope);
        const [got] = tokensOf(run);
        expectEmulatorToken(emulator, got!, scope, LIFETIME);
        expect(requests).toEqual({ 'app_service 503': 1, 'app_service 200': 1 });
      });
    });
  });
});
