import type { KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { issueAccessToken } from './access-token.js';
import { ADMIN_PREFIX, handleAdmin, type AdminControls } from './admin.js';
import type { ClientCredentials } from './client-credentials.js';
import type { Directory } from './directory.js';
import { instanceDiscovery, jsonWebKeySet, openIdConfiguration } from './discovery.js';
import { entraError, traceId, type ErrorDetails } from './entra-errors.js';
import { proxyErrorPage, TRUNCATED_TOKEN_RESPONSE, type FaultSchedule } from './faults.js';
import type { History } from './history.js';
import { BodyTooLarge, clientRequestId, entraHeaders, readBody, send, sendJson } from './http.js';
import type { SigningKey } from './keys.js';
import { judgeTokenRequest, summarizeTokenRequest } from './token-request.js';
import type { ExchangeRecord, Fault } from './types.js';

/** Run-time settings the token endpoint reads on every request. */
export interface TokenSettings {
  tokenLifetimeSec: number;
  refreshInSec?: number;
  unknownResources: Set<string>;
}

/** Everything the routes need; owned and wired by startEmulator. */
export interface RouteDeps {
  baseUrl(): string;
  directory: Directory;
  /** client secrets and certificates of the applications */
  clientCredentials?: ClientCredentials;
  history: History;
  faults: FaultSchedule;
  settings: TokenSettings;
  entraKey: SigningKey & { x5t: string; x5c: string; n: string; e: string };
  issuerKey(issuer: string, kid: string): KeyObject | undefined;
  /** fetches an external issuer's keys again when an assertion names an unknown kid (optional) */
  prepareIssuer?(issuer: string, kid: string): Promise<void>;
  admin: AdminControls;
  /** timers of delayed answers, cleared by close() */
  timers: Set<NodeJS.Timeout>;
  logger?: Logger;
  now(): number;
}

const PUBLIC_TENANTS = new Set(['common', 'organizations', 'consumers']);

/**
 * The emulator's HTTP handler: Entra's discovery, JWKS and token endpoints, and the admin API.
 * Never throws; every request gets an answer (unless a fault says otherwise).
 *
 * @example
 * https.createServer(tls, createRequestHandler(deps))
 */
export function createRequestHandler(d: RouteDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(d, req, res).catch((err: unknown) => {
      d.logger?.error({ err: err instanceof Error ? err.message : String(err) }, 'request failed');
      sendJson(res, 500, { error: 'server_error', error_description: 'The emulator failed to handle the request.' });
    });
  };
}

async function route(d: RouteDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'https://emulator.invalid');
  const path = url.pathname;
  d.history.request({ at: d.now(), method, path });
  if (path.startsWith(ADMIN_PREFIX)) return handleAdmin(req, res, path, d.admin);

  const segs = path.split('/').filter((s) => s !== '');
  const [tenant = '', ...rest] = segs;
  const tail = rest.join('/');
  const correlation = clientRequestId(req);
  const trace = traceId();
  const headers = entraHeaders(trace, correlation);
  const knownTenant = PUBLIC_TENANTS.has(tenant.toLowerCase()) || d.directory.hasTenant(tenant);
  const tenantError = () => {
    const e = entraError(90002, { tenant }, { nowMs: d.now(), baseUrl: d.baseUrl(), correlationId: correlation, traceId: trace });
    sendJson(res, e.status, e.body, headers);
  };

  if (tail === 'discovery/instance' && method === 'GET') {
    return sendJson(res, 200, instanceDiscovery(d.baseUrl(), url.searchParams.get('authorization_endpoint')), headers);
  }
  if (tail === 'v2.0/.well-known/openid-configuration' && method === 'GET') {
    return knownTenant ? sendJson(res, 200, openIdConfiguration(d.baseUrl(), tenant), headers) : tenantError();
  }
  if (tail === 'discovery/v2.0/keys' && method === 'GET') {
    return knownTenant ? sendJson(res, 200, jsonWebKeySet(d.baseUrl(), tenant, d.entraKey), headers) : tenantError();
  }
  if (tail === 'oauth2/v2.0/token') {
    if (method !== 'POST') {
      const e = entraError(900561, { method }, { nowMs: d.now(), baseUrl: d.baseUrl(), correlationId: correlation, traceId: trace });
      return sendJson(res, e.status, e.body, headers);
    }
    return tokenEndpoint(d, req, res, tenant, correlation, trace);
  }
  sendJson(res, 404, { error: 'not_found', error_description: `The emulator has no endpoint ${method} ${path}.` });
}

