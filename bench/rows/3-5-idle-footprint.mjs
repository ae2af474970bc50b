// Rows 3 and 5: a sidecar holding 3 targets, idle, beside a bare `node` process that only keeps a
// timer, started together. Row 3: RSS of each after 30 s idle. Row 5: CPU seconds each used over
// 60 s idle (/proc/<pid>/stat utime+stime). Several pairs run side by side (they are idle, they
// do not disturb each other); the medians of the per-pair figures are reported.
import { join } from 'node:path';
import { emulator, resultLine } from '../lib/context.mjs';
import { BENCH_DIR, scratchDir } from '../lib/paths.mjs';
import { cpuSeconds, rssBytes, sleep, startProcess } from '../lib/proc.mjs';
import { startSidecar, THREE_TARGETS } from '../lib/sidecar.mjs';
import { median, MiB, ratio, round } from '../lib/stats.mjs';

export async function run(ctx) {
  const pairs = ctx.quick ? 1 : Math.max(3, ctx.runs);
  const rssAfterMs = ctx.quick ? 10_000 : 30_000;
  const cpuWindowMs = ctx.quick ? 10_000 : 60_000;
  const em = await emulator();
  const procs = [];
  try {
    const started = await Promise.all(Array.from({ length: pairs }, async (_, i) => {
      const bare = startProcess(`idle-bare-${i}`, process.execPath, [join(BENCH_DIR, 'servers', 'idle-timer.mjs')], { logDir: scratchDir(), env: { PATH: process.env.PATH } });
      procs.push(bare);
      const sidecar = await startSidecar(`idle-sidecar-${i}`, em, { tokens: THREE_TARGETS });
      procs.push(sidecar);
      await bare.waitForLine((l) => l.event === 'ready');
      return { bare, sidecar };
    }));
    // idle from here: every target held and written
    const cpu0 = started.map((p) => ({ bare: cpuSeconds(p.bare.pid), sidecar: cpuSeconds(p.sidecar.pid) }));
    const t0 = performance.now();
    await sleep(rssAfterMs);
    const rss = started.map((p) => ({ bare: rssBytes(p.bare.pid), sidecar: rssBytes(p.sidecar.pid) }));
    await sleep(Math.max(0, cpuWindowMs - (performance.now() - t0)));
    const cpu1 = started.map((p) => ({ bare: cpuSeconds(p.bare.pid), sidecar: cpuSeconds(p.sidecar.pid) }));
    const windowS = (performance.now() - t0) / 1000;
    const cpu = cpu1.map((c, i) => ({ bare: c.bare - cpu0[i].bare, sidecar: c.sidecar - cpu0[i].sidecar }));
    for (let i = 0; i < pairs; i++) {
      ctx.log(`  rows 3/5: pair ${i}: RSS sidecar ${(rss[i].sidecar / MiB).toFixed(1)} MiB, bare ${(rss[i].bare / MiB).toFixed(1)} MiB; CPU in ${windowS.toFixed(0)} s: sidecar ${cpu[i].sidecar.toFixed(2)} s, bare ${cpu[i].bare.toFixed(2)} s`);
    }
    const rssSidecar = median(rss.map((r) => r.sidecar));
    const rssBare = median(rss.map((r) => r.bare));
    const rssRatio = median(rss.map((r) => ratio(r.sidecar, r.bare)));
    const cpuSidecar = median(cpu.map((c) => c.sidecar));
    const cpuBare = median(cpu.map((c) => c.bare));
    // CPU is counted in 10 ms ticks: a ratio of medians is steadier than a median of tiny ratios
    const cpuRatio = ratio(cpuSidecar, cpuBare);
    return {
      lines: [
        resultLine({
          id: '3', what: `RSS, 3 targets held, after ${rssAfterMs / 1000} s idle`, figure: round(rssSidecar / MiB), baseline: round(rssBare / MiB), ratio: round(rssRatio),
          target: '≤ 1.6× and ≤ 64 MiB', pass: rssRatio <= 1.6 && rssSidecar <= 64 * MiB, unit: 'MiB',
          details: { pairs, sidecarMiB: rss.map((r) => round(r.sidecar / MiB)), bareMiB: rss.map((r) => round(r.bare / MiB)) },
        }),
        resultLine({
          id: '5', what: `idle CPU over ${Math.round(windowS)} s, 3 targets held`, figure: round(cpuSidecar), baseline: round(cpuBare), ratio: round(cpuRatio),
          target: '≤ 2×', pass: cpuRatio <= 2, unit: 'CPU s',
          details: { pairs, windowSeconds: round(windowS), sidecarCpuSeconds: cpu.map((c) => round(c.sidecar)), bareCpuSeconds: cpu.map((c) => round(c.bare)), tickSeconds: 0.01 },
        }),
      ],
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await em.close();
  }
}
