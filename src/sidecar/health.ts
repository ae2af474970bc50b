import type http from 'node:http';
import { PROBE_PORT_LIMITS } from '../http/bounded-listener.js';
import { createProbeServer } from '../http/probe-server.js';
import type { SidecarMetrics } from './metrics.js';
import type { FileReadiness } from './rendered-files.js';

/** Per-target readiness detail, without tokens. */
export interface TargetReadiness {
  name: string;
  scope: string;
  ready: boolean;
  expiresOn?: string;
  fileWritten: boolean;
  lastError?: string;
}

export interface HealthOptions {
  metrics: SidecarMetrics;
  readiness: () => { ready: boolean; targets: TargetReadiness[]; files: FileReadiness[]; credential?: Record<string, unknown> };
}

const NOT_FOUND = { error: 'not_found', message: 'This port serves /healthz, /readyz and /metrics only; tokens are on the loopback endpoint' };

/**
 * The health listener: `/healthz` (alive: the event loop turns), `/readyz` (every configured
 * target holds a valid token and its files, rendered files included, are written) and `/metrics`,
 * on GET and HEAD. It never serves tokens and never reads a request body. Plain node:http, bounded
 * by PROBE_PORT_LIMITS.
 */
export function createHealthServer(o: HealthOptions): http.Server {
  return createProbeServer({
    limits: PROBE_PORT_LIMITS,
    readiness: () => {
      const r = o.readiness();
      o.metrics.ready.set(r.ready ? 1 : 0);
      return {
        ready: r.ready,
        body: {
          status: r.ready ? 'ready' : 'not ready',
          targets: r.targets,
          ...(r.files.length > 0 ? { files: r.files } : {}),
          ...(r.credential ? { credential: r.credential } : {}),
        },
      };
    },
    registry: o.metrics.registry,
    beforeScrape: () => o.metrics.ready.set(o.readiness().ready ? 1 : 0),
    onMetricsError: () => undefined,
    onShed: (reason) => o.metrics.connectionsShed.labels('health', reason).inc(),
    notFound: NOT_FOUND,
  });
}
