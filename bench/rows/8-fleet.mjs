// Row 8: a fleet of 10 000 sidecars starting within 60 s, 3 targets each, 24 simulated hours —
// the real TokenStore and refresh policy (from the build) on one simulated clock, with an exchange
// that answers at once with a 3599 s token (like Entra) and counts exchanges per 1 s bucket.
// Reported: the peak second after the first hour against the mean rate after the first hour,
// and exchanges per target per day. Reproducible: seeded random numbers throughout.
import { resultLine } from '../lib/context.mjs';
import { seededRandom, SimClock } from '../lib/sim-clock.mjs';
import { importBuild } from '../lib/paths.mjs';
import { round } from '../lib/stats.mjs';

const { TokenStore } = await importBuild('identity/token-store.js');
const { DEFAULT_REFRESH_POLICY } = await importBuild('identity/refresh-policy.js');

const SCOPES = ['https://storage.azure.com/.default', 'https://vault.azure.net/.default', 'https://management.azure.com/.default'];
const START = Date.UTC(2026, 10, 26, 0, 0, 0);

/**
 * Simulates the fleet; returns per-second exchange counts and totals per scope. `policy` lets a
 * caller try other refresh-policy knobs (the row uses the product's defaults).
 */
export async function simulateFleet({
  sidecars = 10_000,
  hours = 24,
  startSpreadMs = 60_000,
  lifetimeSec = 3599,
  seed = 6,
  policy = DEFAULT_REFRESH_POLICY,
  Store = TokenStore,
} = {}) {
  const clock = new SimClock(START);
  const random = seededRandom(seed);
  const seconds = hours * 3600;
  const buckets = new Uint32Array(seconds + 1);
  const perScope = new Map(SCOPES.map((s) => [s, 0]));
  let pending = 0;
  const exchange = async (scope) => {
    const now = clock.now();
    buckets[Math.floor((now - START) / 1000)]++;
    perScope.set(scope, perScope.get(scope) + 1);
    pending++;
    return { token: 'simulated', scope, obtainedAtMs: now, expiresOnMs: now + lifetimeSec * 1000, extExpiresOnMs: now + lifetimeSec * 1000 };
  };
  const events = { refreshed: () => pending--, failed: () => pending-- };
  const targets = SCOPES.map((scope, i) => ({ name: `t${i}`, scope }));
  const stores = [];
  for (let i = 0; i < sidecars; i++) {
    clock.setTimeout(() => {
      const store = new Store({ exchange, clock, random, policy, targets, events });
      stores.push(store);
      store.start();
    }, random() * startSpreadMs);
  }
  const end = START + seconds * 1000;
  let fired = 0;
  for (let timer = clock.popDue(end); timer; timer = clock.popDue(end)) {
    timer.fn();
    fired++;
    // let the exchange's promise chain finish (it schedules the next refresh) before time moves
    for (let spins = 0; pending > 0; spins++) {
      if (spins > 10_000) throw new Error('an exchange never completed in the simulation');
      await null;
    }
    for (let i = 0; i < 8; i++) await null;
  }
  for (const s of stores) s.stop();
  return { buckets, perScope, fired, sidecars, seconds };
}

/** Peak and mean of the per-second counts from `fromSecond` on. */
export function rateStats(buckets, fromSecond, toSecond = buckets.length - 1) {
  let peak = 0;
  let peakAt = fromSecond;
  let sum = 0;
  for (let s = fromSecond; s < toSecond; s++) {
    sum += buckets[s];
    if (buckets[s] > peak) {
      peak = buckets[s];
      peakAt = s;
    }
  }
  return { peak, peakAt, mean: sum / (toSecond - fromSecond), total: sum };
}

/** The largest sum of `width` consecutive 1 s buckets, windows aligned at `from`. */
function peakOfWindows(buckets, from, to, width) {
  let peak = 0;
  for (let s = from; s + width <= to; s += width) {
    let sum = 0;
    for (let i = s; i < s + width; i++) sum += buckets[i];
    peak = Math.max(peak, sum);
  }
  return peak;
}

