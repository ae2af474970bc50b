import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { auditLog } from './audit.js';

/** A JSON log line (or `{ unparsed: line }` for a line that is not JSON). */
export type LogLine = Record<string, unknown>;

/**
 * A child process's output, line by line: every line goes to the suite's log audit, is kept for
 * assertions and error messages, and wakes whoever waits for it.
 */
export interface WatchedChild {
  proc: ChildProcess;
  /** every line of stdout and stderr, in arrival order */
  lines: string[];
  stdout: string[];
  stderr: string[];
  /** the lines of the JSON-log streams (`json`), parsed */
  logs: LogLine[];
  /** resolves with the exit code (null after a signal; -1 when it could not be spawned) */
  exited: Promise<number | null>;
  /** the last `n` lines, for error messages */
  tail(n?: number): string;
  /** resolves with the first line (seen so far or later) matching `pred`; rejects after `timeoutMs` or when the child exits first */
  waitForLine(pred: (line: string) => boolean, timeoutMs: number): Promise<string>;
  /** waitForLine for the parsed JSON log lines */
  waitForLog(pred: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine>;
  /**
   * Sends `signal` (default SIGTERM) and SIGKILL after `graceMs` (default 10 s), through `kill`
   * (default: to the child itself); resolves with the exit code. Does nothing once it has exited.
   */
  stop(options?: { signal?: NodeJS.Signals; graceMs?: number; kill?: (signal: NodeJS.Signals) => void }): Promise<number | null>;
}

export interface WatchOptions {
  /** names the process in error messages and in the audit log's file name */
  name: string;
  /** the streams whose lines are JSON logs (default: stdout) */
  json?: 'stdout' | 'both' | 'none';
  /** keep at most this many lines in each of lines/stdout/stderr/logs (default: all) */
  keepLines?: number;
  /** lines of output in error messages (default 15) */
  tailLines?: number;
}

/**
 * Watches a spawned child whose stdout and stderr are pipes.
 *
 * @example
 * const child = watchChild(spawn(process.execPath, [CLI, 'sidecar'], { env, stdio: ['ignore', 'pipe', 'pipe'] }), { name: 'sidecar' });
 * await child.waitForLog((l) => l.msg === 'sidecar started', 20_000);
 */
export function watchChild(proc: ChildProcess, options: WatchOptions): WatchedChild {
  const { name } = options;
  const json = options.json ?? 'stdout';
  const keep = options.keepLines ?? Number.POSITIVE_INFINITY;
  const audit = auditLog(name);
  const lines: string[] = [];
  const stdout: string[] = [];
  const stderr: string[] = [];
  const logs: LogLine[] = [];
  const lineWaiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const logWaiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  const push = <T>(into: T[], item: T) => {
    into.push(item);
    if (into.length > keep) into.splice(0, into.length - keep);
  };
  const wake = <T>(waiters: { pred: (l: T) => boolean; resolve: (l: T) => void }[], item: T) => {
    for (const w of [...waiters]) {
      if (w.pred(item)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(item);
      }
    }
  };
  const onLine = (stream: 'stdout' | 'stderr', line: string) => {
    if (audit && !audit.writableEnded) audit.write(`${line}\n`);
    push(lines, line);
    push(stream === 'stdout' ? stdout : stderr, line);
    wake(lineWaiters, line);
    if (json === 'both' || json === stream) {
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        parsed = { unparsed: line };
      }
      push(logs, parsed);
      wake(logWaiters, parsed);
    }
  };
  if (proc.stdout) createInterface({ input: proc.stdout }).on('line', (l) => onLine('stdout', l));
  if (proc.stderr) createInterface({ input: proc.stderr }).on('line', (l) => onLine('stderr', l));
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code) => resolve(code));
    proc.on('error', (err) => {
      onLine('stderr', `spawn error: ${err.message}`);
      resolve(-1);
    });
  });
  // The audit log ends once the child's pipes have closed (every line delivered), or shortly after
  // its exit when a process it left behind still holds them.
  const endAudit = () => {
    if (audit && !audit.writableEnded) audit.end();
  };
  proc.on('close', endAudit);
  void exited.then(() => setTimeout(endAudit, 100).unref());
  const tail = (n = options.tailLines ?? 15) => lines.slice(-n).join('\n');
  const waitFor = <T>(
    seen: T[],
    waiters: { pred: (l: T) => boolean; resolve: (l: T) => void }[],
    pred: (l: T) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<T> => {
    const found = seen.find(pred);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        waiters.splice(waiters.indexOf(entry), 1);
        reject(new Error(`${name}: ${what} not seen within ${timeoutMs} ms; last output:\n${tail()}`));
      }, timeoutMs);
      const entry = {
        pred,
        resolve: (l: T) => {
          clearTimeout(t);
          resolve(l);
        },
      };
      waiters.push(entry);
      void exited.then((code) => {
        clearTimeout(t);
        reject(new Error(`${name} exited (${code}) before the ${what}; last output:\n${tail()}`));
      });
    });
  };
  return {
    proc,
    lines,
    stdout,
    stderr,
    logs,
    exited,
    tail,
    waitForLine: (pred, timeoutMs) => waitFor(lines, lineWaiters, pred, timeoutMs, 'line'),
    waitForLog: (pred, timeoutMs) => waitFor(logs, logWaiters, pred, timeoutMs, 'log line'),
    async stop({ signal = 'SIGTERM', graceMs = 10_000, kill = (s: NodeJS.Signals) => proc.kill(s) } = {}) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      kill(signal);
      const t = setTimeout(() => kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
