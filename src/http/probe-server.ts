import http from 'node:http';
import { bound, refusalResponse, serverOptions, type ListenerLimits, type ShedReason } from './bounded-listener.js';

/** What a probe port serves: `/readyz`'s verdict and body, and the Prometheus text of `/metrics`. */
export interface ProbeServerOptions {
  /** the connection, head and time limits of the port (both probe ports use PROBE_PORT_LIMITS) */
  limits: ListenerLimits;
  /** `/readyz`: 200 when ready, else 503, with this JSON body */
  readiness: () => { ready: boolean; body: object };
  /** the registry `/metrics` renders */
  registry: { metrics(): Promise<string>; contentType: string };
  /** called before each scrape (e.g. to refresh a readiness gauge) */
  beforeScrape?: () => void;
  /** a failed scrape (the answer is a 500) */
  onMetricsError: (err: unknown) => void;
  /** a connection the limits dropped */
  onShed: (reason: ShedReason) => void;
  /** the 404 body: names what the port serves */
  notFound: object;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The one probe server of the sidecar and the webhook: `/healthz` (the process answers: the event
 * loop turns, and no timer is kept for it), `/readyz` (200 or 503 from `readiness`) and `/metrics`,
 * on GET and HEAD; another method on those paths is a 405, any other path a 404. A request body is
 * never read: a request that may still send one is answered with `Connection: close`. Paths match
 * without their query, a trailing slash or case. Bounded by `limits`.
 *
 * @example
 * createProbeServer({ limits: PROBE_PORT_LIMITS, readiness: () => ({ ready, body: { status } }), registry, onMetricsError, onShed, notFound })
 */
export function createProbeServer(o: ProbeServerOptions): http.Server {
  const server = http.createServer(serverOptions(o.limits), (req, res) => {
    if (!req.complete) res.setHeader('connection', 'close');
    req.resume();
    const head = req.method === 'HEAD';
    const send = (status: number, type: string, body: string, extra: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
      res.end(head ? undefined : body);
    };
    const json = (status: number, body: object, extra?: Record<string, string>): void => send(status, JSON_TYPE, JSON.stringify(body), extra);
    const path = probePath(req.url);
    if (!PATHS.has(path)) return json(404, o.notFound);
    if (req.method !== 'GET' && !head) return json(405, { error: 'method_not_allowed', message: `${path} answers GET and HEAD only` }, { allow: 'GET, HEAD' });
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') {
      const r = o.readiness();
      return json(r.ready ? 200 : 503, r.body);
    }
    o.beforeScrape?.();
    o.registry.metrics().then(
      (text) => send(200, o.registry.contentType, text),
      (err: unknown) => {
        o.onMetricsError(err);
        json(500, { error: 'metrics_failed', message: 'Collecting the metrics failed; see the log' });
      },
    );
  });
  bound(server, o.limits, { refusal: refusalResponse('The health port is at its connection limit; retry shortly'), onShed: o.onShed });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}

/** The path of a request target: query dropped, a trailing slash and case ignored. */
export function probePath(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  const p = q === -1 ? u : u.slice(0, q);
  return (p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p).toLowerCase();
}
