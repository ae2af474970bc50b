/**
 * The curl and file one-liners the README shows, run verbatim through /bin/sh with only the app's
 * environment (the token folder substituted for the test's own).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { startSidecarProcess, type SidecarProcess } from '../helpers/sidecar.js';
import { expectEmulatorToken, requestsDuring, requireClients, runShell } from './setup.js';

const LIFETIME = 3599;
const TOKEN_DIR = '/var/run/secrets/entra';

/** Exactly as in the README. */
const ONE_LINERS = {
  appService: `curl -s -H "X-IDENTITY-HEADER: $IDENTITY_HEADER" "$IDENTITY_ENDPOINT?api-version=2019-08-01&resource=https://management.azure.com/"`,
  appServiceTokenOnly: `curl -s -H "X-IDENTITY-HEADER: $IDENTITY_HEADER" "$IDENTITY_ENDPOINT?api-version=2019-08-01&resource=https://management.azure.com/" | sed -E 's/.*"access_token":"([^"]+)".*/\\1/'`,
  imds: `curl -s -H "Metadata: true" "$AZURE_POD_IDENTITY_AUTHORITY_HOST/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/"`,
  msiEndpoint: `curl -s -H "Metadata: true" -d "resource=https://management.azure.com/" "$MSI_ENDPOINT"`,
  file: `cat ${TOKEN_DIR}/arm`,
  fileJson: `cat ${TOKEN_DIR}/arm.json`,
  withoutHeader: `curl -s -w '\\n%{http_code}\\n' "$IDENTITY_ENDPOINT?api-version=2019-08-01&resource=https://management.azure.com/"`,
} as const;

const skip = await requireClients('curl');

interface TokenBody {
  [k: string]: unknown;
  access_token: string;
}

describe.skipIf(skip)('curl and file one-liners against the sidecar', () => {
  let emulator: Emulator;
  let sidecar: SidecarProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    emulator = await startTestEmulator({ tokenLifetimeSec: LIFETIME });
    sidecar = await startSidecarProcess({ emulator, tokens: 'arm=https://management.azure.com/.default' });
    await sidecar.waitReady();
    env = {
      IDENTITY_ENDPOINT: `${sidecar.endpoint}/msi/token`,
      IDENTITY_HEADER: sidecar.identityHeader,
      MSI_ENDPOINT: `${sidecar.endpoint}/msi/token`,
      AZURE_POD_IDENTITY_AUTHORITY_HOST: sidecar.endpoint,
      AZURE_CLIENT_ID: emulator.clientId,
    };
  });
  afterAll(async () => {
    await sidecar?.stop();
    await emulator?.close();
  });

  const sh = (name: keyof typeof ONE_LINERS) =>
    requestsDuring(sidecar.health, () => runShell(`curl-${name}`, ONE_LINERS[name].replaceAll(TOKEN_DIR, sidecar.tokenDir), env));
  const armFile = (): string => readFileSync(join(sidecar.tokenDir, 'arm'), 'utf8');

  /** The managed-identity 200 body: every field a string, the resource echoed as sent. */
  const expectTokenBody = (stdout: string): TokenBody => {
    const body = JSON.parse(stdout) as TokenBody;
    expect(Object.keys(body).sort()).toEqual([
      'access_token',
      'client_id',
      'expires_in',
      'expires_on',
      'ext_expires_in',
      'not_before',
      'resource',
      'token_type',
    ]);
    for (const [k, v] of Object.entries(body)) expect(typeof v, k).toBe('string');
    for (const k of ['expires_on', 'expires_in', 'ext_expires_in', 'not_before']) expect(body[k], k).toMatch(/^\d+$/);
    expect(body).toMatchObject({ resource: 'https://management.azure.com/', token_type: 'Bearer', client_id: emulator.clientId });
    expect(body.access_token).toBe(armFile());
    const json = JSON.parse(readFileSync(join(sidecar.tokenDir, 'arm.json'), 'utf8')) as { expires_on: number };
    expect(Number(body.expires_on)).toBe(json.expires_on);
    expectEmulatorToken(
      emulator,
      { scope: 'arm', token: body.access_token, expiresOnTimestamp: Number(body.expires_on) * 1000 },
      'https://management.azure.com/',
      LIFETIME,
    );
    expect(Number(body.expires_in)).toBeGreaterThan(0);
    expect(Number(body.expires_in)).toBeLessThanOrEqual(LIFETIME);
    expect(Number(body.not_before) * 1000).toBeLessThanOrEqual(Date.now());
    return body;
  };

  it('App Service: curl with X-IDENTITY-HEADER gets the token the sidecar wrote to its file', async () => {
    const { value: run, requests } = await sh('appService');
    expect(run.code).toBe(0);
    expectTokenBody(run.stdout);
    expect(requests).toEqual({ 'app_service 200': 1 });
  });

  it('App Service: the token alone, for an Authorization header', async () => {
    const { value: run } = await sh('appServiceTokenOnly');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(armFile());
  });

  it('IMDS: curl with Metadata: true at AZURE_POD_IDENTITY_AUTHORITY_HOST', async () => {
    const { value: run, requests } = await sh('imds');
    expect(run.code).toBe(0);
    expectTokenBody(run.stdout);
    expect(requests).toEqual({ 'imds 200': 1 });
  });

  it('MSI_ENDPOINT: curl POST form resource=… with Metadata: true', async () => {
    const { value: run, requests } = await sh('msiEndpoint');
    expect(run.code).toBe(0);
    expectTokenBody(run.stdout);
    expect(requests).toEqual({ 'msi 200': 1 });
  });

  it('the token file holds the raw token and <name>.json its expiry', async () => {
    const { value: raw } = await sh('file');
    expect(raw.code).toBe(0);
    expectEmulatorToken(
      emulator,
      { scope: 'arm', token: raw.stdout, expiresOnTimestamp: Number(JSON.parse(readFileSync(join(sidecar.tokenDir, 'arm.json'), 'utf8')).expires_on) * 1000 },
      'https://management.azure.com',
      LIFETIME,
    );
    const { value: json } = await sh('fileJson');
    const body = JSON.parse(json.stdout) as { access_token: string; expires_on: number; token_type: string; scope: string };
    expect(body).toEqual({ access_token: raw.stdout, expires_on: expect.any(Number), token_type: 'Bearer', scope: 'https://management.azure.com/.default' });
  });

  it('without X-IDENTITY-HEADER curl gets 401 and a JSON error that names the fix, and no token', async () => {
    const { value: run, requests } = await sh('withoutHeader');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toBe('401');
    const body = JSON.parse(lines.slice(0, -1).join('\n')) as Record<string, unknown>;
    expect(body).toEqual({
      error: 'unauthorized_client',
      error_description: expect.stringContaining('IDENTITY_HEADER'),
      message: expect.stringContaining('X-IDENTITY-HEADER'),
      correlationId: expect.any(String),
      statusCode: 401,
    });
    expect(run.stdout).not.toContain('eyJ');
    expect(requests).toEqual({ 'app_service 401': 1 });
  });
});
