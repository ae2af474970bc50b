import { collectDefaultMetrics, type Registry } from 'prom-client';

/** prom-client defaults that are gauges named `_total`, which Prometheus naming (and promtool) reject. */
const MISNAMED_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** How often the event-loop delay histogram samples (prom-client's default is 10 ms). */
const EVENT_LOOP_SAMPLE_MS = 10_000;

/**
 * The standard `process_*` and `nodejs_*` metrics on a registry, less the gauges prom-client
 * names like counters (their `nodejs_active_*` siblings without `_total` stay).
 *
 * @example
 * collectProcessMetrics(registry);
 */
export function collectProcessMetrics(registry: Registry): void {
  // prom-client samples event-loop delay with a libuv timer, every 10 ms by default: 100 wake-ups
  // a second in a process that is otherwise idle for minutes. Every 10 s is plenty for a sidecar.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  for (const name of MISNAMED_GAUGES) registry.removeSingleMetric(name);
}
