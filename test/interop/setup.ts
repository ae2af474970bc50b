/**
 * Shared pieces of the real-client interop suite: making sure the clients exist (installing the
 * Debian ones when running as root), running a client in a child process with a clean
 * environment, and checking that what it got is exactly a token the emulator issued.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { decodeJwt, type Emulator } from '../../src/emulator/index.js';
import { auditLog, recordSecret } from '../helpers/audit.js';

/** Debian's python3 (the pyenv python3 first on PATH has no azure-identity). */
export const PYTHON = '/usr/bin/python3';
export const CLIENTS = join(process.cwd(), 'test', 'interop', 'clients');
const INSTALL_SCRIPT = join(process.cwd(), 'scripts', 'install-interop-deps.sh');

export type Client = 'python-azure-identity' | 'curl' | 'azure-identity-4-0' | 'azure-identity-latest' | '@azure/msal-node';

/** Why a client cannot run here, or undefined when it can. */
function missing(client: Client): string | undefined {
  switch (client) {
    case 'python-azure-identity':
      try {
        execFileSync(PYTHON, ['-c', 'import azure.identity'], { stdio: 'ignore' });
        return undefined;
      } catch {
        return `${PYTHON} cannot import azure.identity (Debian package python3-azure)`;
      }
    case 'curl':
      try {
        execFileSync('curl', ['--version'], { stdio: 'ignore' });
        return undefined;
      } catch {
        return 'curl is not installed';
      }
    default:
      try {
        createRequire(join(process.cwd(), 'package.json')).resolve(`${client}/package.json`);
        return undefined;
      } catch {
        return `npm package ${client} is not installed (run npm ci)`;
      }
  }
}

/**
 * Makes sure the clients a test file needs are present. Missing Debian clients are installed with
 * scripts/install-interop-deps.sh when running as root. Resolves to undefined when all are there,
 * else to the reason to skip; with CI=true a missing client rejects instead: CI never skips interop.
 *
 * @example
 * const skip = await requireClients('curl');
 * describe.skipIf(skip)('curl', () => { … });
 */
export async function requireClients(...clients: Client[]): Promise<string | undefined> {
  const root = process.getuid?.() === 0;
  const debian = clients.filter((c) => c === 'python-azure-identity' || c === 'curl');
  if (root && debian.some((c) => missing(c))) {
    const log = auditLog('install-interop-deps');
    try {
      const { stdout, stderr } = await promisify(execFile)('bash', [INSTALL_SCRIPT], { encoding: 'utf8', timeout: 15 * 60_000 });
      log?.write(`${stdout}${stderr}`);
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message?: string };
      log?.write(`${e.stdout ?? ''}${e.stderr ?? ''}${e.message ?? ''}`);
    } finally {
      log?.end();
    }
  }
  const reasons = clients.map(missing).filter((r): r is string => r !== undefined);
  if (reasons.length === 0) return undefined;
  const why = `${reasons.join('; ')}${root ? ' (scripts/install-interop-deps.sh failed: see its log under .cache/log-audit)' : ' (not root, so scripts/install-interop-deps.sh could not install it)'}`;
  if (process.env.CI === 'true') throw new Error(`interop client missing in CI: ${why}`);
  console.warn(`interop: skipping: ${why}`);
  return why;
}

export interface ClientRun {
  code: number | null;
  /** what the client wrote to fd 3 */
  result: ClientResult;
  /** stdout and stderr, JWTs masked, for failure messages */
  output: string;
}

export interface ClientToken {
  scope: string;
  token: string;
  expiresOnTimestamp: number;
  [k: string]: unknown;
}

export type ClientResult = { results: ClientToken[]; error?: undefined } | { error: { name: string; message: string }; results?: undefined };

/** Masks anything shaped like a JWT, for text that may end up in a test failure message. */
export function maskJwts(text: string): string {
  return text.replace(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '<jwt>');
}

/**
 * Runs a client program with only `env` (plus PATH and a fresh HOME) in its environment. Its
 * stdout and stderr go to the suite's audited logs; its result comes back on fd 3, or in
 * `resultFile` for a runtime that cannot write to an inherited pipe (the JVM). Every token in the
 * result is recorded as a secret.
 */
export async function runClient(
  name: string,
  command: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
  resultFile?: string,
): Promise<ClientRun> {
  const home = mkdtempSync(join(tmpdir(), 'interop-home-'));
  const proc = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    cwd: home,
  });
  const audit = auditLog(`interop-${name}`);
  let output = '';
  const resultChunks: Buffer[] = [];
  proc.stdout!.on('data', (c: Buffer) => {
    audit?.write(c);
    output += c.toString('utf8');
  });
  proc.stderr!.on('data', (c: Buffer) => {
    audit?.write(c);
    output += c.toString('utf8');
  });
  (proc.stdio[3] as NodeJS.ReadableStream).on('data', (c: Buffer) => resultChunks.push(c));
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => proc.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  audit?.end();
  const raw = resultFile !== undefined && existsSync(resultFile) ? readFileSync(resultFile, 'utf8') : Buffer.concat(resultChunks).toString('utf8');
  let result: ClientResult;
  try {
    result = JSON.parse(raw) as ClientResult;
  } catch {
    result = { error: { name: 'NoResult', message: `client ${name} exited ${code} without a result; output: ${maskJwts(output).slice(-3000)}` } };
  }
  for (const r of result.results ?? []) recordSecret(r.token);
  return { code, result, output: maskJwts(output).slice(-3000) };
}

