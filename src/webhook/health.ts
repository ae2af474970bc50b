import { createServer, type Server } from 'node:http';
import { bound, PROBE_PORT_LIMITS, refusalResponse, serverOptions } from '../http/bounded-listener.js';
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
 * 200, else 503), `/metrics` (Prometheus text). Never serves admissions.
 *
 * @example
 * createHealthServer({ metrics, isReady: () => ready, log }).listen(8080, '0.0.0.0');
 */
export function createHealthServer(options: HealthServerOptions): Server {
  const server = createServer(serverOptions(PROBE_PORT_LIMITS), (req, res) => {
    // a body is never read: a request that may still send one is answered and its connection closed
    if (!req.complete) res.setHeader('connection', 'close');
    req.resume();
    const path = (req.url ?? '/').split('?')[0];
    const json = (code: number, body: object) => {
      const text = JSON.stringify(body);
      res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { status: 'method not allowed' });
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') return options.isReady() ? json(200, { status: 'ready' }) : json(503, { status: 'not ready' });
    if (path === '/metrics') {
      options.metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': options.metrics.registry.contentType });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (err: unknown) => {
          options.log.error({ err: err instanceof Error ? err.message : String(err) }, 'metrics collection failed');
          json(500, { status: 'metrics collection failed' });
        },
      );
      return;
    }
    return json(404, { status: 'not found', paths: ['/healthz', '/readyz', '/metrics'] });
  });
  bound(server, PROBE_PORT_LIMITS, {
    refusal: refusalResponse('The health port is at its connection limit; retry shortly'),
    onShed: (reason) => options.metrics.connectionsShed.inc({ listener: 'health', reason }),
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}
