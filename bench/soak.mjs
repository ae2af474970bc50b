#!/usr/bin/env node
// Soak: a sidecar process under sustained endpoint load against the in-process emulator, with
// 10 s access tokens, the service-account token rotated every 30 s and a 30 s Entra outage (503)
// every 3 minutes, while a second reader loops over the token files.
//
//   npm run soak -- --minutes 10      (default 10; runs shorter than 10 minutes scale the outage
//                                      schedule by minutes/10 so they still see outages)
//
// A 90 s warm-up under the same load comes first (the process reaches its steady footprint in
// about that time); RSS growth is measured over the minutes that follow it. Every request and
// read of the warm-up is checked too.
//
// Fails (exit 1) on: any failed request for a held resource, any partial token-file read, RSS
// growth of 10 % or more, an outage not recovered within the 60 s backoff cap, or a crash.
//
// "Held": a request fails if it gets anything but a token while the sidecar holds a valid one
// for it. An outage longer than the token lifetime (30 s vs 10 s) makes tokens expire; a 503
// with Retry-After then is the documented answer, counted as "unavailable" — but only inside an
// outage window (start → end + 60 s); anywhere else it is a failure.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sidecarEnv, startEmulator } from '../dist/emulator/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');

// ---- settings -------------------------------------------------------------------------------
function parseArgs(argv) {
  const out = { minutes: 10, rps: 300, outageEvery: undefined, outageSeconds: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--minutes') out.minutes = Number(value());
    else if (flag === '--rps') out.rps = Number(value());
    else if (flag === '--outage-every') out.outageEvery = Number(value());
    else if (flag === '--outage-seconds') out.outageSeconds = Number(value());
    else if (flag === '--help' || flag === '-h') {
      process.stdout.write(
        'Usage: node bench/soak.mjs [--minutes N (default 10)] [--rps N (default 300)] [--outage-every S (default 180)] [--outage-seconds S (default 30)]\n',
      );
      process.exit(0);
    } else {
      process.stderr.write(`soak: unknown argument "${argv[i]}": use --minutes N and --rps N\n`);
      process.exit(2);
    }
  }
  if (!(out.minutes > 0)) die('--minutes must be a positive number');
  if (!(out.rps > 0)) die('--rps must be a positive number');
  return out;
}
function die(msg) {
  process.stderr.write(`soak: ${msg}\n`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
const DURATION_MS = Math.round(opts.minutes * 60_000);
const TOKEN_LIFETIME_S = 10;
const ROTATE_MS = 30_000;
const SCALE = opts.outageEvery === undefined && opts.outageSeconds === undefined ? Math.min(1, opts.minutes / 10) : 1;
const OUTAGE_EVERY_MS = Math.round((opts.outageEvery ?? 180) * 1000 * SCALE);
const OUTAGE_MS = Math.round((opts.outageSeconds ?? 30) * 1000 * SCALE);
const BACKOFF_CAP_MS = 60_000;
const WORKERS = 8;
// the process reaches its steady memory footprint under load in about a minute and a half (JIT,
// heap sizing); the warm-up runs the same load and checks, and the measured minutes follow it
const WARMUP_MS = 90_000;
const RESOURCES = [
  { resource: 'https://storage.azure.com/', flavour: 'app_service' }, // a configured target
  { resource: 'https://management.azure.com/', flavour: 'app_service' }, // on demand
  { resource: 'https://vault.azure.net', flavour: 'imds' }, // on demand, IMDS flavour
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Date.now();

// ---- emulator and sidecar -------------------------------------------------------------------
const scratch = mkdtempSync(join(tmpdir(), 'entra-soak-'));
const emulator = await startEmulator({ tokenLifetimeSec: TOKEN_LIFETIME_S, historyLimit: 200_000 });
const saDir = join(scratch, 'sa');
const stopRotation = emulator.startRotation(saDir, ROTATE_MS);
const tokenDir = join(scratch, 'tokens');
const identityHeader = randomBytes(32).toString('hex');
const logPath = join(scratch, 'sidecar.log');
const logFile = createWriteStream(logPath);

// diagnostics: node flags for the sidecar, e.g. SOAK_SIDECAR_NODE_ARGS=--trace-gc (lines land in its log)
const nodeArgs = (process.env.SOAK_SIDECAR_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const sidecar = spawn(process.execPath, [...nodeArgs, CLI, 'sidecar'], {
  // the env of an injected sidecar, runtime flags included, pointed at the emulator
  env: {
    PATH: process.env.PATH,
    ...sidecarEnv(emulator, { tokenFile: join(saDir, 'token'), tokenDir, identityHeader, tokens: 'storage=https://storage.azure.com/.default' }),
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let crashed;
let stopping = false;
sidecar.on('exit', (code, signal) => {
  if (!stopping) crashed = `sidecar exited during the soak (code ${code}, signal ${signal})`;
});
sidecar.stderr.pipe(logFile);
const started = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`sidecar did not start within 30 s; see ${logPath}`)), 30_000);
  sidecar.once('exit', (code) => reject(new Error(`sidecar exited (code ${code}) before it started; see ${logPath}`)));
  createInterface({ input: sidecar.stdout }).on('line', (line) => {
    logFile.write(`${line}\n`);
    if (!line.includes('"sidecar started"')) return;
    clearTimeout(t);
    resolve(JSON.parse(line));
  });
});
const endpointPort = started.endpoint.port;
const healthUrl = `http://127.0.0.1:${started.health.port}`;

for (const deadline = now() + 30_000; ; await sleep(100)) {
  const r = await fetch(`${healthUrl}/readyz`).catch(() => undefined);
  if (r?.status === 200) break;
  if (now() > deadline) throw new Error('sidecar not ready within 30 s');
}

// ---- outage schedule --------------------------------------------------------------------------
const tStart = now();
const t0 = tStart + WARMUP_MS; // the measured period starts after the warm-up
const tEnd = t0 + DURATION_MS;
const outages = []; // { start, end, recoveredAt }
const outageTimers = [];
for (let at = OUTAGE_EVERY_MS; at + OUTAGE_MS <= DURATION_MS; at += OUTAGE_EVERY_MS) {
  outageTimers.push(
    setTimeout(() => {
      const o = { start: now(), end: now() + OUTAGE_MS, recoveredAt: undefined, exchangesAtStart: emulator.exchanges.length };
      outages.push(o);
      emulator.inject({ kind: 'status', status: 503 }, { durationMs: OUTAGE_MS });
    }, WARMUP_MS + at),
  );
}
const inOutageWindow = (t) => outages.some((o) => t >= o.start && t <= o.end + BACKOFF_CAP_MS);

// ---- load -------------------------------------------------------------------------------------
// keep-alive as SDKs do; idle sockets are closed after 4 s, before the sidecar's 5 s keep-alive
// timeout, so the load never reuses a socket the server is closing (the HTTP/1.1 race that ends
// in ECONNRESET; clients that honour the server's "Keep-Alive: timeout=5" header avoid it too)
const agent = new http.Agent({ keepAlive: true, maxSockets: WORKERS, scheduling: 'fifo', timeout: 4_000 });
const stats = { requests: 0, ok: 0, failures: 0, unavailable: 0, failureSamples: [], byStatus: {} };
const validUntil = new Map(); // resource -> ms

function request(r) {
  const path =
    r.flavour === 'imds'
      ? `/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent(r.resource)}`
      : `/msi/token?api-version=2019-08-01&resource=${encodeURIComponent(r.resource)}`;
  const headers = r.flavour === 'imds' ? { Metadata: 'true' } : { 'X-IDENTITY-HEADER': identityHeader };
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: endpointPort, path, headers, agent, timeout: 15_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => resolve({ status: 0, body: String(e) }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', (e) => resolve({ status: 0, body: e.code ?? String(e) }));
  });
}

async function worker(i) {
  const interval = (WORKERS / opts.rps) * 1000;
  let next = now();
  for (let n = i; now() < tEnd && !crashed; n++) {
    const r = RESOURCES[n % RESOURCES.length];
    const sent = now();
    const a = await request(r);
    stats.requests++;
    stats.byStatus[a.status] = (stats.byStatus[a.status] ?? 0) + 1;
    if (a.status === 200) {
      stats.ok++;
      const expiresOn = Number(JSON.parse(a.body).expires_on) * 1000;
      validUntil.set(r.resource, Math.max(validUntil.get(r.resource) ?? 0, expiresOn));
    } else {
      const held = (validUntil.get(r.resource) ?? 0) - sent > 1_000;
      if (a.status === 503 && !held && inOutageWindow(sent)) stats.unavailable++;
      else {
        stats.failures++;
        if (stats.failureSamples.length < 10)
          stats.failureSamples.push({
            atS: Math.round((sent - t0) / 1000),
            resource: r.resource,
            status: a.status,
            held,
            body: a.body.replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, '[token]').slice(0, 200),
          });
      }
    }
    next += interval;
    const wait = next - now();
    if (wait > 0) await sleep(wait);
    else next = now();
  }
}

