import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bound, serverOptions, type BodyLease, type ListenerLimits } from '../http/bounded-listener.js';
import type { Logger } from '../log.js';
import type { Admitter, Answered, UnreadableReview } from './admit.js';
import type { WebhookMetrics } from './metrics.js';
import type { TlsSource } from './tls.js';

/** The path the MutatingWebhookConfiguration calls (the API server appends `?timeout=5s`). */
export const MUTATE_PATH = '/mutate';
/** Largest AdmissionReview accepted; larger bodies get 413. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** How much of an oversized body is read (and dropped) so the 413 reaches the client. */
const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;

export interface WebhookServerOptions {
  tls: TlsSource;
  admit: Admitter;
  metrics: WebhookMetrics;
  log: Logger;
  maxBodyBytes?: number;
}

/** Seconds since `started` (a performance.now() reading). */
function elapsed(started: number): number {
  return (performance.now() - started) / 1e3;
}

/** A JSON error body in the Kubernetes `Status` shape. */
function status(code: number, reason: string, message: string): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** A JSON string, or an object to serialise; the body is written as a string (no Buffer copy of it). */
function send(res: ServerResponse, code: number, body: object | string, extraHeaders?: Record<string, string>): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
  if (extraHeaders) Object.assign(headers, extraHeaders);
  res.writeHead(code, headers);
  res.end(text);
}

/**
 * What the admission listener may hold. Its callers are the API servers (a few connections each),
 * but any pod can reach the Service: 256 connections, 16 MiB of AdmissionReview bodies in memory at
 * once (a typical review is 5–50 KiB; 16 reviews of the 1 MiB maximum), 5 s for the TLS handshake
 * and the head, 10 s for the whole request (the API server's own timeout is at most 30 s, 10 s by
 * default). Keep-alive idle connections stay 60 s: the API server reuses them.
 */
export const ADMISSION_LIMITS: ListenerLimits = {
  maxConnections: 256,
  maxBufferedBytes: 16 * 1024 * 1024,
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 60_000,
};
const HANDSHAKE_TIMEOUT_MS = 5_000;

type Body = { kind: 'ok'; text: Buffer } | { kind: 'too-large' } | { kind: 'aborted' } | { kind: 'busy' };
const TOO_LARGE: Body = { kind: 'too-large' };
const ABORTED: Body = { kind: 'aborted' };
const BUSY: Body = { kind: 'busy' };

/**
 * Reads the body up to `max` bytes, each kept chunk drawn from the listener's body budget (spent:
 * `busy`); an oversized body is drained (bounded, not kept) so the 413 can be read. `done` is
 * called once, with the first outcome.
 */
function readBody(req: IncomingMessage, max: number, lease: BodyLease, done: (body: Body) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  let settled = false;
  const settle = (body: Body): void => {
    if (settled) return;
    settled = true;
    done(body);
  };
  req.on('data', (chunk: Buffer) => {
    if (settled) return;
    size += chunk.length;
    if (size <= max && !lease.take(chunk.length)) {
      chunks.length = 0;
      settle(BUSY);
      return;
    }
    if (size > max) {
      tooLarge = true;
      chunks.length = 0;
      if (size > max + DRAIN_LIMIT_BYTES) {
        req.destroy();
        settle(ABORTED);
      }
    } else chunks.push(chunk);
  });
  // one chunk (a typical review) is used as it came, not copied
  req.on('end', () => settle(tooLarge ? TOO_LARGE : { kind: 'ok', text: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) }));
  req.on('error', () => settle(ABORTED));
  req.on('close', () => settle(ABORTED));
}

/**
 * The HTTPS admission server: TLS 1.2 or newer, `POST /mutate` (query ignored) with an
 * AdmissionReview of at most 1 MiB, JSON errors in the Kubernetes Status shape. The certificate is
 * swapped in place when the TLS source changes.
 *
 * @example
 * const server = createWebhookServer({ tls, admit, metrics, log });
 * server.listen(8443, '0.0.0.0');
 */
export function createWebhookServer(options: WebhookServerOptions): Server {
  const max = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const { metrics, log } = options;
  const initial = options.tls.current();
  const server = createServer(
    { ...serverOptions(ADMISSION_LIMITS), cert: initial.cert, key: initial.key, minVersion: 'TLSv1.2', handshakeTimeout: HANDSHAKE_TIMEOUT_MS },
    (req, res) => handle(req, res),
  );
  options.tls.onChange((pair) => server.setSecureContext({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' }));
  // a TLS listener cannot answer before the handshake: a refused connection is just closed
  const bounded = bound(server, ADMISSION_LIMITS, { onShed: (reason) => metrics.connectionsShed.inc({ listener: 'admission', reason }) });
  server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake failed'));
  server.on('clientError', (_err, socket) => socket.destroy());

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== MUTATE_PATH) {
      req.resume();
      return send(res, 404, status(404, 'NotFound', `no such path: AdmissionReviews go to POST ${MUTATE_PATH}`));
    }
    if (req.method !== 'POST') {
      req.resume();
      return send(res, 405, status(405, 'MethodNotAllowed', `${MUTATE_PATH} accepts POST only`), { allow: 'POST' });
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max + DRAIN_LIMIT_BYTES) {
      metrics.observeAdmission('error', elapsed(started));
      send(res, 413, status(413, 'RequestEntityTooLarge', `the body is larger than ${max} bytes`), { connection: 'close' });
      req.resume();
      return;
    }
    readBody(req, max, bounded.lease(res), (body) => answer(res, body, started));
  }

  function answer(res: ServerResponse, body: Body, started: number): void {
    if (body.kind === 'aborted') return;
    if (body.kind === 'busy') {
      metrics.observeAdmission('error', elapsed(started));
      return send(res, 503, status(503, 'ServiceUnavailable', 'the webhook holds too many AdmissionReviews at once; retry shortly'), {
        connection: 'close',
        'retry-after': '1',
      });
    }
    if (body.kind === 'too-large') {
      metrics.observeAdmission('error', elapsed(started));
      return send(res, 413, status(413, 'RequestEntityTooLarge', `the body is larger than ${max} bytes`), { connection: 'close' });
    }
    void respond(res, options.admit.review(body.text), started);
  }

  async function respond(res: ServerResponse, answer: Promise<Answered | UnreadableReview>, started: number): Promise<void> {
    try {
      const answered = await answer;
      if ('problem' in answered) {
        metrics.observeAdmission('error', elapsed(started));
        return send(res, 400, status(400, 'BadRequest', answered.problem));
      }
      metrics.observeAdmission(answered.result, elapsed(started));
      if (answered.reused) metrics.replicaAnswers.inc();
      send(res, 200, answered.body);
    } catch (err) {
      metrics.observeAdmission('error', elapsed(started));
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'unexpected error while answering an AdmissionReview');
      send(res, 500, status(500, 'InternalError', 'internal error; see the webhook log'));
    }
  }

  return server;
}
