import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchChild } from '../helpers/process.js';

export interface RuncContainer {
  id: string;
  proc: ChildProcess;
  /** every stdout line, parsed as JSON where it is JSON */
  logs: Record<string, unknown>[];
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** sends `signal` to the container's process 1 (through runc, as kubelet's runtime does) and waits for the exit */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** removes the container and its bundle (after a failure too) */
  remove(): void;
}

/**
 * `runc run` of a bundle whose config.json is `config`, in the foreground: runc passes its stdio to
 * the container's process and forwards signals to it, and exits with the container's exit code.
 */
export function runContainer(name: string, config: Record<string, unknown>): RuncContainer {
  const bundle = mkdtempSync(join(tmpdir(), 'entra-bundle-'));
  chmodSync(bundle, 0o700);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config, null, 2));
  const id = `entra-test-${name}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const proc = spawn('runc', ['run', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'] });
  const child = watchChild(proc, { name: `runc-${name}` });
  const { logs, stdout, stderr, exited } = child;
  const c: RuncContainer = {
    id,
    proc,
    logs,
    stdout,
    stderr,
    exited,
    waitForLog: (pred, timeoutMs = 30_000) => child.waitForLog(pred, timeoutMs),
    // through runc, as kubelet's runtime does; kubelet's grace period, then SIGKILL
    stop: (signal: NodeJS.Signals = 'SIGTERM') =>
      child.stop({ signal, graceMs: 10_000, kill: (s) => spawnSync('runc', ['kill', id, s.replace(/^SIG/, '')], { encoding: 'utf8' }) }),
    remove() {
      if (proc.exitCode === null && proc.signalCode === null) spawnSync('runc', ['kill', id, 'KILL']);
      spawnSync('runc', ['delete', '--force', id]);
      rmSync(bundle, { recursive: true, force: true });
    },
  };
  return c;
}

/** Runs a container to completion; returns its exit code and output. */
export async function runToExit(
  name: string,
  config: Record<string, unknown>,
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string[]; stderr: string[]; logs: Record<string, unknown>[] }> {
  const c = runContainer(name, config);
  const timer = setTimeout(() => spawnSync('runc', ['kill', c.id, 'KILL']), timeoutMs);
  try {
    const code = await c.exited;
    return { code, stdout: c.stdout, stderr: c.stderr, logs: c.logs };
  } finally {
    clearTimeout(timer);
    c.remove();
  }
}
