// HTTP load with autocannon; latencies recorded per response with sub-millisecond precision
// (autocannon's own histogram keeps whole milliseconds, too coarse for loopback p99s).
import autocannon from 'autocannon';
import { percentile } from './stats.mjs';

/**
 * Runs autocannon for `duration` seconds (or `amount` requests; `overallRate` caps requests/s
 * across all connections, for latency at a steady rate) and returns requests/s over the
 * run, exact p50/p99 latencies in ms, and the count of non-2xx answers and errors.
 */
export function load({ url, connections, duration, amount, requests, headers, method, body, overallRate, warmupSeconds = 0 }) {
  return new Promise((resolve, reject) => {
    let latencies = new Float64Array(1 << 16);
    let n = 0;
    let lastAt = 0;
    const opts = Object.fromEntries(
      Object.entries({ url, connections, pipelining: 1, headers, method, body, requests, overallRate }).filter(([, v]) => v !== undefined),
    );
    if (amount !== undefined) opts.amount = amount;
    else opts.duration = duration;
    const run = () => {
      const started = performance.now();
      const instance = autocannon(opts, (err, result) => {
        if (err) return reject(err);
        // autocannon reports an amount run's end on its next 1 s tick: time it by the last answer
        const elapsed = (lastAt - started) / 1000;
        const sorted = latencies.subarray(0, n).sort();
        resolve({
          requests: n,
          rps: amount !== undefined ? n / elapsed : result.requests.total / result.duration,
          p50: percentile(sorted, 50),
          p99: percentile(sorted, 99),
          non2xx: result.non2xx,
          errors: result.errors + result.timeouts,
        });
      });
      instance.on('response', (_client, status, _bytes, responseTime) => {
        lastAt = performance.now();
        if (status < 200 || status >= 300) return;
        if (n === latencies.length) {
          const bigger = new Float64Array(latencies.length * 2);
          bigger.set(latencies);
          latencies = bigger;
        }
        latencies[n++] = responseTime;
      });
    };
    if (warmupSeconds > 0) {
      const { amount: _a, ...warm } = opts;
      autocannon({ ...warm, duration: warmupSeconds }, (err) => (err ? reject(err) : run()));
    } else run();
  });
}
