import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { signJwt } from './jwt.js';
import type { SigningKey } from './keys.js';

/** Entra's token response for the client-credentials grant. */
export interface TokenResponseBody {
  token_type: 'Bearer';
  expires_in: number;
  ext_expires_in: number;
  refresh_in?: number;
  access_token: string;
}

/** The object id Entra would give the application's service principal in a tenant: stable per (tenant, client). */
export function servicePrincipalObjectId(tenantId: string, clientId: string): string {
  const h = createHash('sha256').update(`${tenantId.toLowerCase()}\0${clientId.toLowerCase()}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Mints an app-only v1 access token like Entra's: RS256 with `x5t`/`kid`, `iss`
 * `https://sts.windows.net/<tenant>/`, `aud` the resource, `appid`/`azp` the client, `oid`/`sub`
 * the service principal, and a unique `uti` and `jti`. Like Entra, `iat`/`nbf` are backdated 5 minutes.
 *
 * @example
 * const body = issueAccessToken(key, { tenantId, clientId, resource: 'https://vault.azure.net', lifetimeSec: 3599 }, Date.now());
 */
export function issueAccessToken(
  key: SigningKey & { x5t: string },
  r: { tenantId: string; clientId: string; resource: string; lifetimeSec: number; refreshInSec?: number },
  nowMs: number,
): TokenResponseBody {
  const now = Math.floor(nowMs / 1000);
  const oid = servicePrincipalObjectId(r.tenantId, r.clientId);
  const sts = `https://sts.windows.net/${r.tenantId}/`;
  const claims = {
    aud: r.resource,
    iss: sts,
    iat: now - 300,
    nbf: now - 300,
    exp: now + r.lifetimeSec,
    aio: randomBytes(48).toString('base64'),
    appid: r.clientId,
    appidacr: '2',
    azp: r.clientId,
    idp: sts,
    idtyp: 'app',
    jti: randomUUID(),
    oid,
    rh: `0.${randomBytes(24).toString('base64url')}.`,
    sub: oid,
    tid: r.tenantId,
    uti: randomBytes(16).toString('base64url').slice(0, 22),
    ver: '1.0',
  };
  const token = signJwt({ typ: 'JWT', alg: 'RS256', x5t: key.x5t, kid: key.kid }, claims, key.privateKey);
  const body: TokenResponseBody = { token_type: 'Bearer', expires_in: r.lifetimeSec, ext_expires_in: r.lifetimeSec, access_token: token };
  if (r.refreshInSec !== undefined) {
    return { token_type: 'Bearer', expires_in: r.lifetimeSec, ext_expires_in: r.lifetimeSec, refresh_in: r.refreshInSec, access_token: token };
  }
  return body;
}
