import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { auditLog } from '../helpers/audit.js';

/** A long-running child process whose output goes to the suite's log audit and a short tail. */
export interface ManagedProcess {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** the last lines of output, for error messages */
  tail(): string;
  lines: string[];
  exited: Promise<number | null>;
  waitForLine(pred: (line: string) => boolean, timeoutMs: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test worker that ends (or is interrupted) must not leave etcd or kube-apiserver behind:
  // children are also started with PR_SET_PDEATHSIG (setpriv --pdeathsig) for a worker killed hard.
  process.on('exit', () => {
    for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  });
}

/**
 * Starts `command` with `args`; the kernel kills it if this process dies (setpriv --pdeathsig).
 *
 * @example
 * const etcd = startProcess('etcd', bins.etcd, ['--data-dir', dir]);
 */
export function startProcess(name: string, command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; keepLines?: number } = {}): ManagedProcess {
  installExitHook();
  const proc = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', command, ...args], {
    env: options.env ?? { PATH: process.env.PATH, HOME: process.env.HOME },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  const audit = auditLog(name);
  const lines: string[] = [];
  const keep = options.keepLines ?? 2000;
  const waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const onLine = (line: string) => {
    audit?.write(`${line}\n`);
    lines.push(line);
    if (lines.length > keep) lines.splice(0, lines.length - keep);
    for (const w of [...waiters]) {
      if (w.pred(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  createInterface({ input: proc.stdout! }).on('line', onLine);
  createInterface({ input: proc.stderr! }).on('line', onLine);
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code) => {
      running.delete(proc);
      resolve(code);
    });
    proc.on('error', (err) => {
      onLine(`spawn error: ${err.message}`);
      running.delete(proc);
      resolve(-1);
    });
  });
  void exited.then(() => setTimeout(() => audit?.end(), 100));
  const managed: ManagedProcess = {
    name,
    proc,
    pid: proc.pid ?? -1,
    lines,
    tail: () => lines.slice(-15).join('\n'),
    exited,
    waitForLine(pred, timeoutMs) {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${name}: line not seen within ${timeoutMs} ms; last output:\n${managed.tail()}`)), timeoutMs);
        waiters.push({
          pred,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(t);
          reject(new Error(`${name} exited (${code}) before the line; last output:\n${managed.tail()}`));
        });
      });
    },
    async stop(graceMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
  return managed;
}

/** A TCP port free on 127.0.0.1 right now (the kernel's choice for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}
