/** An access token held by the sidecar. Times are absolute, in milliseconds since the epoch. */
export interface AccessToken {
  readonly token: string;
  readonly scope: string;
  /** when the exchange that produced it started (our clock): the token's not-before for callers */
  readonly obtainedAtMs: number;
  readonly expiresOnMs: number;
  readonly extExpiresOnMs: number;
  /** Entra's `refresh_in` hint, as an absolute time, when it sent one */
  readonly refreshOnMs?: number;
}

/** `https://storage.azure.com` or `https://storage.azure.com/` → `https://storage.azure.com/.default`. */
export function scopeForResource(resource: string): string {
  return resource.endsWith('/.default') ? resource : `${resource.replace(/\/+$/, '')}/.default`;
}