/** The median maximum of n independent Poisson(mean) counts: the floor for independently random refresh times. */
export function poissonMaxFloor(mean, n) {
  let p = Math.exp(-mean);
  let cdf = p;
  for (let k = 0; ; k++) {
    if (n * Math.log(cdf) >= Math.log(0.5)) return k;
    p *= mean / (k + 1);
    cdf += p;
  }
}

export async function run(ctx) {
  const sidecars = 10_000;
  const hours = 24;
  const t0 = performance.now();
  const sim = await simulateFleet({ sidecars, hours });
  const wallS = (performance.now() - t0) / 1000;
  const after = rateStats(sim.buckets, 3600, sim.seconds);
  const overall = rateStats(sim.buckets, 0, sim.seconds);
  const ratio = after.peak / after.mean;
  const perTargetPerDay = [...sim.perScope.values()].map((n) => n / sidecars / (hours / 24));
  const floor = poissonMaxFloor(after.mean, sim.seconds - 3600);
  const tenSecondPeak = peakOfWindows(sim.buckets, 3600, sim.seconds, 10);
  // the same fleet under wider refresh jitter, for comparison (not the product's setting)
  const alternatives = [];
  if (!ctx.quick) {
    for (const jitterRatio of [0.5]) {
      const alt = await simulateFleet({ sidecars, hours, policy: { ...DEFAULT_REFRESH_POLICY, jitterRatio } });
      const a = rateStats(alt.buckets, 3600, alt.seconds);
      alternatives.push({
        jitterRatio,
        peak: a.peak,
        mean: round(a.mean),
        ratio: round(a.peak / a.mean),
        exchangesPerTargetPerDay: round(alt.perScope.get(SCOPES[0]) / sidecars / (hours / 24)),
      });
    }
  }
  // the shape of the fleet's load, hour by hour: peak second and mean per second
  const hourly = Array.from({ length: hours }, (_, h) => {
    const s = rateStats(sim.buckets, h * 3600, (h + 1) * 3600);
    return { hour: h, peak: s.peak, mean: round(s.mean) };
  });
  for (const a of alternatives) ctx.log(`  row 8: for comparison, jitter ±${a.jitterRatio * 100} %: peak ${a.peak}/s vs mean ${a.mean}/s (${a.ratio}×)`);
  ctx.log(
    `  row 8: ${sidecars} sidecars × 3 targets, ${hours} h simulated in ${wallS.toFixed(1)} s: peak ${after.peak}/s (at ${(after.peakAt / 3600).toFixed(2)} h) vs mean ${after.mean.toFixed(2)}/s after the first hour; ${perTargetPerDay[0].toFixed(1)} exchanges per target per day`,
  );
  return {
    lines: [
      resultLine({
        id: '8',
        what: `fleet: ${sidecars / 1000}k sidecars × 3 targets, peak 1 s after 1st hour (Poisson floor ${round(floor / after.mean)}×)`,
        figure: after.peak,
        baseline: round(after.mean),
        ratio: round(ratio),
        // issue 16: the fleet stays at the statistical floor for independently random refresh
        // times (issue 6's ≤ 2× is below that floor; only coordination could reach it)
        target: `at the Poisson floor (peak ≤ 1.05 × ${floor})`,
        pass: after.peak <= floor * 1.05,
        unit: 'exchanges/s',
        details: {
          sidecars,
          targetsEach: 3,
          hours,
          startSpreadSeconds: 60,
          tokenLifetimeSeconds: 3599,
          policy: DEFAULT_REFRESH_POLICY,
          exchangesPerTargetPerDay: perTargetPerDay.map((x) => round(x)),
          exchangesTotal: overall.total,
          startupPeakPerSecond: overall.peak,
          poissonFloorPeak: floor,
          poissonFloorRatio: round(floor / after.mean),
          peakOf10sBucketsRatio: round(tenSecondPeak / (10 * after.mean)),
          alternatives,
          simulatedTimers: sim.fired,
          wallSeconds: round(wallS),
          hourly,
        },
      }),
      resultLine({
        id: '8b',
        what: 'fleet: exchanges per target per day',
        figure: round(perTargetPerDay[0]),
        baseline: null,
        ratio: null,
        target: 'reported',
        pass: null,
        unit: 'exchanges',
        details: {},
      }),
    ],
  };
}
