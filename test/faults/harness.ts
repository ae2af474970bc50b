import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Emulator, EmulatorOptions, ExchangeRecord } from '../../src/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { startSidecarProcess, type SidecarProcess, type SidecarProcessOptions } from '../helpers/sidecar.js';

export const STORAGE = 'https://storage.azure.com/';
export const STORAGE_SCOPE = 'https://storage.azure.com/.default';

/** An emulator and a sidecar process running against it. */
export interface Pair {
  emulator: Emulator;
  sidecar: SidecarProcess;
  close(): Promise<void>;
}

export interface PairOptions {
  /** access-token lifetime in seconds; default 16 (first refresh after about 4 s) */
  lifetimeSec?: number;
  emulator?: EmulatorOptions;
  /** use this emulator instead of starting one (not closed by close()) */
  sharedEmulator?: Emulator;
  sidecar?: Omit<SidecarProcessOptions, 'emulator'>;
  /** wait for /readyz; default true */
  ready?: boolean;
  /** called with the emulator before the sidecar starts (inject a fault, break a file) */
  before?(emulator: Emulator): void | Promise<void>;
}

/** Starts an emulator with short token lifetimes and a sidecar on it, ready unless told otherwise. */
export async function startPair(o: PairOptions = {}): Promise<Pair> {
  const emulator = o.sharedEmulator ?? (await startTestEmulator({ tokenLifetimeSec: o.lifetimeSec ?? 16, ...o.emulator }));
  await o.before?.(emulator);
  let sidecar: SidecarProcess;
  try {
    sidecar = await startSidecarProcess({ emulator, ...o.sidecar });
    if (o.ready !== false) await sidecar.waitReady();
  } catch (err) {
    if (!o.sharedEmulator) await emulator.close();
    throw err;
  }
  return {
    emulator,
    sidecar,
    async close() {
      await sidecar.stop('SIGKILL').catch(() => undefined);
      if (!o.sharedEmulator) await emulator.close();
    },
  };
}

/** Polls until `fn` returns something truthy; fails naming `what` after `timeoutMs`. */
export async function waitUntil<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 30_000, everyMs = 50): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** What a poller saw: every status, and the failures with a short body. */
export interface PollResult {
  requests: number;
  ok: number;
  failures: { status: number; body: string }[];
  tokens: Set<string>;
}

/**
 * Calls the App Service flavour for `resource` in a loop (keep-alive) until stopped, as an app
 * would while a fault lasts. A connection error counts as a failure with status 0.
 */
export function pollEndpoint(sp: SidecarProcess, resource = STORAGE, everyMs = 20): { stop(waitFor?: string): Promise<PollResult> } {
  const result: PollResult = { requests: 0, ok: 0, failures: [], tokens: new Set() };
  let running = true;
  const loop = (async () => {
    while (running) {
      result.requests++;
      try {
        const r = await fetch(`${sp.endpoint}/msi/token?api-version=2019-08-01&resource=${encodeURIComponent(resource)}`, {
          headers: { 'X-IDENTITY-HEADER': sp.identityHeader },
        });
        const text = await r.text();
        if (r.status === 200) {
          result.ok++;
          result.tokens.add((JSON.parse(text) as { access_token: string }).access_token);
        } else result.failures.push({ status: r.status, body: text.slice(0, 300) });
      } catch (err) {
        result.failures.push({ status: 0, body: String(err) });
      }
      await sleep(everyMs);
    }
  })();
  return {
    /** Stops polling; with `waitFor`, first keeps polling (up to 5 s) until that token was answered. */
    async stop(waitFor?: string) {
      const until = Date.now() + 5_000;
      while (waitFor !== undefined && !result.tokens.has(waitFor) && Date.now() < until) await sleep(everyMs);
      running = false;
      await loop;
      return result;
    },
  };
}

/** The /metrics text of a sidecar. */
export async function metricsText(sp: SidecarProcess): Promise<string> {
  const r = await fetch(`${sp.health}/metrics`);
  return r.text();
}

