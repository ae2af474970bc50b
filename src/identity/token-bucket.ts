/**
 * A token bucket: `burst` at once, then `perMinute` more each minute, refilled continuously.
 * Pure: the caller passes the time. Used to budget exchanges for scopes asked for on demand.
 *
 * @example
 * const bucket = new TokenBucket(10, 6, Date.now());
 * const r = bucket.take(Date.now()); // { ok: true } or { ok: false, retryAfterMs }
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    readonly burst: number,
    readonly perMinute: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.lastMs = nowMs;
  }

  /** Takes one token if there is one; otherwise says how long until there is. */
  take(nowMs: number): { ok: true } | { ok: false; retryAfterMs: number } {
    const elapsed = Math.max(0, nowMs - this.lastMs);
    this.lastMs = Math.max(this.lastMs, nowMs);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.perMinute) / 60_000);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    if (this.perMinute <= 0) return { ok: false, retryAfterMs: 60_000 };
    return { ok: false, retryAfterMs: Math.ceil(((1 - this.tokens) * 60_000) / this.perMinute) };
  }
}
