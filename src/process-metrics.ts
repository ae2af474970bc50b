import { collectDefaultMetrics, type Registry } from 'prom-client';

/** prom-client defaults that are gauges named `_total`, which Prometheus naming (and promtool) reject. */
const MISNAMED_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * The standard `process_*` and `nodejs_*` metrics on a registry, less the gauges prom-client
 * names like counters (their `nodejs_active_*` siblings without `_total` stay).
 *
 * @example
 * collectProcessMetrics(registry);
 */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_GAUGES) registry.removeSingleMetric(name);
}