// ---- a second reader of the token files -----------------------------------------------------------
const reads = { total: 0, partial: 0, samples: [] };
const JWT = /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/;
async function reader() {
  while (now() < tEnd && !crashed) {
    for (const name of ['storage', 'storage.json']) {
      let text;
      try {
        text = await readFile(join(tokenDir, name), 'utf8');
      } catch (e) {
        text = `(${e.code})`;
      }
      reads.total++;
      let whole;
      if (name.endsWith('.json')) {
        try {
          const j = JSON.parse(text);
          whole = JWT.test(j.access_token) && j.token_type === 'Bearer' && Number.isInteger(j.expires_on);
        } catch {
          whole = false;
        }
      } else whole = JWT.test(text);
      if (!whole) {
        reads.partial++;
        if (reads.samples.length < 5) reads.samples.push(`${name}: ${text.length} bytes, starts ${JSON.stringify(text.slice(0, 20))}`);
      }
    }
    await sleep(2);
  }
}

// ---- memory ---------------------------------------------------------------------------------------
const rss = []; // [ms since t0 (negative during the warm-up), bytes]
const heap = []; // [ms since t0, V8 heap in use, V8 heap committed, external (Buffers)]
function sampleRss() {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${sidecar.pid}/status`, 'utf8'))[1]);
    rss.push([now() - t0, kb * 1024]);
  } catch {
    // not Linux, or the process is gone
  }
}
async function sampleHeap() {
  const text = await fetch(`${healthUrl}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  const value = (name) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1]);
  if (text) heap.push([now() - t0, value('nodejs_heap_size_used_bytes'), value('nodejs_heap_size_total_bytes'), value('nodejs_external_memory_bytes')]);
}
const rssTimer = setInterval(() => {
  sampleRss();
  void sampleHeap();
}, 2_000);

