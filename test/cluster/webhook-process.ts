import { spawn, type ChildProcess } from 'node:child_process';
import { watchChild } from '../helpers/process.js';
import { CLI } from '../helpers/sidecar.js';

/** `node dist/cli.js webhook` as a process, the way the chart's Deployment runs it. */
export interface WebhookProcess {
  proc: ChildProcess;
  port: number;
  healthPort: number;
  logs: Record<string, unknown>[];
  stderr: string[];
  exited: Promise<number | null>;
  waitForLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  metrics(): Promise<string>;
  stop(): Promise<number | null>;
}

/**
 * Replaces the listen addresses of a container's args with loopback ones (port 0: the kernel picks),
 * keeping every other flag exactly as the chart rendered it.
 */
export function loopbackArgs(args: string[], replace: Record<string, string> = {}): string[] {
  const out = args.map((a) => {
    const m = /^--([a-z-]+)=/.exec(a);
    if (m?.[1] === 'listen' || m?.[1] === 'health-listen') return `--${m[1]}=127.0.0.1:0`;
    if (m && replace[m[1] as string] !== undefined) return `--${m[1]}=${replace[m[1] as string]}`;
    return a;
  });
  return out;
}

/**
 * Starts the webhook with `args` (starting with `webhook`) and `KUBECONFIG`; resolves when it logs
 * "webhook ready" (self-managed TLS: once its Secret and caBundle are in place).
 */
export async function startWebhookProcess(
  args: string[],
  kubeconfig: string,
  options: { env?: Record<string, string>; readyTimeoutMs?: number; name?: string } = {},
): Promise<WebhookProcess> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, KUBECONFIG: kubeconfig, NODE_ENV: 'production', ...(options.env ?? {}) };
  const proc = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const child = watchChild(proc, { name: options.name ?? 'webhook' });
  const { logs, stderr, exited } = child;
  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 30_000) => child.waitForLog(pred, timeoutMs);
  const stop = () => child.stop({ graceMs: 10_000 });
  let ready: Record<string, unknown>;
  try {
    ready = await waitForLog((l) => l.msg === 'webhook ready', options.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const port = Number(/:(\d+)$/.exec(String(ready.listen))?.[1]);
  const healthPort = Number(/:(\d+)$/.exec(String(ready.health))?.[1]);
  return {
    proc,
    port,
    healthPort,
    logs,
    stderr,
    exited,
    waitForLog,
    metrics: async () => (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text(),
    stop,
  };
}
