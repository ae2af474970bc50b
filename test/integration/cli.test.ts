import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { CLI, getToken, startSidecarProcess } from '../helpers/sidecar.js';

const run = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 30_000 });

/** Like run, but asynchronous: the emulator lives in this process and must keep answering. */
const runAsync = (args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (status) => resolve({ status, stdout, stderr }));
  });

describe('entra-sidecar CLI', () => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startTestEmulator();
  });
  afterAll(() => emulator.close());

  it('prints --help for every command', () => {
    for (const cmd of [[], ['sidecar'], ['emulator'], ['demo']]) {
      const r = run([...cmd, '--help'], {});
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/Usage: entra-sidecar/);
    }
    expect(run(['sidecar', '--help'], {}).stdout).toMatch(/AZURE_FEDERATED_TOKEN_FILE/);
  });

  it('exits 2 with one clear stderr line, no stack, on a bad configuration', () => {
    const secret = 's3cr3t-value-that-must-not-appear';
    const r = run(['sidecar'], {
      AZURE_CLIENT_ID: '22222222-2222-4222-8222-222222222222',
      AZURE_TENANT_ID: 'contoso.onmicrosoft.com',
      AZURE_FEDERATED_TOKEN_FILE: '/x',
      ENTRA_SIDECAR_IDENTITY_HEADER: secret,
      ENTRA_SIDECAR_LISTEN: '0.0.0.0:42350',
    });
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^entra-sidecar: ENTRA_SIDECAR_LISTEN \(--listen\) must be a loopback address/);
    expect(r.stderr + r.stdout).not.toContain(secret);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
    // clusters without federation: none or several credentials is a configuration error too
    const none = run(['sidecar', '--once'], {
      AZURE_CLIENT_ID: '22222222-2222-4222-8222-222222222222',
      AZURE_TENANT_ID: '11111111-1111-4111-8111-111111111111',
    });
    expect(none.status).toBe(2);
    expect(none.stderr.trim()).toMatch(/^entra-sidecar: credential is missing: set exactly one credential: AZURE_FEDERATED_TOKEN_FILE/);
    const both = run(['sidecar', '--once'], {
      AZURE_CLIENT_ID: '22222222-2222-4222-8222-222222222222',
      AZURE_TENANT_ID: '11111111-1111-4111-8111-111111111111',
      AZURE_FEDERATED_TOKEN_FILE: '/x',
      AZURE_CLIENT_SECRET: secret,
    });
    expect(both.status).toBe(2);
    expect(both.stderr.trim().split('\n')).toHaveLength(1);
    expect(both.stderr).toMatch(
      /AZURE_FEDERATED_TOKEN_FILE \(--federated-token-file\) and AZURE_CLIENT_SECRET are all set, but a sidecar uses exactly one credential/,
    );
    expect(both.stderr + both.stdout).not.toContain(secret);
    const missing = run(['sidecar'], {});
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^entra-sidecar: AZURE_CLIENT_ID \(--client-id\) is required/);
    expect(run(['nonsense'], {}).status).toBe(2);
  });

  it('sidecar --once writes every target and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'once-'));
    const { path } = emulator.writeProjectedToken(mkdtempSync(join(tmpdir(), 'sa-')));
    const r = await runAsync(['sidecar', '--once'], {
      NODE_EXTRA_CA_CERTS: emulator.caFile,
      AZURE_CLIENT_ID: emulator.clientId,
      AZURE_TENANT_ID: emulator.tenantId,
      AZURE_FEDERATED_TOKEN_FILE: path,
      AZURE_AUTHORITY_HOST: emulator.url,
      ENTRA_SIDECAR_TOKENS: 'storage=https://storage.azure.com/.default,pg=https://ossrdbms-aad.database.windows.net/.default',
      ENTRA_SIDECAR_TOKEN_DIR: dir,
    });
    expect(r.status).toBe(0);
    for (const f of ['storage', 'storage.json', 'pg', 'pg.json']) expect(existsSync(join(dir, f))).toBe(true);
    expect(emulator.issuedSecrets()).toContain(readFileSync(join(dir, 'pg'), 'utf8'));
  });

  it('sidecar --once exits non-zero with the Entra error in one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'once-'));
    const { path } = emulator.writeProjectedToken(mkdtempSync(join(tmpdir(), 'sa-')), { serviceAccount: 'stranger' });
    const r = await runAsync(['sidecar', '--once'], {
      NODE_EXTRA_CA_CERTS: emulator.caFile,
      AZURE_CLIENT_ID: emulator.clientId,
      AZURE_TENANT_ID: emulator.tenantId,
      AZURE_FEDERATED_TOKEN_FILE: path,
      AZURE_AUTHORITY_HOST: emulator.url,
      ENTRA_SIDECAR_TOKENS: 'storage=https://storage.azure.com/.default',
      ENTRA_SIDECAR_TOKEN_DIR: dir,
    });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/storage: .*AADSTS70021/);
  });

  it('readyz is 503 until the tokens are written, then 200 with per-target detail and no tokens; SIGTERM exits 0 quickly', async () => {
    emulator.inject({ kind: 'delay', ms: 1_500 }, { count: 1 });
    const sp = await startSidecarProcess({ emulator, tokens: 'storage=https://storage.azure.com/.default' });
    const early = await fetch(`${sp.health}/readyz`);
    expect(early.status).toBe(503);
    await sp.waitReady();
    const ready = (await (await fetch(`${sp.health}/readyz`)).json()) as { status: string; targets: Record<string, unknown>[] };
    expect(ready.status).toBe('ready');
    expect(ready.targets[0]).toMatchObject({ name: 'storage', scope: 'https://storage.azure.com/.default', ready: true, fileWritten: true });
    expect(JSON.stringify(ready)).not.toContain('eyJ');
    expect((await fetch(`${sp.health}/healthz`)).status).toBe(200);
    // the health port never serves tokens
    for (const p of [
      '/msi/token?api-version=2019-08-01&resource=https://storage.azure.com/',
      '/metadata/identity/oauth2/token?resource=https://storage.azure.com/',
    ]) {
      const r = await fetch(`${sp.health}${p}`, { headers: { 'X-IDENTITY-HEADER': sp.identityHeader, Metadata: 'true' } });
      expect(r.status).toBe(404);
    }
    const metrics = await (await fetch(`${sp.health}/metrics`)).text();
    for (const m of [
      'entra_sidecar_refreshes_total{target="storage",result="success"}',
      'entra_sidecar_token_expiry_timestamp_seconds{target="storage"}',
      'entra_sidecar_federated_token_expiry_timestamp_seconds',
      'entra_sidecar_tokens_held',
      'entra_sidecar_ready 1',
      'entra_sidecar_build_info{version=',
      'process_resident_memory_bytes',
      'entra_sidecar_refresh_duration_seconds_bucket',
    ]) {
      expect(metrics).toContain(m);
    }
    expect((await getToken(sp, 'https://storage.azure.com/')).status).toBe(200);
    const t0 = Date.now();
    expect(await sp.stop('SIGTERM')).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('exits 1 with one line when a port is taken', async () => {
    const sp = await startSidecarProcess({ emulator });
    const port = new URL(sp.endpoint).port;
    const other = await startSidecarProcess({ emulator, env: { ENTRA_SIDECAR_LISTEN: `127.0.0.1:${port}` }, noWait: true });
    expect(await other.exited).toBe(1);
    expect(other.stderr.join('\n')).toMatch(/ENTRA_SIDECAR_LISTEN: cannot listen on 127.0.0.1:\d+ \(EADDRINUSE\)/);
    await sp.stop();
  });
});
