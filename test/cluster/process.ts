import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { watchChild } from '../helpers/process.js';

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
export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; keepLines?: number } = {},
): ManagedProcess {
  installExitHook();
  const proc = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', command, ...args], {
    env: options.env ?? { PATH: process.env.PATH, HOME: process.env.HOME },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  const child = watchChild(proc, { name, json: 'none', keepLines: options.keepLines ?? 2000 });
  void child.exited.then(() => running.delete(proc));
  return {
    name,
    proc,
    pid: proc.pid ?? -1,
    lines: child.lines,
    tail: () => child.tail(),
    exited: child.exited,
    waitForLine: (pred, timeoutMs) => child.waitForLine(pred, timeoutMs),
    async stop(graceMs = 10_000) {
      await child.stop({ graceMs });
    },
  };
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
