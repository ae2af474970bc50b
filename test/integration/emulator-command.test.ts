import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { EMULATOR_HELP, parseEmulatorSettings } from '../../src/emulator/command.js';
import { auditLog, recordSecret } from '../helpers/audit.js';
import { call, jwtPart, type RawResponse } from '../emulator/helpers.js';
import { ConfigError } from '../../src/config/errors.js';

const root = mkdtempSync(join(tmpdir(), 'emulator-command-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TENANT = 'aaaaaaaa-0000-4000-8000-000000000001';
const CLIENT = 'bbbbbbbb-0000-4000-8000-000000000002';

interface Ready {
  event: string;
  url: string;
  caFile: string;
  tenantId: string;
  clientId: string;
  issuer: string;
  tokenFile: string | null;
}

/** Starts `entra-sidecar emulator` from source in a child process and waits for its ready line. */
function startCommand(argv: string[]): Promise<{ child: ChildProcess; ready: Ready; lines: string[] }> {
  const child = spawn(process.execPath, [join('node_modules', 'vite-node', 'vite-node.mjs'), join('test', 'emulator', 'fixtures', 'run-emulator-command.ts')], {
    env: { ...process.env, EMULATOR_ARGV: JSON.stringify(argv) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = auditLog('emulator-command');
  if (log) {
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
  }
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      lines.push(line);
      if (lines.length === 1) resolve({ child, ready: JSON.parse(line) as Ready, lines });
    });
    child.once('exit', (code) => reject(new Error(`emulator command exited with ${code} before it was ready`)));
  });
}

describe('entra-sidecar emulator (command)', () => {
  it('prints one ready line, serves tokens, rotates the token file, and exits 0 on SIGTERM', async () => {
    const tokenDir = join(root, 'sa');
    const { child, ready, lines } = await startCommand([
      '--token-dir',
      tokenDir,
      '--rotate-every',
      '200ms',
      '--token-lifetime',
      '30',
      '--tenant-id',
      TENANT,
      '--client-id',
      CLIENT,
      '--dir',
      join(root, 'state'),
    ]);
    try {
      expect(ready).toMatchObject({
        event: 'ready',
        tenantId: TENANT,
        clientId: CLIENT,
        caFile: join(root, 'state', 'ca.pem'),
        tokenFile: join(tokenDir, 'token'),
      });
      expect(ready.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const caPem = readFileSync(ready.caFile, 'utf8');
      expect(caPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
      expect(lstatSync(join(tokenDir, '..data')).isSymbolicLink()).toBe(true);

      const first = readFileSync(ready.tokenFile!, 'utf8');
      recordSecret(first);
      expect(jwtPart(first, 1)).toMatchObject({ iss: ready.issuer, sub: 'system:serviceaccount:default:workload' });

      const emu = { url: ready.url, caPem };
      const form = new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: CLIENT,
        scope: 'https://vault.azure.net/.default',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: first,
      }).toString();
      const res: RawResponse = await call(emu, 'POST', `/${TENANT}/oauth2/v2.0/token`, form, { 'content-type': 'application/x-www-form-urlencoded' });
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ token_type: 'Bearer', expires_in: 30 });
      expect(jwtPart(res.json().access_token, 1)).toMatchObject({ tid: TENANT, appid: CLIENT });

      const state = (await call(emu, 'GET', '/_emulator/state')).json();
      expect(state).toMatchObject({ exchanges: 1, exchangesByScope: { 'https://vault.azure.net/.default': 1 }, discoveryRequests: 0, tenantId: TENANT });

      // The token file is rotated.
      let current = first;
      while (current === first) {
        await new Promise((r) => setTimeout(r, 50));
        current = readFileSync(ready.tokenFile!, 'utf8');
      }
      recordSecret(current);
      expect(jwtPart(current, 1).jti).not.toBe(jwtPart(first, 1).jti);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }

    // Every line after the ready line is a JSON log line; the token request was logged without a token.
    const logs = lines.slice(1).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs.some((l) => l.msg === 'token request' && l.status === 200 && l.scope === 'https://vault.azure.net/.default')).toBe(true);
    expect(logs.at(-1)).toMatchObject({ msg: 'emulator stopped', signal: 'SIGTERM' });
    expect(existsSync(join(root, 'state', 'ca.pem'))).toBe(true); // a --dir given by the caller is kept
  });
});

describe('emulator flags', () => {
  it('parses flags with defaults', () => {
    expect(parseEmulatorSettings([], {})).toMatchObject({ listen: { host: '127.0.0.1', port: 0 }, rotateEveryMs: 60_000, tokenLifetimeSec: 3599 });
    expect(parseEmulatorSettings(['--listen', '127.0.0.1:4443', '--rotate-every', '2m'], {})).toMatchObject({ listen: { port: 4443 }, rotateEveryMs: 120_000 });
  });

  it('ignores AZURE_* variables of the calling environment', () => {
    expect(parseEmulatorSettings([], { AZURE_CLIENT_ID: CLIENT, AZURE_TENANT_ID: TENANT }).clientId).not.toBe(CLIENT);
  });

  it.each([
    [['--listen', 'nowhere'], '--listen must be host:port'],
    [['--tenant-id', 'contoso'], '--tenant-id must be a GUID'],
    [['--token-lifetime', '0'], '--token-lifetime must be between 1 and 86400'],
    [['--rotate-every', 'soon'], '--rotate-every must be a duration'],
    [['--bogus'], 'command line is invalid'],
  ])('rejects %j with a message naming the flag', (argv, message) => {
    expect(() => parseEmulatorSettings(argv, {})).toThrow(ConfigError);
    expect(() => parseEmulatorSettings(argv, {})).toThrow(message);
  });

  it('documents every flag in --help', () => {
    for (const flag of ['--listen', '--dir', '--token-dir', '--rotate-every', '--token-lifetime', '--tenant-id', '--client-id']) {
      expect(EMULATOR_HELP).toContain(flag);
    }
  });
});