/** Sum of the samples of `name` whose labels include `labels`; 0 when there are none. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = new Map<string, string>();
    for (const lm of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) got.set(lm[1] as string, lm[2] as string);
    if (Object.entries(labels).every(([k, v]) => got.get(k) === v)) sum += Number(m[4]);
  }
  return sum;
}

/** Waits until `/metrics` shows `name{labels}` at `atLeast` or more; returns the value. */
export async function waitForMetric(sp: SidecarProcess, name: string, labels: Record<string, string>, atLeast = 1, timeoutMs = 30_000): Promise<number> {
  return waitUntil(
    async () => {
      const v = metricValue(await metricsText(sp), name, labels);
      return v >= atLeast ? v : undefined;
    },
    `${name}${JSON.stringify(labels)} >= ${atLeast}`,
    timeoutMs,
    100,
  );
}

/** /readyz status and body. */
export async function readyz(
  sp: SidecarProcess,
): Promise<{ status: number; body: { status: string; targets: { name: string; ready: boolean; lastError?: string; fileWritten: boolean }[] } }> {
  const r = await fetch(`${sp.health}/readyz`);
  return { status: r.status, body: (await r.json()) as never };
}

/** The raw token file of a target, or undefined when it cannot be read. */
export function tokenFile(sp: SidecarProcess, name = 'storage'): string | undefined {
  try {
    return readFileSync(join(sp.tokenDir, name), 'utf8');
  } catch {
    return undefined;
  }
}

/** Exchanges answered 200 from index `from` on. */
export function successesSince(emulator: Emulator, from: number): ExchangeRecord[] {
  return emulator.exchanges.slice(from).filter((e) => e.status === 200);
}

/**
 * After a fault has cleared: waits until the emulator issued a new token and the sidecar serves
 * it, both as the file and on the endpoint. Returns the new token.
 */
export async function waitForFreshToken(pair: Pair, previous: string, timeoutMs = 30_000, name = 'storage', resource = STORAGE): Promise<string> {
  const { sidecar } = pair;
  const fresh = await waitUntil(
    () => {
      const t = tokenFile(sidecar, name);
      return t && t !== previous ? t : undefined;
    },
    `a fresh token in ${name} after the fault cleared`,
    timeoutMs,
    100,
  );
  await waitUntil(
    async () => {
      const r = await fetch(`${sidecar.endpoint}/msi/token?api-version=2019-08-01&resource=${encodeURIComponent(resource)}`, {
        headers: { 'X-IDENTITY-HEADER': sidecar.identityHeader },
      });
      if (r.status !== 200) return false;
      return ((await r.json()) as { access_token: string }).access_token !== previous;
    },
    'the endpoint to serve the fresh token',
    10_000,
    100,
  );
  return fresh;
}

/** Log lines whose message starts with `prefix`. */
export function logsWith(sp: SidecarProcess, prefix: string): Record<string, unknown>[] {
  return sp.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith(prefix));
}

/** The first refresh-failure log line with `reason`, waiting for it. */
export function waitForFailureLog(sp: SidecarProcess, reason: string, timeoutMs = 30_000): Promise<Record<string, unknown> & { msg: string }> {
  return sp.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('token refresh failed') && l.reason === reason, timeoutMs) as Promise<
    Record<string, unknown> & { msg: string }
  >;
}

/** The sidecar is still running (no crash). */
export function alive(sp: SidecarProcess): boolean {
  return sp.proc.exitCode === null && sp.proc.signalCode === null;
}

/** Runs a command without the capabilities that let root ignore file permissions. */
const WITHOUT_DAC_OVERRIDE = ['setpriv', '--bounding-set=-dac_override,-dac_read_search', '--'];

/**
 * How to run the sidecar so that file permissions apply to it. Not root: as it is. Root: under
 * setpriv without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, once a probe shows that works; else a
 * reason to skip (chmod stops nobody who keeps those capabilities).
 */
export function permissionsApply(): { wrapper: string[] } | { skip: string } {
  if (process.getuid?.() !== 0) return { wrapper: [] };
  const dir = mkdtempSync(join(tmpdir(), 'entra-perm-'));
  const probe = join(dir, 'probe');
  writeFileSync(probe, 'x', { mode: 0o000 });
  const run = (cmd: string[]): boolean => {
    try {
      execFileSync(WITHOUT_DAC_OVERRIDE[0] as string, [...WITHOUT_DAC_OVERRIDE.slice(1), ...cmd], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  try {
    if (!run(['true'])) return { skip: 'running as root, and setpriv (util-linux) cannot drop CAP_DAC_OVERRIDE here' };
    if (run(['cat', probe])) return { skip: 'running as root, and dropping CAP_DAC_OVERRIDE did not stop the read' };
    return { wrapper: WITHOUT_DAC_OVERRIDE };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
