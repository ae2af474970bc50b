import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { decodeClaims } from '../../identity/federated-token.js';
import { scopeForResource, type AccessToken } from '../../identity/access-token.js';
import { ExchangeError } from '../../identity/errors.js';
import type { TokenStore } from '../../identity/token-store.js';
import type { Logger } from '../../log.js';
import type { SidecarMetrics } from '../metrics.js';
import { bound, lingerOnClose, refusalResponse, serverOptions, type BodyLease, type ListenerLimits } from '../../http/bounded-listener.js';
import { FLAVOURS, type Flavour } from '../../contract/flavours.js';
import { MAX_BODY_BYTES, MAX_HEADER_BYTES } from './protocol.js';
import { checkCaller, checkFormHead, checkParams, ENDPOINTS_TEXT, routeOf, type TokenRequest } from './request.js';
import { FLAVOUR_SPECS } from './flavours/registry.js';
import { CheckedQueries } from './checked-queries.js';
import { EndpointError, errorAnswer, TokenAnswers, type Answer } from './responses.js';

/** A query that passed checkQuery: the request it makes and the scope it maps to. */
interface CheckedQuery {
  request: TokenRequest;
  scope: string;
}

export interface EndpointOptions {
  store: Pick<TokenStore, 'peek' | 'get'>;
  clientId: string;
  identityHeader: string;
  allowedScopes?: string[];
  /** the identity's ARM resource id, if known, for mi_res_id selectors */
  identityResourceId?: string;
  flavours?: readonly Flavour[];
  metrics: SidecarMetrics;
  log: Logger;
  now?: () => number;
}

/**
 * The loopback token endpoint: App Service 2019-08-01 (`GET /msi/token` + X-IDENTITY-HEADER),
 * IMDS 2018-02-01 (`GET /metadata/identity/oauth2/token` + Metadata: true) and the legacy
 * MSI_ENDPOINT (`POST /msi/token` form + Metadata: true), plain node:http with answers built once
 * per token, bounded in connections, bytes and time (ENDPOINT_LIMITS).
 *
 * @example
 * const server = createEndpointServer({ store, clientId, identityHeader, metrics, log });
 * server.listen(42350, '127.0.0.1');
 */
