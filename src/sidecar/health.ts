import http from 'node:http';
import { bound, PROBE_PORT_LIMITS, refusalResponse, serverOptions } from '../http/bounded-listener.js';
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

const JSON_TYPE = 'application/json; charset=utf-8';
const NOT_FOUND = { error: 'not_found', message: 'This port serves /healthz, /readyz and /metrics only; tokens are on the loopback endpoint' };

/**
 * The health listener: `/healthz` (alive: the event loop turns), `/readyz` (every configured
 * target holds a valid token and its files, rendered files included, are written) and `/metrics`,
 * on GET and HEAD. It never serves tokens and never reads a request body. Plain node:http, bounded
 * by PROBE_PORT_LIMITS.
 */
export function createHealthServer(o: HealthOptions): http.Server {
  const server = http.createServer(serverOptions(PROBE_PORT_LIMITS), (req, res) => {
    // a body is never read: a request that may still send one is answered and its connection closed
    if (!req.complete) res.setHeader('connection', 'close');
    req.resume();
    const head = req.method === 'HEAD';
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(head ? undefined : body);
    };
    const json = (status: number, body: object): void => send(status, JSON_TYPE, JSON.stringify(body));
    const path = pathOf(req.url);
    if (req.method !== 'GET' && !head) return json(404, NOT_FOUND);
    // alive: this answer itself shows the event loop turns (a blocked loop cannot answer, and
    // kubelet's probe times out); no timer is kept for it, so an idle sidecar stays asleep
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') {
      const r = o.readiness();
      o.metrics.ready.set(r.ready ? 1 : 0);
      return json(r.ready ? 200 : 503, {
        status: r.ready ? 'ready' : 'not ready',
        targets: r.targets,
        ...(r.files.length > 0 ? { files: r.files } : {}),
        ...(r.credential ? { credential: r.credential } : {}),
      });
    }
    if (path === '/metrics') {
      o.metrics.ready.set(o.readiness().ready ? 1 : 0);
      o.metrics.registry.metrics().then(
        (text) => send(200, o.metrics.registry.contentType, text),
        () => json(500, { error: 'metrics_failed', message: 'Collecting the metrics failed; see the sidecar log' }),
      );
      return;
    }
    return json(404, NOT_FOUND);
  });
  bound(server, PROBE_PORT_LIMITS, {
    refusal: refusalResponse('The health port is at its connection limit; retry shortly'),
    onShed: (reason) => o.metrics.connectionsShed.labels('health', reason).inc(),
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}

/** The path of a request target, as express routed it: query dropped, a trailing slash and case ignored. */
function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  const p = q === -1 ? u : u.slice(0, q);
  return (p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p).toLowerCase();
}
