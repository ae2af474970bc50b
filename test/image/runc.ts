import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { auditLog } from '../helpers/audit.js';

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
  const audit = auditLog(`runc-${name}`);
  const logs: Record<string, unknown>[] = [];
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    audit?.write(`${line}\n`);
    stdout.push(line);
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      parsed = { unparsed: line };
    }
    logs.push(parsed);
    for (const w of [...waiters]) {
      if (w.pred(parsed)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  });
  createInterface({ input: proc.stderr! }).on('line', (line) => {
    audit?.write(`${line}\n`);
    stderr.push(line);
  });
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      audit?.end();
      resolve(code);
    }),
  );
  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<Record<string, unknown>> => {
    const found = logs.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`log line not seen within ${timeoutMs} ms; stderr: ${stderr.join(' | ')}; last logs: ${stdout.slice(-5).join(' | ')}`)), timeoutMs);
      waiters.push({ pred, resolve: (l) => { clearTimeout(t); resolve(l); } });
      void exited.then((code) => {
        clearTimeout(t);
        reject(new Error(`container exited (${code}) before the log line; stderr: ${stderr.join(' | ')}; stdout: ${stdout.slice(-5).join(' | ')}`));
      });
    });
  };
  const c: RuncContainer = {
    id, proc, logs, stdout, stderr, exited, waitForLog,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      spawnSync('runc', ['kill', id, signal.replace(/^SIG/, '')], { encoding: 'utf8' });
      // kubelet's grace period, then SIGKILL
      const t = setTimeout(() => spawnSync('runc', ['kill', id, 'KILL']), 10_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
    remove() {
      if (proc.exitCode === null && proc.signalCode === null) spawnSync('runc', ['kill', id, 'KILL']);
      spawnSync('runc', ['delete', '--force', id]);
      rmSync(bundle, { recursive: true, force: true });
    },
  };
  return c;
}

/** Runs a container to completion; returns its exit code and output. */
export async function runToExit(name: string, config: Record<string, unknown>, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string[]; stderr: string[]; logs: Record<string, unknown>[] }> {
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
