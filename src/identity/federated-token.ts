import { readFile } from 'node:fs/promises';
import { FederatedTokenError } from './errors.js';

/** The claims of a service-account token that matter for federation and for error messages. */
export interface FederatedTokenClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  jti?: string;
  oid?: string;
}

export interface FederatedToken {
  token: string;
  claims: FederatedTokenClaims;
}

/**
 * Reads the projected service-account token afresh (kubelet rotates it at 80% of its life, so a
 * cached copy expires: AADSTS700024). Checks it is a JWT that has not expired.
 *
 * @example
 * const { token, claims } = await readFederatedToken('/var/run/secrets/entra-sidecar/serviceaccount/token');
 */
export async function readFederatedToken(file: string, nowMs: number = Date.now()): Promise<FederatedToken> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new FederatedTokenError(
        file,
        'does not exist: check the projected service-account token volume is mounted and AZURE_FEDERATED_TOKEN_FILE points at it',
      );
    if (code === 'EACCES' || code === 'EPERM')
      throw new FederatedTokenError(file, 'is not readable by this user: check the volume permissions (fsGroup) or the container user');
    if (code === 'EISDIR') throw new FederatedTokenError(file, 'is a folder: AZURE_FEDERATED_TOKEN_FILE must name the token file itself');
    throw new FederatedTokenError(file, `cannot be read (${code ?? 'unknown error'})`);
  }
  const token = raw.trim();
  if (token.length === 0) throw new FederatedTokenError(file, 'is empty: kubelet has not written the token yet, or the volume is wrong');
  const claims = decodeClaims(token);
  if (!claims) throw new FederatedTokenError(file, 'does not hold a JWT: it must be a projected service-account token (serviceAccountToken volume source)');
  if (typeof claims.exp === 'number' && claims.exp * 1000 <= nowMs) {
    throw new FederatedTokenError(
      file,
      `holds a token that expired at ${new Date(claims.exp * 1000).toISOString()}: kubelet should rotate it; check the kubelet and the volume's expirationSeconds`,
    );
  }
  return { token, claims };
}

/** Decodes a JWT's payload without verifying it (service-account or access token); undefined when it is not a JWT. */
export function decodeClaims(jwt: string): FederatedTokenClaims | undefined {
  const parts = jwt.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown;
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
    const p = payload as Record<string, unknown>;
    return {
      iss: typeof p.iss === 'string' ? p.iss : undefined,
      sub: typeof p.sub === 'string' ? p.sub : undefined,
      aud: typeof p.aud === 'string' || Array.isArray(p.aud) ? (p.aud as string | string[]) : undefined,
      exp: typeof p.exp === 'number' ? p.exp : undefined,
      jti: typeof p.jti === 'string' ? p.jti : undefined,
      oid: typeof p.oid === 'string' ? p.oid : undefined,
    };
  } catch {
    return undefined;
  }
}
