import { timingSafeEqual } from 'node:crypto';
import { APP_SERVICE_API_VERSION, FORWARDED_FOR_HEADER, IDENTITY_HEADER, IDENTITY_SELECTORS, IMDS_API_VERSION, IMDS_TOKEN_PATH, METADATA_HEADER, MSI_TOKEN_PATH, type Flavour } from './protocol.js';
import { EndpointError } from './responses.js';

/** A well-formed, authorised token request. */
export interface TokenRequest {
  flavour: Flavour;
  /** the resource exactly as requested (echoed back) */
  resource: string;
  /** the identity the caller selected, if any */
  selector?: { kind: 'client_id' | 'object_id' | 'resource_id'; value: string };
}

export type RequestHeaders = Record<string, string | string[] | undefined>;

/** Which flavour a path and method belong to; undefined when the path is not a token path. */
export function routeOf(method: string, rawPath: string): { flavour: Flavour } | { methodNotAllowed: true } | undefined {
  const path = normalisePath(rawPath);
  if (path === MSI_TOKEN_PATH) {
    if (method === 'GET') return { flavour: 'app_service' };
    if (method === 'POST') return { flavour: 'msi' };
    return { methodNotAllowed: true };
  }
  if (path.toLowerCase() === IMDS_TOKEN_PATH) return method === 'GET' ? { flavour: 'imds' } : { methodNotAllowed: true };
  return undefined;
}

/** Collapses doubled slashes and drops a trailing one: SDKs join host and path differently. */
export function normalisePath(path: string): string {
  const collapsed = path.replace(/\/{2,}/g, '/');
  return collapsed.length > 1 ? collapsed.replace(/\/$/, '') : collapsed;
}

/**
 * Checks one request of a known flavour and extracts what it asks for. Pure: throws
 * EndpointError with the status and message the caller gets. `params` are the query (GET) or
 * the form body (POST).
 */
export function parseTokenRequest(flavour: Flavour, h: RequestHeaders, params: URLSearchParams, identityHeader: Buffer): TokenRequest {
  if (h[FORWARDED_FOR_HEADER] !== undefined) {
    throw new EndpointError(400, 'invalid_request', 'Requests with an X-Forwarded-For header are refused: the token endpoint is for callers inside the pod, not through a proxy');
  }
  const secret = h[IDENTITY_HEADER];
  if (flavour === 'app_service') {
    if (secret === undefined) throw new EndpointError(401, 'unauthorized_client', 'Missing X-IDENTITY-HEADER: send the value of the IDENTITY_HEADER environment variable');
    if (!secretMatches(secret, identityHeader)) throw new EndpointError(401, 'unauthorized_client', 'Wrong X-IDENTITY-HEADER: send the value of the IDENTITY_HEADER environment variable');
    const apiVersion = params.get('api-version');
    if (apiVersion !== null && apiVersion !== APP_SERVICE_API_VERSION) {
      throw new EndpointError(400, 'invalid_request', `Unsupported api-version "${short(apiVersion)}": this endpoint speaks ${APP_SERVICE_API_VERSION}`);
    }
  } else {
    if (secret !== undefined && !secretMatches(secret, identityHeader)) throw new EndpointError(401, 'unauthorized_client', 'Wrong X-IDENTITY-HEADER: send the value of the IDENTITY_HEADER environment variable, or leave the header out');
    const metadata = h[METADATA_HEADER];
    if (typeof metadata !== 'string' || metadata.toLowerCase() !== 'true') {
      throw new EndpointError(400, 'bad_request_102', 'Required metadata header not specified: send Metadata: true');
    }
    const apiVersion = params.get('api-version');
    if (flavour === 'imds' && apiVersion !== null && apiVersion !== IMDS_API_VERSION) {
      throw new EndpointError(400, 'invalid_request', `Unsupported api-version "${short(apiVersion)}": this endpoint speaks ${IMDS_API_VERSION}`);
    }
  }
  const resources = params.getAll('resource');
  if (resources.length === 0 || !resources[0]) throw new EndpointError(400, 'invalid_request', 'Missing resource: pass resource=<resource URI>, e.g. resource=https://management.azure.com/');
  if (resources.length > 1) throw new EndpointError(400, 'invalid_request', 'More than one resource parameter: ask for one resource per request');
  const resource = resources[0];
  if (resource.length > 2048 || /\s/.test(resource) || !/^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$|^[0-9a-fA-F-]{36}$/.test(resource)) {
    throw new EndpointError(400, 'invalid_resource', `Invalid resource "${short(resource)}": pass a resource URI such as https://management.azure.com/`);
  }
  let selector: TokenRequest['selector'];
  for (const [key, kind] of Object.entries(IDENTITY_SELECTORS)) {
    const value = params.get(key);
    if (value === null || value === '') continue;
    if (selector && (selector.kind !== kind || selector.value.toLowerCase() !== value.toLowerCase())) {
      throw new EndpointError(400, 'invalid_request', 'More than one identity selector: pass only one of client_id, object_id, principal_id or mi_res_id');
    }
    selector = { kind, value };
  }
  return { flavour, resource, selector };
}

/** Constant-time comparison of the caller's secret with ours. */
export function secretMatches(given: string | string[], expected: Buffer): boolean {
  if (typeof given !== 'string') return false;
  const g = Buffer.from(given, 'utf8');
  if (g.length !== expected.length) {
    timingSafeEqual(expected, expected);
    return false;
  }
  return timingSafeEqual(g, expected);
}

function short(value: string): string {
  const v = value.replace(/[^\x20-\x7e]/g, '?');
  return v.length > 80 ? `${v.slice(0, 80)}…` : v;
}
