// Rows 3 and 5: a sidecar holding 3 targets, idle, beside a bare `node` process that only keeps a
// timer, started together. Row 3: RSS of each after 30 s idle. Row 5: CPU seconds each used over
// the next 60 s (/proc/<pid>/stat utime+stime, every thread): the steady idle cost, after the
// one-time settling that follows start-up (the CPU of the first 30 s is reported beside it).
// Several pairs run side by side (they are idle, they do not disturb each other); the medians of
// the per-pair figures are reported.
import { join } from 'node:path';
import { emulator, resultLine } from '../lib/context.mjs';
import { BENCH_DIR, scratchDir } from '../lib/paths.mjs';
import { cpuSeconds, cpuSecondsPrecise, rssBytes, sleep, startProcess } from '../lib/proc.mjs';
import { startSidecar, THREE_TARGETS } from '../lib/sidecar.mjs';
import { median, MiB, ratio, round } from '../lib/stats.mjs';

export async function run(ctx) {
  const pairs = ctx.quick ? 1 : Math.max(3, ctx.runs);
  const rssAfterMs = ctx.quick ? 5_000 : 30_000;
  const cpuWindowMs = ctx.quick ? 5_000 : 60_000;
  const em = await emulator();
  const procs = [];
  try {
    const started = await Promise.all(
      Array.from({ length: pairs }, async (_, i) => {
        const bare = startProcess(`idle-bare-${i}`, process.execPath, [join(BENCH_DIR, 'servers', 'idle-timer.mjs')], {
          logDir: scratchDir(),
          env: { PATH: process.env.PATH },
        });
        procs.push(bare);
        const sidecar = await startSidecar(`idle-sidecar-${i}`, em, { tokens: THREE_TARGETS });
        procs.push(sidecar);
        await bare.waitForLine((l) => l.event === 'ready');
        return { bare, sidecar };
      }),
    );
    // idle from here: every target held and written
    const cpuStart = started.map((p) => ({ bare: cpuSeconds(p.bare.pid), sidecar: cpuSeconds(p.sidecar.pid) }));
    await sleep(rssAfterMs);
    const rss = started.map((p) => ({ bare: rssBytes(p.bare.pid), sidecar: rssBytes(p.sidecar.pid) }));
    const cpu0 = started.map((p) => ({ bare: cpuSeconds(p.bare.pid), sidecar: cpuSeconds(p.sidecar.pid) }));
    const precise0 = started.map((p) => ({ bare: cpuSecondsPrecise(p.bare.pid), sidecar: cpuSecondsPrecise(p.sidecar.pid) }));
    const t0 = performance.now();
    await sleep(cpuWindowMs);
    const precise1 = started.map((p) => ({ bare: cpuSecondsPrecise(p.bare.pid), sidecar: cpuSecondsPrecise(p.sidecar.pid) }));
    const cpu1 = started.map((p) => ({ bare: cpuSeconds(p.bare.pid), sidecar: cpuSeconds(p.sidecar.pid) }));
    const windowS = (performance.now() - t0) / 1000;
    const cpu = precise1.map((c, i) => ({ bare: c.bare - precise0[i].bare, sidecar: c.sidecar - precise0[i].sidecar }));
    const ticks = cpu1.map((c, i) => ({ bare: c.bare - cpu0[i].bare, sidecar: c.sidecar - cpu0[i].sidecar }));
    const settling = cpu0.map((c, i) => ({ bare: c.bare - cpuStart[i].bare, sidecar: c.sidecar - cpuStart[i].sidecar }));
    for (let i = 0; i < pairs; i++) {
      ctx.log(
        `  rows 3/5: pair ${i}: RSS sidecar ${(rss[i].sidecar / MiB).toFixed(1)} MiB, bare ${(rss[i].bare / MiB).toFixed(1)} MiB; CPU in ${windowS.toFixed(0)} s: sidecar ${(cpu[i].sidecar * 1000).toFixed(1)} ms, bare ${(cpu[i].bare * 1000).toFixed(1)} ms`,
      );
    }
    const rssSidecar = median(rss.map((r) => r.sidecar));
    const rssBare = median(rss.map((r) => r.bare));
    const rssRatio = median(rss.map((r) => ratio(r.sidecar, r.bare)));
    const cpuSidecar = median(cpu.map((c) => c.sidecar));
    const cpuBare = median(cpu.map((c) => c.bare));
    const cpuRatio = median(cpu.map((c) => ratio(c.sidecar, c.bare)));
    return {
      lines: [
        resultLine({
          id: '3',
          what: `RSS, 3 targets held, after ${rssAfterMs / 1000} s idle`,
          figure: round(rssSidecar / MiB),
          baseline: round(rssBare / MiB),
          ratio: round(rssRatio),
          target: '≤ 1.2× and ≤ 64 MiB',
          pass: rssRatio <= 1.2 && rssSidecar <= 64 * MiB,
          unit: 'MiB',
          details: { pairs, sidecarMiB: rss.map((r) => round(r.sidecar / MiB)), bareMiB: rss.map((r) => round(r.bare / MiB)) },
        }),
        resultLine({
          id: '5',
          what: `idle CPU over ${Math.round(windowS)} s, 3 targets held (after ${rssAfterMs / 1000} s idle)`,
          figure: round(cpuSidecar * 1000),
          baseline: round(cpuBare * 1000),
          ratio: round(cpuRatio),
          target: '≤ 2×',
          pass: cpuRatio <= 2,
          unit: 'CPU ms',
          details: {
            pairs,
            windowSeconds: round(windowS),
            windowStartsAfterIdleSeconds: rssAfterMs / 1000,
            sidecarCpuMs: cpu.map((c) => round(c.sidecar * 1000)),
            bareCpuMs: cpu.map((c) => round(c.bare * 1000)),
            clockTickCpuSeconds: { sidecar: ticks.map((c) => round(c.sidecar)), bare: ticks.map((c) => round(c.bare)) },
            firstIdleSecondsCpuTicks: { sidecar: settling.map((c) => round(c.sidecar)), bare: settling.map((c) => round(c.bare)) },
          },
        }),
      ],
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await em.close();
  }
}
