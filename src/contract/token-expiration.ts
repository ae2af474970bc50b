/** `expirationSeconds` of the projected service-account token the sidecar exchanges. */

export const TOKEN_EXPIRATION_MIN = 3600;
export const TOKEN_EXPIRATION_MAX = 86400;
export const DEFAULT_TOKEN_EXPIRATION = 3600;

/**
 * Parses whole seconds within [3600, 86400] (kubelet's and Azure Workload Identity's bounds). Only
 * plain digits: `3.6e3`, `0x0e10` and `3600.0` are refused.
 *
 * @example
 * parseTokenExpiration('7200') // { seconds: 7200 }
 */
export function parseTokenExpiration(text: string): { seconds: number } | { problem: string } {
  const v = text.trim();
  const n = /^\d{1,9}$/.test(v) ? Number(v) : Number.NaN;
  if (n >= TOKEN_EXPIRATION_MIN && n <= TOKEN_EXPIRATION_MAX) return { seconds: n };
  return { problem: `must be whole seconds from ${TOKEN_EXPIRATION_MIN} to ${TOKEN_EXPIRATION_MAX}` };
}
