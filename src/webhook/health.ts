import type { Server } from 'node:http';
import { PROBE_PORT_LIMITS } from '../http/bounded-listener.js';
import { createProbeServer } from '../http/probe-server.js';
import type { Logger } from '../log.js';
import type { WebhookMetrics } from './metrics.js';

export interface HealthServerOptions {
  metrics: WebhookMetrics;
  /** true once the HTTPS server has a certificate and listens, false again while shutting down */
  isReady: () => boolean;
  log: Logger;
}

/**
 * Plain-HTTP probes and metrics: `/healthz` (the process answers), `/readyz` (it can admit pods:
 * 200, else 503), `/metrics` (Prometheus text), on the one probe server of src/http/probe-server.ts.
 * Never serves admissions.
 *
 * @example
 * createHealthServer({ metrics, isReady: () => ready, log }).listen(8080, '0.0.0.0');
 */
export function createHealthServer(options: HealthServerOptions): Server {
  return createProbeServer({
    limits: PROBE_PORT_LIMITS,
    readiness: () => (options.isReady() ? { ready: true, body: { status: 'ready' } } : { ready: false, body: { status: 'not ready' } }),
    registry: options.metrics.registry,
    onMetricsError: (err) => options.log.error({ err: err instanceof Error ? err.message : String(err) }, 'metrics collection failed'),
    onShed: (reason) => options.metrics.connectionsShed.inc({ listener: 'health', reason }),
    notFound: { error: 'not_found', message: 'This port serves /healthz, /readyz and /metrics only; admissions are on the HTTPS port' },
  });
}