async function tokenEndpoint(
  d: RouteDeps,
  req: IncomingMessage,
  res: ServerResponse,
  tenant: string,
  correlation: string | undefined,
  trace: string,
): Promise<void> {
  const at = d.now();
  let raw: string;
  try {
    raw = await readBody(req);
  } catch (err) {
    if (err instanceof BodyTooLarge) return sendJson(res, 413, { error: 'invalid_request', error_description: err.message });
    throw err;
  }
  const contentType = String(req.headers['content-type'] ?? '').toLowerCase();
  const form = contentType.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(raw) : new URLSearchParams();
  const summary = summarizeTokenRequest(tenant, form);
  const record: ExchangeRecord = { at, tenant, clientId: summary.clientId, scope: summary.scope, jti: summary.jti, status: 0 };
  d.history.exchange(record);
  const headers = entraHeaders(trace, correlation);
  const ctx = { baseUrl: d.baseUrl(), correlationId: correlation, traceId: trace };

  const done = (status: number, error?: string) => {
    d.history.answered(record, status, error);
    d.logger?.info({ tenant, clientId: summary.clientId, scope: summary.scope, status, error }, 'token request');
  };

  const answer = () => {
    const decision = judgeTokenRequest(tenant, form, {
      directory: d.directory,
      issuerKey: d.issuerKey,
      unknownResources: d.settings.unknownResources,
      nowMs: d.now(),
      clientCredentials: d.clientCredentials,
      tokenEndpoint: `${d.baseUrl()}/${tenant}/oauth2/v2.0/token`,
    });
    if (decision.ok && decision.credentialId) record.credentialId = decision.credentialId;
    if (!decision.ok) {
      const e = entraError(decision.code, decision.summary.details, { ...ctx, nowMs: d.now() });
      sendJson(res, e.status, e.body, headers);
      return done(e.status, `AADSTS${decision.code}`);
    }
    const body = issueAccessToken(
      d.entraKey,
      {
        tenantId: tenant,
        clientId: summary.clientId,
        resource: decision.resource,
        lifetimeSec: d.settings.tokenLifetimeSec,
        refreshInSec: d.settings.refreshInSec,
      },
      d.now(),
    );
    d.history.secret(body.access_token);
    sendJson(res, 200, body, headers);
    done(200);
  };

  if (d.prepareIssuer && summary.details.issuer !== undefined && summary.details.keyId !== undefined)
    await d.prepareIssuer(summary.details.issuer, summary.details.keyId);
  const fault = d.faults.take(summary.scope);
  if (!fault) return answer();
  applyFault(d, fault, req, res, summary.details, { ...ctx, headers }, answer, done);
}

function applyFault(
  d: RouteDeps,
  fault: Fault,
  req: IncomingMessage,
  res: ServerResponse,
  details: ErrorDetails,
  ctx: { baseUrl: string; correlationId?: string; traceId: string; headers: Record<string, string> },
  answer: () => void,
  done: (status: number, error?: string) => void,
): void {
  const transient = () => entraError(90033, details, { ...ctx, nowMs: d.now() }).body;
  switch (fault.kind) {
    case 'status': {
      const h = { ...ctx.headers, ...lower(fault.headers ?? {}) };
      if (typeof fault.body === 'string') send(res, fault.status, fault.body, { 'content-type': 'text/plain; charset=utf-8', ...h });
      else sendJson(res, fault.status, fault.body ?? transient(), h);
      return done(fault.status, 'fault:status');
    }
    case 'aadsts': {
      const e = entraError(fault.code, details, { ...ctx, nowMs: d.now() });
      sendJson(res, e.status, e.body, ctx.headers);
      return done(e.status, `AADSTS${fault.code}`);
    }
    case 'retry-after': {
      const status = fault.status ?? 429;
      sendJson(res, status, transient(), { ...ctx.headers, 'retry-after': String(fault.seconds) });
      return done(status, 'fault:retry-after');
    }
    case 'delay': {
      const timer = setTimeout(() => {
        d.timers.delete(timer);
        if (!res.destroyed) answer();
      }, fault.ms);
      d.timers.add(timer);
      return;
    }
    case 'hang':
      return done(0, 'fault:hang');
    case 'reset':
      req.socket.destroy();
      return done(0, 'fault:reset');
    case 'malformed-json':
      send(res, 200, TRUNCATED_TOKEN_RESPONSE, { 'content-type': 'application/json; charset=utf-8', ...ctx.headers });
      return done(200, 'fault:malformed-json');
    case 'html':
      send(res, fault.status, proxyErrorPage(fault.status), { 'content-type': 'text/html' });
      return done(fault.status, 'fault:html');
  }
}

function lower(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}
