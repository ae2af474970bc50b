import type { KeyObject } from 'node:crypto';
import { decodeJwt, verifyRs256 } from './jwt.js';
import { isCertificateAssertion, type ClientCredentials } from './client-credentials.js';
import type { Directory } from './directory.js';
import type { ErrorDetails } from './entra-errors.js';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** What the token endpoint needs to judge a request. */
export interface TokenRequestContext {
  directory: Directory;
  /** the public key an issuer publishes under a kid, if any */
  issuerKey(issuer: string, kid: string): KeyObject | undefined;
  unknownResources: ReadonlySet<string>;
  nowMs: number;
  /** client secrets and certificates of the applications, and the token endpoint URL (a certificate assertion's `aud`) */
  clientCredentials?: ClientCredentials;
  tokenEndpoint?: string;
}

/** The fields of a request that records and messages need, whether it was accepted or not. */
export interface TokenRequestSummary {
  tenant: string;
  clientId: string;
  scope: string;
  /** the assertion's `jti`, when it decodes */
  jti?: string;
  details: ErrorDetails;
}

export type TokenDecision =
  | { ok: true; summary: TokenRequestSummary; resource: string; credentialId?: string }
  | { ok: false; summary: TokenRequestSummary; code: number };

/**
 * Reads the fields a record needs from a token request, without judging it.
 *
 * @example
 * summarizeTokenRequest('tenant-guid', new URLSearchParams(body)).scope
 */
export function summarizeTokenRequest(tenant: string, form: URLSearchParams): TokenRequestSummary {
  const scope = withoutOidcScopes(form.get('scope') ?? '');
  const clientId = form.get('client_id') ?? '';
  const assertion = form.get('client_assertion');
  const jwt = assertion ? decodeJwt(assertion) : undefined;
  const p = jwt?.payload ?? {};
  const aud = audiences(p.aud);
  const details: ErrorDetails = {
    tenant,
    clientId,
    scope,
    resource: scope.endsWith('/.default') ? scope.slice(0, -'/.default'.length) : scope,
    grantType: form.get('grant_type') ?? '',
    issuer: typeof p.iss === 'string' ? p.iss : undefined,
    subject: typeof p.sub === 'string' ? p.sub : undefined,
    audience: aud.join(','),
    keyId: typeof jwt?.header.kid === 'string' ? jwt.header.kid : undefined,
    notBefore: typeof p.nbf === 'number' ? p.nbf : undefined,
    expiry: typeof p.exp === 'number' ? p.exp : undefined,
  };
  return { tenant, clientId, scope, jti: typeof p.jti === 'string' ? p.jti : undefined, details };
}

/**
 * Judges a client-credentials token request with a federated client assertion, in the order
 * Entra does: tenant, request shape, application, scope, assertion (format, federated credential
 * match, signature by a key of that issuer, time range), resource.
 *
 * @example
 * const d = judgeTokenRequest(tenant, form, ctx);
 * if (!d.ok) return entraError(d.code, d.summary.details, ...);
 */
export function judgeTokenRequest(tenant: string, form: URLSearchParams, ctx: TokenRequestContext): TokenDecision {
  const summary = summarizeTokenRequest(tenant, form);
  const fail = (code: number, extra: ErrorDetails = {}): TokenDecision => ({
    ok: false,
    summary: { ...summary, details: { ...summary.details, ...extra } },
    code,
  });

  if (!ctx.directory.hasTenant(tenant)) return fail(90002);
  const grantType = form.get('grant_type');
  if (!grantType) return fail(900144, { parameter: 'grant_type' });
  if (grantType !== 'client_credentials') return fail(70003);
  if (!summary.clientId) return fail(900144, { parameter: 'client_id' });
  if (!ctx.directory.hasApplication(tenant, summary.clientId)) return fail(700016);
  if (!summary.scope) return fail(900144, { parameter: 'scope' });
  const scopes = summary.scope.split(/\s+/).filter((s) => s !== '');
  if (scopes.length !== 1 || !(scopes[0] as string).endsWith('/.default') || (scopes[0] as string).length <= '/.default'.length) {
    return fail(1002012);
  }

  const resourceOf = (credentialId?: string): TokenDecision => {
    const resource = summary.details.resource as string;
    if (ctx.unknownResources.has(resource)) return fail(500011);
    return { ok: true, summary, resource, credentialId };
  };
  const secret = form.get('client_secret');
  const assertion = form.get('client_assertion');
  if (secret !== null && ctx.clientCredentials) {
    const r = ctx.clientCredentials.judgeSecret(summary.clientId, secret, ctx.nowMs);
    return r.ok ? resourceOf(r.credentialId) : fail(r.code, r.extra);
  }
  if (!assertion) return fail(7000218);
  const assertionType = form.get('client_assertion_type');
  if (assertionType !== JWT_BEARER_ASSERTION_TYPE) return fail(90014, { parameter: 'client_assertion_type' });
  const jwt = decodeJwt(assertion);
  if (!jwt) return fail(50027);
  if (isCertificateAssertion(jwt) && ctx.clientCredentials) {
    const r = ctx.clientCredentials.judgeCertificateAssertion(summary.clientId, jwt, ctx.tokenEndpoint ?? '', ctx.nowMs);
    return r.ok ? resourceOf(r.credentialId) : fail(r.code, r.extra);
  }
  const { issuer, subject } = summary.details;
  if (issuer === undefined || subject === undefined) return fail(50027);
  if (!ctx.directory.matchesCredential(summary.clientId, issuer, subject, audiences(jwt.payload.aud))) return fail(70021);
  const kid = summary.details.keyId ?? '';
  const key = ctx.issuerKey(issuer, kid);
  if (!key || !verifyRs256(jwt, key)) return fail(7000272);
  const now = ctx.nowMs / 1000;
  const nbf = summary.details.notBefore ?? 0;
  const exp = summary.details.expiry ?? 0;
  if (now < nbf || now >= exp) return fail(700024);

  return resourceOf();
}

/**
 * OpenID Connect scopes that MSAL libraries add to every token request (MSAL Go sends
 * `<resource>/.default openid offline_access profile` for the client-credentials grant too), and
 * that Entra ignores for it: the request is judged, recorded and faulted by its resource scope.
 */
const OIDC_SCOPES = new Set(['openid', 'offline_access', 'profile', 'email']);

function withoutOidcScopes(scope: string): string {
  const parts = scope.split(/\s+/).filter((s) => s !== '');
  const rest = parts.filter((s) => !OIDC_SCOPES.has(s));
  return rest.length > 0 && rest.length < parts.length ? rest.join(' ') : scope;
}

function audiences(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === 'string');
  return [];
}
