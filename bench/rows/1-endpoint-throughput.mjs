// Row 1: token endpoint throughput and p99, a held token, App Service flavour, at 1, 10 and 50
// connections — against a bare node:http server answering the same bytes (the runtime's floor)
// and nginx serving the same JSON as a static file (the native floor, reported only).
// Servers take turns within each run (order rotated per run) so drift hits them alike.
import { join } from 'node:path';
import { emulator, resultLine } from '../lib/context.mjs';
import { load } from '../lib/load.mjs';
import { ensureNginx, nginxVersion, startNginx } from '../lib/nginx.mjs';
import { scratchDir, BENCH_DIR } from '../lib/paths.mjs';
import { cpuSecondsPrecise, startProcess } from '../lib/proc.mjs';
import { answerFileOf, appServiceRequest, startSidecar } from '../lib/sidecar.mjs';
import { median, ratio, round } from '../lib/stats.mjs';

export const LEVELS = [1, 10, 50];
/** The steady rate at which CPU per request is compared: far below what either server takes at 10 connections. */
export const STEADY_RATE = 3_000;

export async function run(ctx) {
  const runs = ctx.quick ? 1 : ctx.runs;
  const duration = ctx.quick ? 1.5 : 6;
  const warmup = ctx.quick ? 0.5 : 1;
  const em = await emulator();
  const sidecar = await startSidecar('row1-sidecar', em);
  const servers = [];
  let bare;
  let nginx;
  let nginxNote;
  try {
    const req = appServiceRequest(sidecar);
    const { file: answerFile, answer } = await answerFileOf(sidecar, 'row1');
    const body = answer.body;
    bare = startProcess('row1-bare-http', process.execPath, [join(BENCH_DIR, 'servers', 'bare-http.mjs'), answerFile], { logDir: scratchDir() });
    const { port } = await bare.waitForLine((l) => l.event === 'ready');
    servers.push({ key: 'sidecar', url: req.url, headers: req.headers, pid: sidecar.pid });
    servers.push({
      key: 'bare',
      url: `http://127.0.0.1:${port}/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fstorage.azure.com%2F`,
      headers: req.headers,
      pid: bare.pid,
    });
    const ng = await ensureNginx(ctx.log);
    if (ng.bin) {
      nginx = await startNginx(ng.bin, body, answer.headers['content-type']);
      nginxNote = nginxVersion(ng.bin);
      servers.push({ key: 'nginx', url: nginx.url, headers: req.headers, pid: nginx.pid });
    } else nginxNote = `skipped: ${ng.skipped}`;

    const samples = {}; // samples[level][key] = [{rps,p99}]
    for (const level of LEVELS) samples[level] = Object.fromEntries(servers.map((s) => [s.key, []]));
    for (let r = 0; r < runs; r++) {
      for (const level of LEVELS) {
        const order = servers.map((_, i) => servers[(i + r + level) % servers.length]);
        for (const s of order) {
          const res = await load({ url: s.url, headers: s.headers, connections: level, duration, warmupSeconds: warmup });
          if (res.non2xx || res.errors) throw new Error(`${s.key} at ${level} connections: ${res.non2xx} non-2xx answers, ${res.errors} errors`);
          samples[level][s.key].push(res);
          ctx.log(`  row 1: ${s.key.padEnd(7)} ${String(level).padStart(2)} conn  ${Math.round(res.rps)} req/s  p99 ${res.p99.toFixed(3)} ms`);
        }
      }
    }

    // CPU per request at a steady rate, both servers well below saturation: what each request costs
    // the server itself, apart from how two processes share two cores at full load
    const cpu = { sidecar: [], bare: [] };
    for (let r = 0; r < runs; r++) {
      for (const s of r % 2 ? [servers[1], servers[0]] : [servers[0], servers[1]]) {
        await load({ url: s.url, headers: s.headers, connections: 10, duration: warmup });
        const before = cpuSecondsPrecise(s.pid);
        const res = await load({ url: s.url, headers: s.headers, connections: 10, duration, overallRate: STEADY_RATE });
        if (res.non2xx || res.errors) throw new Error(`${s.key} at ${STEADY_RATE} req/s: ${res.non2xx} non-2xx answers, ${res.errors} errors`);
        cpu[s.key].push(((cpuSecondsPrecise(s.pid) - before) * 1e6) / res.requests);
        ctx.log(`  row 1: ${s.key.padEnd(7)} steady ${STEADY_RATE} req/s  ${cpu[s.key].at(-1).toFixed(1)} CPU µs per request`);
      }
    }

    const lines = [];
    for (const level of LEVELS) {
      const s = samples[level];
      const rps = (k) => median(s[k]?.map((x) => x.rps) ?? []);
      const p99 = (k) => median(s[k]?.map((x) => x.p99) ?? []);
      // paired per-run ratios, then their median: each run's pair shares the same machine state
      const rpsRatio = median(s.sidecar.map((x, i) => ratio(x.rps, s.bare[i].rps)));
      const p99Ratio = median(s.sidecar.map((x, i) => ratio(x.p99, s.bare[i].p99)));
      const details = {
        runs,
        durationSeconds: duration,
        sidecar: s.sidecar.map((x) => ({ rps: round(x.rps), p50Ms: round(x.p50), p99Ms: round(x.p99) })),
        bare: s.bare.map((x) => ({ rps: round(x.rps), p50Ms: round(x.p50), p99Ms: round(x.p99) })),
      };
      if (s.nginx) {
        details.nginx = s.nginx.map((x) => ({ rps: round(x.rps), p50Ms: round(x.p50), p99Ms: round(x.p99) }));
        details.nginxMedianRps = round(rps('nginx'));
        details.sidecarToNginxRps = round(ratio(rps('sidecar'), rps('nginx')));
      }
      lines.push(
        resultLine({
          id: `1/${level}c rps`,
          what: `endpoint req/s, ${level} conn${level > 1 ? 's' : ''} (nginx ${s.nginx ? Math.round(rps('nginx')) : 'n/a'})`,
          figure: round(rps('sidecar')),
          baseline: round(rps('bare')),
          ratio: round(rpsRatio),
          target: '≥ 0.8×',
          pass: rpsRatio >= 0.8,
          unit: 'req/s',
          details,
        }),
      );
      lines.push(
        resultLine({
          id: `1/${level}c p99`,
          what: `endpoint p99, ${level} conn${level > 1 ? 's' : ''}`,
          figure: round(p99('sidecar')),
          baseline: round(p99('bare')),
          ratio: round(p99Ratio),
          target: '≤ 1.5×',
          pass: p99Ratio <= 1.5,
          unit: 'ms',
          details: { nginxP99Ms: s.nginx ? round(p99('nginx')) : null },
        }),
      );
    }
    const cpuRatio = median(cpu.sidecar.map((x, i) => ratio(x, cpu.bare[i])));
    lines.push(
      resultLine({
        id: '1/cpu',
        what: `endpoint CPU per request at a steady ${STEADY_RATE} req/s, 10 conns (neither server saturated)`,
        figure: round(median(cpu.sidecar)),
        baseline: round(median(cpu.bare)),
        ratio: round(cpuRatio),
        target: 'reported',
        pass: null,
        unit: 'CPU µs',
        details: { runs, sidecar: cpu.sidecar.map(round), bare: cpu.bare.map(round) },
      }),
    );
    lines.nginx = nginxNote;
    return { lines, notes: { nginx: nginxNote } };
  } finally {
    await Promise.all([sidecar.stop(), bare?.stop(), nginx?.stop()]);
    await em.close();
  }
}