export function createEndpointServer(o: EndpointOptions): http.Server {
  const secret = Buffer.from(o.identityHeader, 'utf8');
  const answers = new TokenAnswers(o.clientId);
  const enabled = new Set(o.flavours ?? FLAVOURS);
  const allowed = o.allowedScopes ? new Set(o.allowedScopes) : undefined;
  const now = o.now ?? Date.now;
  const clientIdLower = o.clientId.toLowerCase();
  const flavourIndex = Object.fromEntries(FLAVOURS.map((f, i) => [f, i])) as Record<Flavour, number>;
  const checked = new CheckedQueries<CheckedQuery>();
  const oids = new WeakMap<AccessToken, string | undefined>();

  const count = (flavour: Flavour, status: number, started: number): void => {
    o.metrics.endpoint.record(flavourIndex[flavour], status, (performance.now() - started) / 1000);
  };

  const send = (res: http.ServerResponse, a: Answer): void => {
    res.writeHead(a.status, { ...a.headers, 'content-length': Buffer.byteLength(a.body) });
    res.end(a.body);
  };

  const reject = (req: http.IncomingMessage, res: http.ServerResponse, flavour: Flavour | undefined, e: EndpointError): void => {
    o.log.warn({ flavour, status: e.status, error: e.error, method: req.method, path: pathOf(req.url) }, `token request refused: ${e.message}`);
    send(res, errorAnswer(e));
  };

  const oidOf = (token: AccessToken): string | undefined => {
    if (!oids.has(token)) oids.set(token, decodeClaims(token.token)?.oid);
    return oids.get(token);
  };

  const checkSelector = (r: TokenRequest): void => {
    const s = r.selector;
    if (!s) return;
    if (s.kind === 'client_id' && s.value.toLowerCase() !== clientIdLower) {
      throw new EndpointError(400, 'invalid_request', `Identity not found: this sidecar serves client id ${o.clientId}, not ${s.value.slice(0, 64)}`);
    }
    if (s.kind === 'resource_id' && (!o.identityResourceId || s.value.toLowerCase() !== o.identityResourceId.toLowerCase())) {
      throw new EndpointError(
        400,
        'invalid_request',
        `Identity not found: this sidecar serves client id ${o.clientId}; select it with client_id${o.identityResourceId ? ` or mi_res_id=${o.identityResourceId}` : ''}`,
      );
    }
  };

  /**
   * What the query (or form) asks for, checked: api-version, resource, identity selector, allowed
   * scope. Pure in (flavour, params): the same query string of the same flavour always gives the
   * same outcome, which is what lets `checked` remember it. Throws EndpointError.
   */
  const checkQuery = (flavour: Flavour, params: URLSearchParams): CheckedQuery => {
    const request = checkParams(flavour, params);
    checkSelector(request);
    const scope = scopeForResource(request.resource);
    if (allowed && !allowed.has(scope)) {
      throw new EndpointError(
        403,
        'access_denied',
        `Scope ${scope.slice(0, 200)} is not allowed by ENTRA_SIDECAR_ALLOWED_SCOPES: ask the platform team to add it`,
      );
    }
    return { request, scope };
  };

  /** Answers a request whose caller was checked (checkCaller) and whose query was checked (checkQuery). */
  const serveChecked = (req: http.IncomingMessage, res: http.ServerResponse, c: CheckedQuery, started: number): void => {
    const held = o.store.peek(c.scope);
    // a held token is answered synchronously: no promise, no extra turn
    if (held) answerWith(req, res, c, held, started);
    else
      void fetchToken(c.scope).then(
        (token) => answerWith(req, res, c, token, started),
        (err: unknown) => refuse(req, res, c.request.flavour, err, started),
      );
  };

  const answerWith = (req: http.IncomingMessage, res: http.ServerResponse, c: CheckedQuery, token: AccessToken, started: number): void => {
    const s = c.request.selector;
    if (s?.kind === 'object_id' && s.value.toLowerCase() !== (oidOf(token) ?? '').toLowerCase()) {
      refuse(
        req,
        res,
        c.request.flavour,
        new EndpointError(
          400,
          'invalid_request',
          `Identity not found: this sidecar serves client id ${o.clientId}, whose object id is not ${s.value.slice(0, 64)}`,
        ),
        started,
      );
      return;
    }
    let answer;
    try {
      answer = answers.answer(token, c.request.resource, now());
    } catch (err) {
      refuse(req, res, c.request.flavour, err, started);
      return;
    }
    res.writeHead(200, answer.headers);
    res.end(answer.body);
    count(c.request.flavour, 200, started);
  };

  const refuse = (req: http.IncomingMessage, res: http.ServerResponse, flavour: Flavour, err: unknown, started: number): void => {
    const e = err instanceof EndpointError ? err : new EndpointError(503, 'temporarily_unavailable', 'The sidecar could not answer; retry shortly', 1);
    reject(req, res, flavour, e);
    count(flavour, e.status, started);
  };

  const fetchToken = async (scope: string): Promise<AccessToken> => {
    try {
      return await o.store.get(scope);
    } catch (err) {
      if (err instanceof ExchangeError && !err.retryable) throw new EndpointError(400, 'invalid_request', `Entra refused a token for ${scope}: ${err.message}`);
      const retryAfter = err instanceof ExchangeError && err.retryAfterMs !== undefined ? err.retryAfterMs / 1000 : 1;
      throw new EndpointError(
        503,
        'temporarily_unavailable',
        `No token for ${scope} yet: ${err instanceof Error ? err.message : 'exchange failed'}`,
        Math.min(60, retryAfter),
      );
    }
  };

  const server = http.createServer(serverOptions(ENDPOINT_LIMITS), (req, res) => {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const route = routeOf(req.method ?? 'GET', path);
    if (!route || 'methodNotAllowed' in route || !enabled.has(route.flavour)) {
      const e = !route
        ? new EndpointError(404, 'not_found', `No such endpoint: use ${ENDPOINTS_TEXT}`)
        : 'methodNotAllowed' in route
          ? new EndpointError(
              405,
              'invalid_request',
              `Method ${String(req.method).slice(0, 16)} not allowed here: use GET, or POST for the MSI_ENDPOINT flavour`,
            )
          : new EndpointError(404, 'not_found', `The ${route.flavour} flavour is disabled in this sidecar (ENTRA_SIDECAR_FLAVOURS)`);
      refuseHead(req, res, route ? undefined : null, e);
      return;
    }
    const flavour = route.flavour;
    const spec = FLAVOUR_SPECS[flavour];
    // who is calling is decided from the head alone: a refused request's body is never read
    try {
      checkCaller(flavour, req.headers, secret);
      if (spec.params === 'form') checkFormHead(req.headers);
    } catch (err) {
      refuseHead(req, res, flavour, err as EndpointError);
      count(flavour, (err as EndpointError).status, started);
      return;
    }
    const rawQuery = q === -1 ? '' : url.slice(q + 1);
    if (spec.params === 'query') {
      req.resume();
      // a query string seen before (this flavour, every character the same) was checked then;
      // the caller's headers were checked above, for this request
      let c = checked.get(flavour, rawQuery);
      if (!c) {
        try {
          c = checked.remember(flavour, rawQuery, checkQuery(flavour, new URLSearchParams(rawQuery)));
        } catch (err) {
          refuse(req, res, flavour, err, started);
          return;
        }
      }
      serveChecked(req, res, c, started);
      return;
    }
    const query = new URLSearchParams(rawQuery);
    readForm(req, bounded.lease(res), (err, form) => {
      if (err) {
        res.setHeader('connection', 'close');
        lingerOnClose(req.socket);
        reject(req, res, flavour, err);
        count(flavour, err.status, started);
        return;
      }
      for (const [k, v] of form as URLSearchParams) query.append(k, v);
      // query and body together: checked every time (a form is not remembered)
      let c: CheckedQuery;
      try {
        c = checkQuery(flavour, query);
      } catch (e) {
        refuse(req, res, flavour, e, started);
        return;
      }
      serveChecked(req, res, c, started);
    });
  });

  /**
   * Refuses a request from its head. A request that may still carry a body gets `Connection:
   * close`, so its body is dropped with the connection rather than read. `flavour` null: not a
   * token path (not logged as a refused token request).
   */
  const refuseHead = (req: http.IncomingMessage, res: http.ServerResponse, flavour: Flavour | undefined | null, e: EndpointError): void => {
    if (!req.complete) {
      res.setHeader('connection', 'close');
      lingerOnClose(req.socket);
    }
    if (flavour === null) send(res, errorAnswer(e));
    else reject(req, res, flavour, e);
  };

  const bounded = bound(server, ENDPOINT_LIMITS, {
    refusal: refusalResponse('The token endpoint is at its connection limit; retry shortly'),
    onShed: (reason) => o.metrics.connectionsShed.labels('endpoint', reason).inc(),
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) socket.destroy();
    else socket.end(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? TIMED_OUT_REQUEST : MALFORMED_REQUEST);
  });
  return server;
}

