// The benchmark suite (issue 6): every row measured side by side with its baseline in the same
// run, ratios and medians, a table on stdout and bench/results.json.
//
//   npm run bench                      full run (several runs per noisy row), writes bench/results.json
//   npm run bench -- --quick           fewer, shorter runs (< 2 min); CI uses it to prove the rows run
//   node bench/run.mjs --only 1,2      some rows only;  --runs N  more runs per noisy row;  --out FILE
//
// Exit code: 1 when a row could not run, when 1 000 concurrent first requests cost other than
// exactly one exchange (row 2), or when the sidecar loads @kubernetes/client-node. Targets that
// are missed are reported in the table (they are measurements, not CI gates).
import { execFileSync, spawnSync } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, BUILD, REPO } from './lib/paths.mjs';
import { INJECTED_NODE_OPTIONS } from './lib/sidecar.mjs';
import { printTable } from './lib/table.mjs';

const ROWS = [
  { key: 'audit', file: 'module-audit.mjs', title: 'module audit: no @kubernetes/client-node in the sidecar' },
  { key: '2', file: '2-coalescing.mjs', title: 'row 2: request coalescing' },
  { key: '1', file: '1-endpoint-throughput.mjs', title: 'row 1: endpoint throughput' },
  { key: '3', file: '3-5-idle-footprint.mjs', title: 'rows 3 and 5: idle RSS and CPU' },
  { key: '3c', file: '3c-module-memory.mjs', title: 'row 3c: resident memory by module' },
  { key: '4', file: '4-memory-growth.mjs', title: 'row 4: memory growth under load' },
  { key: '6', file: '6-cold-start.mjs', title: 'row 6: cold start' },
  { key: '7', file: '7-webhook.mjs', title: 'row 7: webhook admission' },
  { key: '8', file: '8-fleet.mjs', title: 'row 8: fleet refresh load' },
  { key: '9', file: '9-refresh-cpu.mjs', title: 'row 9: CPU per refresh' },
  { key: '10', file: '10-first-token.mjs', title: 'row 10: time to first token per language (app process start → token)' },
];
const ALIASES = { 5: '3', '3b': 'audit' };

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    runs: { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});
const quick = values.quick;
const runs = Math.max(1, Number(values.runs) || 3);
const only = values.only ? new Set(values.only.split(',').map((s) => ALIASES[s.trim()] ?? s.trim())) : undefined;
const out = values.out ?? (quick ? join(os.tmpdir(), 'entra-sidecar-bench-quick.json') : join(BENCH_DIR, 'results.json'));
const log = (line) => process.stdout.write(`${line}\n`);

const started = new Date();
const gitAtStart = git();
const loadAtStart = os.loadavg();
log(
  `entra-sidecar bench (${quick ? 'quick' : 'full'}${quick ? '' : `, ${runs} runs per noisy row`}); load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`,
);

const lines = [];
const assertions = [];
const failures = [];
const timings = {};
for (const row of ROWS) {
  if (only && !only.has(row.key)) continue;
  log(`\n${row.title}`);
  const t0 = performance.now();
  try {
    const m = await import(`./rows/${row.file}`);
    const result = await m.run({ quick, runs, log });
    if (result.skipped) {
      log(`  skipped: ${result.skipped}`);
      lines.push({ id: row.key, what: row.title, figure: null, baseline: null, ratio: null, target: null, pass: null, details: { skipped: result.skipped } });
    }
    lines.push(...(result.lines ?? []));
    if (result.asserted) assertions.push(result.asserted);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`  FAILED TO RUN: ${message}`);
    failures.push({ row: row.key, error: message });
    lines.push({ id: row.key, what: row.title, figure: null, baseline: null, ratio: null, target: null, pass: false, details: { error: message } });
  }
  timings[row.key] = Math.round((performance.now() - t0) / 100) / 10;
}

const loadAtEnd = os.loadavg();
log('');
printTable(lines, log);
for (const a of assertions) log(`${a.pass ? 'ok  ' : 'FAIL'} ${a.name}: ${a.detail}`);
for (const f of failures) log(`FAIL row ${f.row} could not run: ${f.error}`);

const results = {
  mode: quick ? 'quick' : 'full',
  runsPerNoisyRow: quick ? 1 : runs,
  startedAt: started.toISOString(),
  wallSeconds: Math.round((Date.now() - started.getTime()) / 1000),
  rowSeconds: timings,
  machine: machine(),
  loadAverage: { atStart: loadAtStart.map(round2), atEnd: loadAtEnd.map(round2) },
  git: gitAtStart,
  build: process.env.BENCH_DIST ? BUILD : 'a snapshot of dist/ taken at start',
  sidecarNodeOptions: process.env.BENCH_SIDECAR_NODE_OPTIONS ?? INJECTED_NODE_OPTIONS,
  rows: lines,
  assertions,
  failures,
};
writeFileSync(`${out}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
renameSync(`${out}.tmp`, out);
log(`\nresults: ${out} (${results.wallSeconds} s)`);
process.exitCode = failures.length > 0 || assertions.some((a) => !a.pass) ? 1 : 0;
// children are stopped by every row; anything left (a hung socket) must not keep the run alive
setTimeout(() => process.exit(process.exitCode), 2_000).unref();

function machine() {
  const cpus = os.cpus();
  const v = spawnSync('/usr/sbin/nginx', ['-v'], { encoding: 'utf8' });
  const nginx = v.status === 0 ? `${v.stderr}${v.stdout}`.trim() : null;
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    nginx: nginx?.replace(/^nginx version: /, '') ?? null,
    note: 'shared machine: other work ran at the same time; compare ratios, not absolute figures',
  };
}

function git() {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO, encoding: 'utf8' }).trim() !== '';
    return { commit, srcDirty: dirty };
  } catch {
    return null;
  }
}

function round2(x) {
  return Math.round(x * 100) / 100;
}
