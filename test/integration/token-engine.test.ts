import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { decodeJwt } from '../../src/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { getToken, startSidecarProcess, type SidecarProcess } from '../helpers/sidecar.js';

const STORAGE = 'https://storage.azure.com/.default';
const PG = 'https://ossrdbms-aad.database.windows.net/.default';

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('token engine against the Entra emulator (real HTTPS, real msal-node)', () => {
  let emulator: Emulator;
  const running: SidecarProcess[] = [];
  const start = async (o: Parameters<typeof startSidecarProcess>[0]) => {
    const sp = await startSidecarProcess(o);
    running.push(sp);
    return sp;
  };
  beforeAll(async () => {
    emulator = await startTestEmulator({ tokenLifetimeSec: 3599 });
  });
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop()));
    await emulator.close();
  });

  it('writes the first tokens as files: raw token without newline, and JSON with expires_on', async () => {
    const sp = await start({ emulator, tokens: `storage=${STORAGE},pg=${PG}` });
    await sp.waitReady();
    const raw = readFileSync(join(sp.tokenDir, 'storage'), 'utf8');
    expect(raw).not.toMatch(/\n$/);
    expect(emulator.issuedSecrets()).toContain(raw);
    expect(decodeJwt(raw)!.payload).toMatchObject({ aud: 'https://storage.azure.com', appid: emulator.clientId, tid: emulator.tenantId });
    const json = JSON.parse(readFileSync(join(sp.tokenDir, 'pg.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(json).sort()).toEqual(['access_token', 'expires_on', 'scope', 'token_type']);
    expect(json.scope).toBe(PG);
    expect(json.token_type).toBe('Bearer');
    expect(typeof json.expires_on).toBe('number');
    expect(Math.abs((json.expires_on as number) - (Date.now() / 1000 + 3599))).toBeLessThan(30);
    expect(decodeJwt(json.access_token as string)!.payload.aud).toBe('https://ossrdbms-aad.database.windows.net');
    const mode = readdirSync(sp.tokenDir);
    expect(mode.sort()).toEqual(['pg', 'pg.json', 'storage', 'storage.json']);
    // the endpoint serves the same held token for a configured target
    const r = await getToken(sp, 'https://storage.azure.com/');
    expect(((await r.json()) as { access_token: string }).access_token).toBe(raw);
  });

  it('makes zero discovery requests, to the emulator or any other host, even with a trailing / on the authority host', async () => {
    const hostsFile = join(mkdtempSync(join(tmpdir(), 'hosts-')), 'hosts.txt');
    writeFileSync(hostsFile, '');
    const before = emulator.discoveryRequestCount();
    const sp = await start({
      emulator,
      env: {
        AZURE_AUTHORITY_HOST: `${emulator.url}/`,
        NODE_OPTIONS: `--import=${join(process.cwd(), 'test/helpers/record-hosts.mjs')}`,
        RECORD_HOSTS_FILE: hostsFile,
      },
    });
    await sp.waitReady();
    expect((await getToken(sp, 'https://management.azure.com/')).status).toBe(200);
    expect(emulator.discoveryRequestCount() - before).toBe(0);
    const hosts = readFileSync(hostsFile, 'utf8').split('\n').filter(Boolean);
    expect(hosts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(hosts)).toEqual(new Set(['127.0.0.1']));
  });

  it('coalesces 100 concurrent demands for a new scope into exactly 1 exchange', async () => {
    const sp = await start({ emulator, tokens: '' });
    const scope = 'https://coalesce.example.com/.default';
    const responses = await Promise.all(Array.from({ length: 100 }, () => getToken(sp, 'https://coalesce.example.com/')));
    expect(responses.map((r) => r.status)).toEqual(Array(100).fill(200));
    const tokens = new Set(await Promise.all(responses.map(async (r) => ((await r.json()) as { access_token: string }).access_token)));
    expect(tokens.size).toBe(1);
    expect(emulator.exchangeCount(scope)).toBe(1);
  });

  it('surfaces AADSTS70021 with the assertion issuer, subject and audience', async () => {
    const saDir = mkdtempSync(join(tmpdir(), 'sa-'));
    const { path } = emulator.writeProjectedToken(saDir, { serviceAccount: 'not-federated' });
    const sp = await start({ emulator, tokenFile: path, tokens: `storage=${STORAGE}` });
    const line = await sp.waitForLog((l) => l.msg !== undefined && String(l.msg).includes('AADSTS70021'));
    expect(line.level).toBe('error');
    expect(line.assertionClaims).toMatchObject({ iss: emulator.issuer, sub: `system:serviceaccount:default:not-federated` });
    expect(JSON.stringify((line.assertionClaims as { aud: unknown }).aud)).toContain('api://AzureADTokenExchange');
    expect(String(line.msg)).toMatch(/federated identity credential/);
    const ready = await fetch(`${sp.health}/readyz`);
    expect(ready.status).toBe(503);
    const r = await getToken(sp, 'https://storage.azure.com/');
    expect(r.status).toBe(400);
    expect(((await r.json()) as { message: string }).message).toContain('AADSTS70021');
    const metrics = await (await fetch(`${sp.health}/metrics`)).text();
    expect(metrics).toMatch(/entra_sidecar_exchange_errors_total\{target="storage",reason="AADSTS70021"\} [1-9]/);
  });
});

describe('refresh, rotation and outages with short-lived tokens', () => {
  let emulator: Emulator;
  let sp: SidecarProcess;
  let saDir: string;
  let stopRotation: () => void;
  beforeAll(async () => {
    emulator = await startTestEmulator({ tokenLifetimeSec: 5 });
    saDir = mkdtempSync(join(tmpdir(), 'sa-'));
    const { path } = emulator.writeProjectedToken(saDir);
    stopRotation = emulator.startRotation(saDir, 1_500);
    sp = await startSidecarProcess({ emulator, tokenFile: path, tokens: `storage=${STORAGE}` });
    await sp.waitReady();
  });
  afterAll(async () => {
    stopRotation();
    expect(await sp.stop()).toBe(0);
    await emulator.close();
  });

  it('refreshes 5 s tokens before they expire and rewrites the files', async () => {
    const first = readFileSync(join(sp.tokenDir, 'storage'), 'utf8');
    const n = emulator.exchangeCount(STORAGE);
    await until('three more exchanges', () => emulator.exchangeCount(STORAGE) >= n + 3);
    const later = readFileSync(join(sp.tokenDir, 'storage'), 'utf8');
    expect(later).not.toBe(first);
    const exp = (decodeJwt(later)!.payload as { exp: number }).exp;
    expect(exp * 1000).toBeGreaterThan(Date.now());
  });

  it('picks up the rotated service-account token (the emulator sees new assertion jtis)', async () => {
    await until(
      'exchanges with 3 different assertion jtis',
      () => new Set(emulator.exchanges.filter((e) => e.scope === STORAGE && e.status === 200).map((e) => e.jti)).size >= 3,
    );
  });

  it('serves the held token through a 5xx outage, then recovers', async () => {
    emulator.setTokenLifetime(30);
    const n0 = emulator.exchanges.length;
    // wait for a fresh 30 s token: its refresh falls due ~7.5 s later, inside the outage below
    await until(
      'a fresh 30 s token',
      () =>
        emulator.exchanges.slice(n0).some((e) => e.scope === STORAGE && e.status === 200) &&
        (JSON.parse(readFileSync(join(sp.tokenDir, 'storage.json'), 'utf8')) as { expires_on: number }).expires_on - Date.now() / 1000 > 28,
      30_000,
    );
    const failedBefore = emulator.exchanges.filter((e) => e.status === 503).length;
    emulator.inject({ kind: 'status', status: 503 }, { durationMs: 10_000 });
    const statuses: number[] = [];
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      statuses.push((await getToken(sp, 'https://storage.azure.com/')).status);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(emulator.exchanges.filter((e) => e.status === 503).length).toBeGreaterThan(failedBefore);
    const metrics = await (await fetch(`${sp.health}/metrics`)).text();
    expect(metrics).toMatch(/entra_sidecar_exchange_errors_total\{target="storage",reason="http_503"\} [1-9]/);
    const clearedAt = emulator.exchanges.length;
    await until(
      'a successful exchange after the outage',
      () => emulator.exchanges.slice(clearedAt).some((e) => e.scope === STORAGE && e.status === 200),
      60_000,
    );
    await sp.waitReady();
  });
});
