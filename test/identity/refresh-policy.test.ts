import { describe, expect, it } from 'vitest';
import { backoffDelayMs, DEFAULT_REFRESH_POLICY, firstRefreshDelayMs, isServable, refreshDelayMs } from '../../src/identity/refresh-policy.js';
import type { AccessToken } from '../../src/identity/access-token.js';

const T0 = 1_800_000_000_000;
const token = (lifetimeMs: number, extra: Partial<AccessToken> = {}): AccessToken => ({
  token: 'x',
  scope: 's/.default',
  obtainedAtMs: T0,
  expiresOnMs: T0 + lifetimeMs,
  extExpiresOnMs: T0 + lifetimeMs,
  ...extra,
});
const mid = () => 0.5;

describe('refreshDelayMs', () => {
  it('refreshes a 1 h token at half its life', () => {
    expect(refreshDelayMs(token(3_600_000), T0, mid)).toBe(1_800_000);
  });
  it('refreshes a 24 h token at half its life (well before expiry − 5 min)', () => {
    expect(refreshDelayMs(token(86_400_000), T0, mid)).toBe(43_200_000);
  });
  it('refreshes an 8 min token 5 min before expiry... but never before a quarter of its life', () => {
    // min(4 min, 3 min) = 3 min, above a quarter (2 min)
    expect(refreshDelayMs(token(8 * 60_000), T0, mid)).toBe(3 * 60_000);
    // 6 min: min(3 min, 1 min) = 1 min < a quarter (1.5 min) → 1.5 min
    expect(refreshDelayMs(token(6 * 60_000), T0, mid)).toBe(90_000);
  });
  it('refreshes a 5 s token after a quarter of its life (expiry − 5 min is long past), not in a loop', () => {
    expect(refreshDelayMs(token(5_000), T0, mid)).toBe(1_250);
  });
  it('honours refresh_in when it is earlier', () => {
    expect(refreshDelayMs(token(3_600_000, { refreshOnMs: T0 + 600_000 }), T0, mid)).toBe(600_000);
    expect(refreshDelayMs(token(3_600_000, { refreshOnMs: T0 + 3_000_000 }), T0, mid)).toBe(1_800_000);
  });
  it('keeps jitter within ±10 %', () => {
    expect(refreshDelayMs(token(3_600_000), T0, () => 0)).toBe(1_620_000);
    expect(refreshDelayMs(token(3_600_000), T0, () => 0.999999)).toBe(Math.round(1_800_000 * (1 + 0.1 * (2 * 0.999999 - 1))));
    for (let i = 0; i < 1000; i++) {
      const d = refreshDelayMs(token(3_600_000), T0, Math.random);
      expect(d).toBeGreaterThanOrEqual(1_620_000);
      expect(d).toBeLessThanOrEqual(1_980_000);
    }
  });
  it('counts from now when time has passed since the token was obtained', () => {
    expect(refreshDelayMs(token(3_600_000), T0 + 1_000_000, mid)).toBe(800_000);
    expect(refreshDelayMs(token(3_600_000), T0 + 2_000_000, mid)).toBe(0);
  });
});

describe('firstRefreshDelayMs', () => {
  it('spreads between 10 % and 100 % of the usual delay, without the ±10 % jitter', () => {
    expect(firstRefreshDelayMs(token(3_600_000), T0, () => 0)).toBe(180_000);
    expect(firstRefreshDelayMs(token(3_600_000), T0, () => 0.5)).toBe(990_000);
    for (let i = 0; i < 1000; i++) {
      const d = firstRefreshDelayMs(token(3_600_000), T0, Math.random);
      expect(d).toBeGreaterThanOrEqual(180_000);
      expect(d).toBeLessThanOrEqual(1_800_000);
    }
  });
});

describe('backoffDelayMs', () => {
  const transient = { retryable: true, retryAfterMs: undefined };
  it('doubles the ceiling from 1 s to a 60 s cap, with full jitter', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8, 12].map((n) => backoffDelayMs(n, transient, () => 0.999999));
    expect(ceilings.map((c) => Math.round(c / 1000))).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60]);
    expect(backoffDelayMs(3, transient, () => 0.5)).toBe(2_000);
  });
  it('never waits less than a tenth of the base (no hot loop)', () => {
    expect(backoffDelayMs(1, transient, () => 0)).toBe(100);
  });
  it('waits at least Retry-After', () => {
    expect(backoffDelayMs(1, { retryable: true, retryAfterMs: 30_000 }, () => 0.1)).toBe(30_000);
  });
  it('goes straight to the cap for a permanent refusal', () => {
    expect(backoffDelayMs(1, { retryable: false, retryAfterMs: undefined }, () => 0)).toBe(DEFAULT_REFRESH_POLICY.backoffCapMs);
  });
});

describe('isServable', () => {
  it('serves a token until it expires, not after', () => {
    const t = token(5_000);
    expect(isServable(t, T0 + 4_999)).toBe(true);
    expect(isServable(t, T0 + 5_000)).toBe(false);
    expect(isServable(undefined, T0)).toBe(false);
  });
});
