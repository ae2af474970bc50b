import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sidecarEnv, type Emulator } from '../../src/emulator/index.js';
import { recordSecret } from './audit.js';
import { watchChild } from './process.js';

export const CLI = join(process.cwd(), 'dist', 'cli.js');

export interface SidecarProcess {
  proc: ChildProcess;
  endpoint: string;
  health: string;
  tokenDir: string;
  identityHeader: string;
  tokenFile: string;
  /** every JSON log line so far */
  logs: Record<string, unknown>[];
  stderr: string[];
  /** resolves with the exit code */
  exited: Promise<number | null>;
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  waitReady(timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface SidecarProcessOptions {
  emulator: Emulator;
  /** name=scope targets */
  tokens?: string;
  env?: Record<string, string | undefined>;
  args?: string[];
  tokenDir?: string;
  /** projected token folder; defaults to a new one written by the emulator */
  tokenFile?: string;
  /** don't wait for the "sidecar started" line */
  noWait?: boolean;
  /** a command the sidecar runs under, e.g. `['setpriv', '--bounding-set=-dac_override', '--']`; it must exec node */
  wrapper?: string[];
}

/**
 * Runs `node dist/cli.js sidecar` against an emulator with ephemeral ports, its logs captured for
 * the assertions and for the suite's log audit.
 */
export async function startSidecarProcess(o: SidecarProcessOptions): Promise<SidecarProcess> {
  const tokenDir = o.tokenDir ?? mkdtempSync(join(tmpdir(), 'entra-tokens-'));
  const tokenFile = o.tokenFile ?? o.emulator.writeProjectedToken(mkdtempSync(join(tmpdir(), 'entra-sa-'))).path;
  const identityHeader = randomBytes(32).toString('hex');
  recordSecret(identityHeader);
  // the env of an injected sidecar (heap flags included), pointed at the emulator
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ...sidecarEnv(o.emulator, { tokenFile, tokenDir, identityHeader, tokens: o.tokens ?? 'storage=https://storage.azure.com/.default', logLevel: 'debug' }),
  };
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const argv = [...(o.wrapper ?? []), process.execPath, CLI, 'sidecar', ...(o.args ?? [])];
  const proc = spawn(argv[0] as string, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const child = watchChild(proc, { name: 'sidecar' });
  const { logs, stderr, exited } = child;
  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000) => child.waitForLog(pred, timeoutMs);
  let endpoint = '';
  let health = '';
  if (!o.noWait) {
    const started = (await waitForLog((l) => l.msg === 'sidecar started')) as { endpoint: { port: number }; health: { port: number } };
    endpoint = `http://127.0.0.1:${started.endpoint.port}`;
    health = `http://127.0.0.1:${started.health.port}`;
  }
  const sp: SidecarProcess = {
    proc,
    endpoint,
    health,
    tokenDir,
    identityHeader,
    tokenFile,
    logs,
    stderr,
    exited,
    waitForLog,
    async waitReady(timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const r = await fetch(`${sp.health}/readyz`).catch(() => undefined);
        if (r?.status === 200) return;
        if (Date.now() > until) throw new Error(`sidecar not ready within ${timeoutMs} ms: ${r ? await r.text() : 'no answer'}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    },
    stop: (signal: NodeJS.Signals = 'SIGTERM') => child.stop({ signal, graceMs: 8_000 }),
  };
  return sp;
}

/** GET the App Service flavour for a resource. */
export async function getToken(sp: SidecarProcess, resource: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${sp.endpoint}/msi/token?api-version=2019-08-01&resource=${encodeURIComponent(resource)}`, {
    headers: { 'X-IDENTITY-HEADER': sp.identityHeader, ...headers },
  });
}