// ---- recovery watch: a fresh token after each outage ----------------------------------------------
const STORAGE_SCOPE = 'https://storage.azure.com/.default';
const recoveryTimer = setInterval(() => {
  for (const o of outages) {
    if (o.recoveredAt !== undefined || now() < o.end) continue;
    const ok = emulator.exchanges.slice(o.exchangesAtStart).find((e) => e.scope === STORAGE_SCOPE && e.status === 200 && !e.error && e.at >= o.end);
    if (ok) o.recoveredAt = ok.at;
  }
}, 250);

// ---- run ------------------------------------------------------------------------------------------
const progress = setInterval(() => {
  const at = now() - t0;
  process.stdout.write(
    `  ${at < 0 ? `warm-up ${Math.round((now() - tStart) / 1000)} s` : `${Math.round(at / 1000)} s`}: ${stats.requests} requests, ${stats.failures} failures, ${reads.partial}/${reads.total} partial reads, ${outages.length} outages\n`,
  );
}, 30_000);
process.stdout.write(
  `soak: ${WARMUP_MS / 1000} s warm-up, then ${opts.minutes} min measured; ~${opts.rps} rps on ${WORKERS} keep-alive connections, ${TOKEN_LIFETIME_S} s tokens, SA token rotated every ${ROTATE_MS / 1000} s, ${OUTAGE_MS / 1000} s outage every ${OUTAGE_EVERY_MS / 1000} s${SCALE < 1 ? ` (outage schedule scaled by ${SCALE} for a run under 10 minutes)` : ''}\n`,
);
sampleRss();
await Promise.all([...Array.from({ length: WORKERS }, (_, i) => worker(i)), reader()]);
sampleRss();

// ---- figures -------------------------------------------------------------------------------------
clearInterval(progress);
clearInterval(rssTimer);
clearInterval(recoveryTimer);
for (const t of outageTimers) clearTimeout(t);
const elapsedS = (now() - tStart) / 1000;

const metrics = await (await fetch(`${healthUrl}/metrics`)).text().catch(() => '');
stopping = true;
sidecar.kill('SIGTERM');
const exitCode = await new Promise((r) => {
  if (sidecar.exitCode !== null) r(sidecar.exitCode);
  sidecar.on('exit', (c) => r(c));
  setTimeout(() => {
    sidecar.kill('SIGKILL');
    r(null);
  }, 8_000).unref();
});
stopRotation();

const exchanges = emulator.exchanges;
const exOk = exchanges.filter((e) => e.status === 200 && !e.error).length;
const jtis = new Set(exchanges.map((e) => e.jti).filter(Boolean)).size;

