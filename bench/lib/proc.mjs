// Child processes for the benchmarks: spawn with logs to a file, read RSS and CPU from /proc,
// wait for a log line, stop cleanly.
import { spawn } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat counts in these ticks

/**
 * Spawns a process with stdout/stderr teed to `<logDir>/<name>.log`; JSON stdout lines are kept
 * for waitForLine. The caller must stop() it.
 */
export function startProcess(name, command, args, { env, logDir, cwd } = {}) {
  const proc = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = logDir ? createWriteStream(join(logDir, `${name}.log`)) : undefined;
  const lines = [];
  const waiters = [];
  const onLine = (line) => {
    log?.write(`${line}\n`);
    let parsed;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = { unparsed: line };
    }
    lines.push(parsed);
    if (lines.length > 2000) lines.splice(0, 1000);
    for (const w of [...waiters]) {
      if (w.pred(parsed)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  };
  // the log ends when both pipes are drained ('exit' may come before their last lines)
  let open = 2;
  const drained = () => {
    if (--open === 0) log?.end();
  };
  createInterface({ input: proc.stdout }).on('line', onLine).on('close', drained);
  createInterface({ input: proc.stderr })
    .on('line', (l) => onLine(l))
    .on('close', drained);
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal)));
  return {
    name,
    proc,
    pid: proc.pid,
    lines,
    exited,
    /** Resolves with the first stdout/stderr line (parsed JSON, else {unparsed}) matching pred. */
    waitForLine(pred, timeoutMs = 30_000) {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`${name}: expected log line not seen within ${timeoutMs} ms; last lines: ${JSON.stringify(lines.slice(-3))}`)),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(t);
          reject(new Error(`${name} exited (${code}) early; last lines: ${JSON.stringify(lines.slice(-3))}`));
        });
      });
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Resident set size of a process, in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid) {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** User + system CPU time a process has used so far, in seconds (/proc/<pid>/stat). */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name is in parentheses and may contain spaces: fields start after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLK_TCK;
}

/**
 * CPU time of every live thread of a process, in seconds, with nanosecond resolution (the first
 * field of /proc/<pid>/task/<tid>/schedstat): idle processes use a few clock ticks a minute, too
 * few for /proc/<pid>/stat's 10 ms ticks to compare.
 */
export function cpuSecondsPrecise(pid) {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1e9;
}

/** Sleeps. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
