/**
 * The endpoint counts requests and their latency in an EndpointTally (typed arrays, read at
 * scrape time) instead of prom-client's per-call label hashing. What a Prometheus scrape sees must
 * be exactly what prom-client's own Counter and Histogram give for the same requests: same series,
 * same label order, same cumulative buckets, sum and count — and counts recorded between two
 * scrapes are neither lost nor counted twice.
 */
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FLAVOURS } from '../../src/contract/flavours.js';
import { EndpointTally, tallyHistogram } from '../../src/sidecar/endpoint-tally.js';

const BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];
const NAME = 'entra_sidecar_endpoint_request_duration_seconds';
const COUNTER = 'entra_sidecar_endpoint_requests_total';

function tallyRegistry(): { registry: Registry; tally: EndpointTally } {
  const registry = new Registry();
  const tally = new EndpointTally(FLAVOURS, BOUNDS);
  const counter: Counter<'flavour' | 'code'> = new Counter({
    name: COUNTER,
    help: 'h',
    labelNames: ['flavour', 'code'],
    registers: [registry],
    collect: () => tally.drainCounts(counter),
  });
  registry.registerMetric(tallyHistogram(tally, NAME, 'Token endpoint latency by protocol flavour.'));
  return { registry, tally };
}

function promClientRegistry(): { registry: Registry; counter: Counter<'flavour' | 'code'>; histogram: Histogram<'flavour'> } {
  const registry = new Registry();
  const counter = new Counter({ name: COUNTER, help: 'h', labelNames: ['flavour', 'code'] as const, registers: [registry] });
  const histogram = new Histogram({
    name: NAME,
    help: 'Token endpoint latency by protocol flavour.',
    labelNames: ['flavour'] as const,
    buckets: BOUNDS,
    registers: [registry],
  });
  return { registry, counter, histogram };
}

const lines = (text: string): string[] => text.split('\n').sort();

const request = fc.record({
  flavour: fc.integer({ min: 0, max: FLAVOURS.length - 1 }),
  status: fc.constantFrom(200, 400, 401, 403, 404, 405, 413, 415, 500, 503),
  // durations on and around every bucket bound, and far above the last one
  seconds: fc.oneof(fc.constantFrom(...BOUNDS, 0, 12.5), fc.double({ min: 0, max: 20, noNaN: true })),
});

describe('EndpointTally', () => {
  it('exposes exactly what prom-client Counter and Histogram expose for the same requests (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(request, { maxLength: 40 }), { minLength: 1, maxLength: 3 }), async (batches) => {
        const mine = tallyRegistry();
        const theirs = promClientRegistry();
        // several scrapes in between: each drains what was recorded since the last one
        for (const batch of batches) {
          for (const r of batch) {
            mine.tally.record(r.flavour, r.status, r.seconds);
            theirs.counter.inc({ flavour: FLAVOURS[r.flavour], code: String(r.status) });
            theirs.histogram.observe({ flavour: FLAVOURS[r.flavour] }, r.seconds);
          }
          // the same lines (series order within a metric means nothing to Prometheus)
          expect(lines(await mine.registry.metrics())).toEqual(lines(await theirs.registry.metrics()));
        }
      }),
      { numRuns: 150, seed: 16 },
    );
  });

  it('shows a flavour only once it was asked for, with cumulative buckets ending in +Inf', async () => {
    const { registry, tally } = tallyRegistry();
    expect(await registry.metrics()).not.toContain(`${NAME}_bucket`);
    tally.record(FLAVOURS.indexOf('imds'), 200, 0.0007);
    tally.record(FLAVOURS.indexOf('imds'), 200, 7);
    const text = await registry.metrics();
    expect(text).toContain(`${NAME}_bucket{le="0.0005",flavour="imds"} 0\n`);
    expect(text).toContain(`${NAME}_bucket{le="0.001",flavour="imds"} 1\n`);
    expect(text).toContain(`${NAME}_bucket{le="5",flavour="imds"} 1\n`);
    expect(text).toContain(`${NAME}_bucket{le="10",flavour="imds"} 2\n`);
    expect(text).toContain(`${NAME}_bucket{le="+Inf",flavour="imds"} 2\n`);
    expect(text).toContain(`${NAME}_count{flavour="imds"} 2`);
    expect(text).toContain(`${COUNTER}{flavour="imds",code="200"} 2`);
    expect(text).not.toContain('flavour="app_service"');
    // a second scrape with nothing new shows the same totals (drained counts are not lost)
    expect(await registry.metrics()).toBe(text);
  });

  it('resets the histogram with the registry', async () => {
    const { registry, tally } = tallyRegistry();
    tally.record(0, 200, 0.001);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain(`${NAME}_count`);
  });
});
