import { timingSafeEqual } from 'node:crypto';
import type { Flavour } from '../../contract/flavours.js';
import { FLAVOUR_LIST, FLAVOUR_SPECS } from './flavours/registry.js';
import { FORM_CONTENT_TYPE, IDENTITY_HEADER, MAX_BODY_BYTES, RELAY_HEADERS, IDENTITY_SELECTORS, METADATA_HEADER } from './protocol.js';
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
  // the paths as every SDK sends them need no normalising
  const path = EXACT_PATHS.has(rawPath) ? rawPath : normalisePath(rawPath);
  let onPath = false;
  for (const f of FLAVOUR_LIST) {
    if (path !== f.path && !(f.pathAnyCase && path.toLowerCase() === f.path)) continue;
    if (method === f.method) return ROUTES[f.id];
    onPath = true;
  }
  return onPath ? METHOD_NOT_ALLOWED : undefined;
}

const EXACT_PATHS = new Set(FLAVOUR_LIST.map((f) => f.path));
/** routeOf's answers, made once (the endpoint asks on every request) */
const ROUTES = Object.fromEntries(FLAVOUR_LIST.map((f) => [f.id, Object.freeze({ flavour: f.id })])) as Record<Flavour, { readonly flavour: Flavour }>;
const METHOD_NOT_ALLOWED = Object.freeze({ methodNotAllowed: true as const });

/** The endpoints, as the 404 for an unknown path names them. */
export const ENDPOINTS_TEXT = FLAVOUR_LIST.map((f) => `${f.method} ${f.path} (${f.title})`)
  .join(', ')
  .replace(/, ([^,]*)$/, ' or $1');

/** Collapses doubled slashes and drops a trailing one: SDKs join host and path differently. */
export function normalisePath(path: string): string {
  const collapsed = path.replace(/\/{2,}/g, '/');
  return collapsed.length > 1 ? collapsed.replace(/\/$/, '') : collapsed;
}

/**
 * Checks who is calling, from the request head alone, before any body is read: no relay header,
 * the right secret (App Service) or `Metadata: true` (IMDS, MSI_ENDPOINT) and no wrong secret.
 * Pure: throws EndpointError.
 */
export function checkCaller(flavour: Flavour, h: RequestHeaders, identityHeader: Buffer): void {
  for (const name in RELAY_HEADERS) {
    if (h[name] !== undefined)
      throw new EndpointError(
        400,
        'invalid_request',
        `Requests with a ${RELAY_HEADERS[name]} header are refused: the token endpoint is for callers inside the pod, not through a proxy`,
      );
  }
  const secret = h[IDENTITY_HEADER];
  if (FLAVOUR_SPECS[flavour].caller === 'identity-header') {
    if (secret === undefined)
      throw new EndpointError(401, 'unauthorized_client', 'Missing X-IDENTITY-HEADER: send the value of the IDENTITY_HEADER environment variable');
    if (!secretMatches(secret, identityHeader))
      throw new EndpointError(401, 'unauthorized_client', 'Wrong X-IDENTITY-HEADER: send the value of the IDENTITY_HEADER environment variable');
    return;
  }
  if (secret !== undefined && !secretMatches(secret, identityHeader))
    throw new EndpointError(
      401,
      'unauthorized_client',
      'Wrong X-IDENTITY-HEADER: send the value of the IDENTITY_HEADER environment variable, or leave the header out',
    );
  const metadata = h[METADATA_HEADER];
  if (typeof metadata !== 'string' || metadata.toLowerCase() !== 'true') {
    throw new EndpointError(400, 'bad_request_102', 'Required metadata header not specified: send Metadata: true');
  }
}

/**
 * Checks the head of a POST /msi/token before its body is read: a form Content-Type (every SDK
 * sends one; a missing one is refused too) and a declared length within MAX_BODY_BYTES.
 */
export function checkFormHead(h: RequestHeaders): void {
  const type = String(h['content-type'] ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  if (type !== FORM_CONTENT_TYPE) {
    throw new EndpointError(415, 'invalid_request', `POST /msi/token takes a form body: send Content-Type: ${FORM_CONTENT_TYPE} with resource=<resource URI>`);
  }
  if (Number(h['content-length'] ?? 0) > MAX_BODY_BYTES) throw new EndpointError(413, 'invalid_request', `Body larger than ${MAX_BODY_BYTES} bytes`);
}

/**
 * Checks one request of a known flavour and extracts what it asks for: `checkCaller`, then
 * `checkParams`. Pure: throws EndpointError with the status and message the caller gets.
 * `params` are the query (GET) or the form body (POST).
 */
export function parseTokenRequest(flavour: Flavour, h: RequestHeaders, params: URLSearchParams, identityHeader: Buffer): TokenRequest {
  checkCaller(flavour, h, identityHeader);
  return checkParams(flavour, params);
}

/** What an authorised caller asks for (api-version, resource, identity selector). Pure: throws EndpointError. */
export function checkParams(flavour: Flavour, params: URLSearchParams): TokenRequest {
  const apiVersion = params.get('api-version');
  const speaks = FLAVOUR_SPECS[flavour].apiVersion;
  if (speaks !== undefined && apiVersion !== null && apiVersion !== speaks) {
    throw new EndpointError(400, 'invalid_request', `Unsupported api-version "${short(apiVersion)}": this endpoint speaks ${speaks}`);
  }
  const resources = params.getAll('resource');
  if (resources.length === 0 || !resources[0])
    throw new EndpointError(400, 'invalid_request', 'Missing resource: pass resource=<resource URI>, e.g. resource=https://management.azure.com/');
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
  // the caller's bytes go into one scratch buffer per expected length (no allocation per request)
  const scratch = scratchFor(expected);
  if (Buffer.byteLength(given, 'utf8') !== expected.length) {
    timingSafeEqual(expected, scratch);
    return false;
  }
  scratch.write(given, 'utf8');
  return timingSafeEqual(scratch, expected);
}

const scratchBuffers = new WeakMap<Buffer, Buffer>();
function scratchFor(expected: Buffer): Buffer {
  let s = scratchBuffers.get(expected);
  if (!s) {
    s = Buffer.alloc(expected.length);
    scratchBuffers.set(expected, s);
  }
  return s;
}

function short(value: string): string {
  const v = value.replace(/[^\x20-\x7e]/g, '?');
  return v.length > 80 ? `${v.slice(0, 80)}…` : v;
}
