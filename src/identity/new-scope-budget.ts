/** The new-scope budget's two settings. */
export interface NewScopeBudgetOptions {
  /** new scopes allowed at once (the bucket's size) */
  burst: number;
  /** new scopes allowed per minute after the burst (the refill rate; 0: the burst is all there is) */
  perMinute: number;
}

export const DEFAULT_NEW_SCOPE_BUDGET: NewScopeBudgetOptions = { burst: 10, perMinute: 6 };

/**
 * How many scopes a sidecar may start asking Entra for on demand: a token bucket holding `burst`
 * new scopes, refilled at `perMinute`. Configured targets never draw on it, nor do refreshes and
 * retries of scopes already held: only a scope the store does not know yet costs one. Pure: the
 * caller passes the time.
 *
 * @example
 * const budget = new NewScopeBudget({ burst: 10, perMinute: 6 }, Date.now());
 * const wait = budget.take(Date.now()); // 0: granted; otherwise ms until the next one
 */
export class NewScopeBudget {
  private tokens: number;
  private updatedAtMs: number;

  constructor(
    readonly options: NewScopeBudgetOptions,
    nowMs: number,
  ) {
    this.tokens = options.burst;
    this.updatedAtMs = nowMs;
  }

  /**
   * Takes one new scope from the budget. Returns 0 when granted, else how many ms until one is
   * available (Infinity when nothing refills).
   */
  take(nowMs: number): number {
    this.refill(nowMs);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    if (this.options.perMinute <= 0) return Infinity;
    return Math.ceil(((1 - this.tokens) * 60_000) / this.options.perMinute);
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.updatedAtMs);
    this.updatedAtMs = Math.max(this.updatedAtMs, nowMs);
    this.tokens = Math.min(this.options.burst, this.tokens + (elapsed * this.options.perMinute) / 60_000);
  }
}
