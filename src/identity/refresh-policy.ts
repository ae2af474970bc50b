import type { AccessToken } from './access-token.js';
import type { ExchangeError } from './errors.js';

/** The knobs of the refresh policy; the defaults are the product's. */
export interface RefreshPolicy {
  /** refresh no later than this long before expiry (when the lifetime allows) */
  expiryMarginMs: number;
  /** ± share of the refresh delay drawn at random, so a fleet started together spreads out */
  jitterRatio: number;
  /** first retry delay ceiling; doubles per consecutive failure */
  backoffBaseMs: number;
  /** the backoff ceiling; permanent refusals wait this long */
  backoffCapMs: number;
}

export const DEFAULT_REFRESH_POLICY: RefreshPolicy = {
  expiryMarginMs: 5 * 60_000,
  jitterRatio: 0.1,
  backoffBaseMs: 1_000,
  backoffCapMs: 60_000,
};

/**
 * When to refresh a freshly obtained token, as a delay from `nowMs`: at min(half its lifetime,
 * expiry − 5 min), never earlier than a quarter of its lifetime (so a token living under 10 min
 * is not refreshed in a tight loop), or at Entra's `refresh_in` when that is earlier; then ±10 %
 * jitter. Pure: `random` is a uniform [0,1) source.
 *
 * @example
 * refreshDelayMs(token, Date.now(), Math.random) // ≈ 30 min for a 60 min token
 */
export function refreshDelayMs(token: AccessToken, nowMs: number, random: () => number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY): number {
  const lifetime = Math.max(0, token.expiresOnMs - token.obtainedAtMs);
  let offset = Math.min(lifetime / 2, lifetime - policy.expiryMarginMs);
  offset = Math.max(offset, lifetime / 4);
  let at = token.obtainedAtMs + offset;
  if (token.refreshOnMs !== undefined && token.refreshOnMs > token.obtainedAtMs && token.refreshOnMs < at) at = token.refreshOnMs;
  const delay = Math.max(0, at - nowMs);
  const jitter = 1 + policy.jitterRatio * (2 * random() - 1);
  return Math.round(delay * jitter);
}

/**
 * When to refresh the first token a scope gets after the sidecar starts: uniformly between 10 %
 * and 100 % of the usual refresh delay (without the ±10 % jitter). Sidecars that start together —
 * a rollout, a node reboot — would otherwise refresh together for many cycles, ±10 % jitter
 * spreading them only slowly; this spreads them over the whole refresh period at once, for one
 * early exchange per scope per start.
 *
 * @example
 * firstRefreshDelayMs(token, Date.now(), Math.random) // between 3 and 30 min for a 60 min token
 */
export function firstRefreshDelayMs(token: AccessToken, nowMs: number, random: () => number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY): number {
  const usual = refreshDelayMs(token, nowMs, () => 0.5, policy);
  return Math.round(usual * (0.1 + 0.9 * random()));
}

/**
 * How long to wait after a failed exchange: exponential backoff with full jitter (1 s doubling to
 * a 60 s cap) for transient trouble, at least Entra's Retry-After, and straight to the cap for a
 * permanent refusal. `failures` counts consecutive failures including this one (≥ 1).
 *
 * @example
 * backoffDelayMs(1, err, Math.random) // in [100 ms, 1 s) for a transient error
 */
export function backoffDelayMs(
  failures: number,
  error: Pick<ExchangeError, 'retryable' | 'retryAfterMs'>,
  random: () => number,
  policy: RefreshPolicy = DEFAULT_REFRESH_POLICY,
): number {
  if (!error.retryable) return policy.backoffCapMs;
  const ceiling = Math.min(policy.backoffCapMs, policy.backoffBaseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  const drawn = Math.max(policy.backoffBaseMs / 10, random() * ceiling);
  return Math.round(Math.max(drawn, Math.min(error.retryAfterMs ?? 0, 10 * policy.backoffCapMs)));
}

/** A token is served while it has not expired. */
export function isServable(token: AccessToken | undefined, nowMs: number): token is AccessToken {
  return token !== undefined && token.expiresOnMs > nowMs;
}