/** The tokens of a successful run; fails the test with the client's own error otherwise. */
export function tokensOf(run: ClientRun): ClientToken[] {
  if (run.result.error) throw new Error(`client failed (exit ${run.code}): ${run.result.error.name}: ${run.result.error.message}\n${run.output}`);
  expect(run.code).toBe(0);
  return run.result.results ?? [];
}

/** The error of a failed run; fails the test if the client got a token. */
export function errorOf(run: ClientRun): { name: string; message: string } {
  if (!run.result.error) throw new Error(`client unexpectedly succeeded for ${run.result.results?.map((r) => r.scope).join(', ')}`);
  expect(run.code).not.toBe(0);
  return run.result.error;
}

/** `https://management.azure.com/.default` → `https://management.azure.com`, the `aud` Entra puts in the token. */
export function audienceOf(scopeOrResource: string): string {
  return scopeOrResource.replace(/\/\.default$/, '').replace(/\/+$/, '');
}

/**
 * Asserts the client holds exactly a token the emulator issued, for the audience of
 * `scopeOrResource`, with an expiry in the future and within the emulator's token lifetime. The
 * client's expiry may be up to `earlierBySec` before the token's `exp` (msal-node dates a token
 * from when its request was sent, so an exchange that waited out an outage ends earlier), never later.
 */
export function expectEmulatorToken(emulator: Emulator, got: ClientToken, scopeOrResource: string, lifetimeSec: number, earlierBySec = 5): void {
  recordSecret(got.token);
  expect(typeof got.token).toBe('string');
  const issued = emulator.issuedSecrets();
  expect(issued.includes(got.token), 'the client holds a token the emulator issued').toBe(true);
  const jwt = decodeJwt(got.token);
  expect(jwt, 'the token is a JWT').toBeDefined();
  expect(jwt!.payload.aud).toBe(audienceOf(scopeOrResource));
  expect(jwt!.payload.appid).toBe(emulator.clientId);
  expect(jwt!.payload.tid).toBe(emulator.tenantId);
  const now = Date.now();
  expect(Number.isFinite(got.expiresOnTimestamp), `expiresOnTimestamp ${got.expiresOnTimestamp} is a number`).toBe(true);
  expect(got.expiresOnTimestamp).toBeGreaterThan(now);
  expect(got.expiresOnTimestamp).toBeLessThanOrEqual(now + (lifetimeSec + 5) * 1000);
  // the client's idea of the expiry matches the token's own exp (whole seconds; the sidecar and
  // the emulator each start their clocks at slightly different moments of the exchange)
  const exp = jwt!.payload.exp as number;
  expect(got.expiresOnTimestamp / 1000 - exp, 'the client expects the token to expire no later than its exp').toBeLessThanOrEqual(5);
  expect(exp - got.expiresOnTimestamp / 1000, `the client expects the token to expire at most ${earlierBySec} s before its exp`).toBeLessThanOrEqual(
    earlierBySec,
  );
}

/** Environment for the App Service 2019 flavour, as the webhook injects it. */
export function appServiceEnv(endpoint: string, identityHeader: string, clientId: string): Record<string, string> {
  return { IDENTITY_ENDPOINT: `${endpoint}/msi/token`, IDENTITY_HEADER: identityHeader, AZURE_CLIENT_ID: clientId };
}

/** Environment for the IMDS flavour: the IMDS host redirected to the sidecar, no IDENTITY_ENDPOINT. */
export function imdsEnv(endpoint: string, clientId?: string): Record<string, string> {
  return { AZURE_POD_IDENTITY_AUTHORITY_HOST: endpoint, ...(clientId ? { AZURE_CLIENT_ID: clientId } : {}) };
}

/** `entra_sidecar_endpoint_requests_total` from the sidecar's /metrics, keyed `flavour code`. */
export async function endpointRequestCounts(health: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${health}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const m of text.matchAll(/^entra_sidecar_endpoint_requests_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...(m[1] as string).matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    counts.set(`${labels.flavour} ${labels.code}`, Number(m[2]));
  }
  return counts;
}

/**
 * Runs `fn` and returns the token-endpoint requests it caused, by `flavour code`: which protocol
 * flavour a client really spoke, and whether it needed retries.
 */
export async function requestsDuring<T>(health: string, fn: () => Promise<T>): Promise<{ value: T; requests: Record<string, number> }> {
  const before = await endpointRequestCounts(health);
  const value = await fn();
  const after = await endpointRequestCounts(health);
  const requests: Record<string, number> = {};
  for (const [k, v] of after) if (v - (before.get(k) ?? 0) > 0) requests[k] = v - (before.get(k) ?? 0);
  return { value, requests };
}

export interface ShellRun {
  code: number | null;
  /** what the command printed: a response body or a token, so it is returned, not logged */
  stdout: string;
  /** audited like every log */
  stderr: string;
}

/**
 * Runs a shell one-liner (as the README shows it) with only `env` plus PATH and a fresh HOME.
 * stdout is the command's answer and comes back to the test; stderr goes to the audited logs.
 */
export async function runShell(name: string, oneLiner: string, env: Record<string, string>, timeoutMs = 30_000): Promise<ShellRun> {
  const home = mkdtempSync(join(tmpdir(), 'interop-home-'));
  const proc = spawn('/bin/sh', ['-c', oneLiner], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: home,
  });
  const audit = auditLog(`interop-${name}`);
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  proc.stderr!.on('data', (c: Buffer) => {
    audit?.write(c);
    stderr += c.toString('utf8');
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => proc.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  audit?.end();
  for (const jwt of stdout.match(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g) ?? []) recordSecret(jwt);
  return { code, stdout, stderr };
}
