import { createHash, randomUUID } from 'node:crypto';
import { signJwt } from './jwt.js';
import type { SigningKey } from './keys.js';
import type { ServiceAccountTokenOptions } from './types.js';

/** The audience workload identity federation expects in service-account tokens. */
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

/** Defaults for a minted token: the emulator's issuer and its default service account. */
export interface ServiceAccountDefaults {
  issuer: string;
  namespace: string;
  serviceAccount: string;
}

/** The Kubernetes subject of a service account: `system:serviceaccount:<ns>:<name>`. */
export function serviceAccountSubject(namespace: string, serviceAccount: string): string {
  return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

/** A stable uid for a name, so the same service account always carries the same uid. */
function stableUid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\0')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Mints a projected service-account token the way the Kubernetes API server does: RS256, `kid`
 * from the issuer key, `sub` system:serviceaccount:<ns>:<sa>, `aud` an array, and the
 * `kubernetes.io` claim with namespace, service account and pod.
 *
 * @example
 * const { token } = mintServiceAccountToken(key, defaults, { lifetimeSec: 600 }, Date.now());
 */
export function mintServiceAccountToken(
  key: SigningKey,
  defaults: ServiceAccountDefaults,
  o: ServiceAccountTokenOptions,
  nowMs: number,
): { token: string; jti: string; exp: number } {
  const now = Math.floor(nowMs / 1000);
  const namespace = o.namespace ?? defaults.namespace;
  const name = o.serviceAccount ?? defaults.serviceAccount;
  const audience = o.audience === undefined ? [TOKEN_EXCHANGE_AUDIENCE] : Array.isArray(o.audience) ? o.audience : [o.audience];
  const exp = now + (o.lifetimeSec ?? 3600);
  const jti = randomUUID();
  const podName = `${name}-${createHash('sha256')
    .update(namespace + name)
    .digest('hex')
    .slice(0, 10)}-x7k2p`;
  const payload = {
    aud: audience,
    exp,
    iat: now,
    iss: o.issuer ?? defaults.issuer,
    jti,
    'kubernetes.io': {
      namespace,
      pod: { name: podName, uid: stableUid('pod', namespace, podName) },
      serviceaccount: { name, uid: stableUid('sa', namespace, name) },
    },
    nbf: now + (o.notBeforeSec ?? 0),
    sub: serviceAccountSubject(namespace, name),
  };
  return { token: signJwt({ alg: 'RS256', kid: key.kid }, payload, key.privateKey), jti, exp };
}
