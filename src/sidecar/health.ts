import http from 'node:http';
import express from 'express';
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
  readiness: () => { ready: boolean; targets: TargetReadiness[]; files: FileReadiness[] };
}

/**
 * The health listener: `/healthz` (alive: the event loop turns), `/readyz` (every configured
 * target holds a valid token and its files, rendered files included, are written) and `/metrics`. It never serves tokens.
 */
export function createHealthServer(o: HealthOptions): http.Server {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // alive: this answer itself shows the event loop turns (a blocked loop cannot answer, and
  // kubelet's probe times out); no timer is kept for it, so an idle sidecar stays asleep
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const r = o.readiness();
    o.metrics.ready.set(r.ready ? 1 : 0);
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'not ready', targets: r.targets, ...(r.files.length > 0 ? { files: r.files } : {}) });
  });
  app.get('/metrics', async (_req, res) => {
    o.metrics.ready.set(o.readiness().ready ? 1 : 0);
    res.set('content-type', o.metrics.registry.contentType).send(await o.metrics.registry.metrics());
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found', message: 'This port serves /healthz, /readyz and /metrics only; tokens are on the loopback endpoint' });
  });
  const server = http.createServer({ maxHeaderSize: 8 * 1024 }, app);
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  return server;
}