// RSS: median over the first third of the measured period vs the last third. The footprint saws
// up and down by about 10 % as the garbage collector works, so windows this long (each spans
// several cycles) compare levels, not a peak with a trough.
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const third = DURATION_MS / 3;
const rssStart = median(rss.filter(([t]) => t >= 0 && t < third).map(([, b]) => b));
const rssEnd = median(rss.filter(([t]) => t >= DURATION_MS - third).map(([, b]) => b));
const rssMax = Math.max(...rss.filter(([t]) => t >= 0).map(([, b]) => b));
const heapAt = (i, first) => median(heap.filter(([t]) => (first ? t >= 0 && t < third : t >= DURATION_MS - third)).map((row) => row[i]));
// RSS every tenth of the measured period, to tell a level from a trend
const timeline = Array.from({ length: 10 }, (_, i) => {
  const from = (DURATION_MS * i) / 10;
  return median(rss.filter(([t]) => t >= from && t < from + DURATION_MS / 10).map(([, b]) => b));
});
const growth = ((rssEnd - rssStart) / rssStart) * 100;
const mib = (b) => `${(b / 1048576).toFixed(1)} MiB`;

const notRecovered = outages.filter((o) => (o.recoveredAt === undefined ? o.end + BACKOFF_CAP_MS < tEnd : o.recoveredAt - o.end > BACKOFF_CAP_MS));
const recoveries = outages.map((o) => (o.recoveredAt === undefined ? 'pending at the end' : `${((o.recoveredAt - o.end) / 1000).toFixed(1)} s`));
const metric = (name, labels) => {
  let sum = 0;
  for (const line of metrics.split('\n')) if (line.startsWith(`${name}{`) && labels.every((l) => line.includes(l))) sum += Number(line.split(' ').pop());
  return sum;
};

const problems = [];
if (crashed) problems.push(crashed);
if (stats.failures > 0) problems.push(`${stats.failures} failed requests: ${JSON.stringify(stats.failureSamples)}`);
if (reads.partial > 0) problems.push(`${reads.partial} partial token-file reads: ${reads.samples.join('; ')}`);
if (!(growth < 10)) problems.push(`RSS growth ${growth.toFixed(1)} % (limit 10 %)`);
if (notRecovered.length > 0) problems.push(`${notRecovered.length} outage(s) without a fresh token within ${BACKOFF_CAP_MS / 1000} s`);
if (exitCode !== 0) problems.push(`sidecar exit code ${exitCode} on SIGTERM`);
if (stats.ok === 0) problems.push('no request succeeded');
const lines = [
  '',
  `soak figures (${elapsedS.toFixed(0)} s: ${WARMUP_MS / 1000} s warm-up + ${(DURATION_MS / 1000).toFixed(0)} s measured; counts cover both)`,
  `  requests            ${stats.requests} (${(stats.requests / elapsedS).toFixed(0)} rps), by status ${JSON.stringify(stats.byStatus)}`,
  `  failures            ${stats.failures} (non-200 while a valid token was held, or outside an outage window)`,
  `  unavailable         ${stats.unavailable} (503 + Retry-After during an outage, after the held token expired)`,
  `  token-file reads    ${reads.total}, partial ${reads.partial}`,
  `  exchanges           ${exchanges.length} (${exOk} issued, ${exchanges.length - exOk} failed by the outages), ${jtis} service-account tokens seen`,
  `  refreshes (metrics) success ${metric('entra_sidecar_refreshes_total', ['result="success"'])}, failure ${metric('entra_sidecar_refreshes_total', ['result="failure"'])}`,
  `  outages             ${outages.length} × ${OUTAGE_MS / 1000} s; fresh token after each: ${recoveries.join(', ') || 'none scheduled'}`,
  `  sidecar RSS         start ${mib(rssStart)}, end ${mib(rssEnd)} (medians of the first and last third), max ${mib(rssMax)}, growth ${growth.toFixed(1)} %`,
  `  RSS by tenth        ${timeline.map((b) => (b / 1048576).toFixed(1)).join(' ')} MiB`,
  `  V8 heap             in use ${mib(heapAt(1, true))} → ${mib(heapAt(1, false))}, committed ${mib(heapAt(2, true))} → ${mib(heapAt(2, false))}; external ${mib(heapAt(3, true))} → ${mib(heapAt(3, false))}`,
  `  shutdown            exit code ${exitCode}`,
  `  sidecar log         ${problems.length > 0 || nodeArgs.length > 0 ? logPath : '(removed: the run passed)'}`,
];
lines.push(problems.length === 0 ? 'soak: PASS' : `soak: FAIL\n  - ${problems.join('\n  - ')}`);
process.stdout.write(`${lines.join('\n')}\n`);

await emulator.close();
agent.destroy();
logFile.end();
if (problems.length === 0 && nodeArgs.length === 0) rmSync(scratch, { recursive: true, force: true });
process.exit(problems.length === 0 ? 0 : 1);