/**
 * What the token endpoint may hold: a pod's apps need a handful of connections; 256 covers a
 * busy one. Memory held for requests is at most 256 × 8 KiB of heads + 1 MiB of bodies.
 */
export const ENDPOINT_LIMITS: ListenerLimits = {
  maxConnections: 128,
  maxBufferedBytes: 512 * 1024,
  maxHeaderBytes: MAX_HEADER_BYTES,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
};

/**
 * Reads a form body of at most MAX_BODY_BYTES (its head was checked by checkFormHead), each chunk
 * drawn from the listener's shared body budget: a spent budget is a 503 with Retry-After.
 */
function readForm(req: http.IncomingMessage, lease: BodyLease, done: (err: EndpointError | undefined, form?: URLSearchParams) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const fail = (e: EndpointError): void => {
    finished = true;
    chunks.length = 0;
    req.resume();
    done(e);
  };
  req.on('data', (c: Buffer) => {
    if (finished) return;
    size += c.length;
    if (size > MAX_BODY_BYTES) return fail(new EndpointError(413, 'invalid_request', `Body larger than ${MAX_BODY_BYTES} bytes`));
    if (!lease.take(c.length))
      return fail(new EndpointError(503, 'temporarily_unavailable', 'The token endpoint holds too many request bodies at once; retry shortly', 1));
    chunks.push(c);
  });
  req.on('end', () => {
    if (finished) return;
    finished = true;
    done(undefined, new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
  });
  req.on('error', () => {
    finished = true;
  });
}

const MALFORMED_BODY =
  '{"error":"invalid_request","error_description":"Malformed HTTP request or headers too large","message":"Malformed HTTP request or headers too large","statusCode":400}';
const MALFORMED_REQUEST = `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${MALFORMED_BODY.length}\r\nconnection: close\r\n\r\n${MALFORMED_BODY}`;
const TIMED_OUT_BODY =
  '{"error":"invalid_request","error_description":"The request was not sent in time","message":"The request was not sent in time","statusCode":408}';
const TIMED_OUT_REQUEST = `HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${TIMED_OUT_BODY.length}\r\nconnection: close\r\n\r\n${TIMED_OUT_BODY}`;

function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return (q === -1 ? u : u.slice(0, q)).slice(0, 200);
}
