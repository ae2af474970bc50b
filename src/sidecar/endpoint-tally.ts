import type { Counter, Metric } from 'prom-client';

/** One series of a metric, as prom-client's metrics hand them to a Registry. */
export interface SeriesValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * Token-endpoint request counts and latencies, recorded on the hot path into typed arrays — no
 * label objects, no label hashing, no allocation per request — and handed to prom-client only
 * when /metrics is scraped. (prom-client's own `labels(…).inc()` and `observe()` build and hash a
 * label object on every call: ~8 µs of the ~90 µs CPU a request cost in a profile of the endpoint
 * under 10 connections, README Performance.)
 *
 * @example
 * const tally = new EndpointTally(['app_service', 'imds', 'msi'], [0.001, 0.01, 0.1]);
 * tally.record(0, 200, 0.0004);
 * tally.drainCounts(requestsCounter); // at scrape time
 */
export class EndpointTally {
  /** pending request counts by flavour index × STATUS_SPAN + (status − MIN_STATUS) */
  private readonly pending: Float64Array;
  /** per flavour: the count in each bucket (not cumulative), the last slot is above every bound */
  private readonly buckets: Float64Array;
  private readonly sums: Float64Array;
  private readonly totals: Float64Array;
  private anyPending = false;

  constructor(
    readonly flavours: readonly string[],
    readonly bounds: readonly number[],
  ) {
    this.pending = new Float64Array(flavours.length * STATUS_SPAN);
    this.buckets = new Float64Array(flavours.length * (bounds.length + 1));
    this.sums = new Float64Array(flavours.length);
    this.totals = new Float64Array(flavours.length);
  }

  /** One answered request: its flavour (index into `flavours`), HTTP status and duration. */
  record(flavour: number, status: number, seconds: number): void {
    const s = status >= MIN_STATUS && status < MIN_STATUS + STATUS_SPAN ? status - MIN_STATUS : 0;
    this.pending[flavour * STATUS_SPAN + s]++;
    this.anyPending = true;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && seconds > b[i]) i++;
    this.buckets[flavour * (b.length + 1) + i]++;
    this.sums[flavour] += seconds;
    this.totals[flavour]++;
  }

  /** Adds the counts recorded since the last drain to a counter labelled (flavour, code). */
  drainCounts(counter: Pick<Counter<'flavour' | 'code'>, 'inc'>): void {
    if (!this.anyPending) return;
    this.anyPending = false;
    const p = this.pending;
    for (let k = 0; k < p.length; k++) {
      if (p[k] === 0) continue;
      counter.inc({ flavour: this.flavours[Math.floor(k / STATUS_SPAN)], code: String((k % STATUS_SPAN) + MIN_STATUS) }, p[k]);
      p[k] = 0;
    }
  }

  /** The histogram's series as prom-client exposes a histogram labelled by flavour (flavours seen so far). */
  histogramValues(name: string): SeriesValue[] {
    const values: SeriesValue[] = [];
    const n = this.bounds.length + 1;
    for (let f = 0; f < this.flavours.length; f++) {
      if (this.totals[f] === 0) continue;
      const flavour = this.flavours[f];
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += this.buckets[f * n + i];
        values.push({ labels: { le: this.bounds[i], flavour }, value: cumulative, metricName: `${name}_bucket` });
      }
      values.push({ labels: { le: '+Inf', flavour }, value: this.totals[f], metricName: `${name}_bucket` });
      values.push({ labels: { flavour }, value: this.sums[f], metricName: `${name}_sum` });
      values.push({ labels: { flavour }, value: this.totals[f], metricName: `${name}_count` });
    }
    return values;
  }

  /** Forgets the latency histogram (prom-client's `registry.resetMetrics()`). */
  resetHistogram(): void {
    this.buckets.fill(0);
    this.sums.fill(0);
    this.totals.fill(0);
  }
}

const MIN_STATUS = 100;
const STATUS_SPAN = 500;

/**
 * The tally's latency histogram as a metric a prom-client Registry can hold: the registry asks it
 * for its values at scrape time, in the shape of prom-client's own Histogram.
 */
export function tallyHistogram(tally: EndpointTally, name: string, help: string): Metric<string> {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({ name, help, type: 'histogram', aggregator: 'sum', values: tally.histogramValues(name) }),
    reset: () => tally.resetHistogram(),
  };
  return metric as unknown as Metric<string>;
}
