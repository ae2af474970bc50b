import { describe, expect, it } from 'vitest';
import type { AccessToken } from '../../src/identity/access-token.js';
import { ExchangeError, FederatedTokenError } from '../../src/identity/errors.js';
import { TokenStore, type TokenStoreEvents } from '../../src/identity/token-store.js';
import { FakeClock, flush } from '../helpers/fake-clock.js';

const S = 'https://storage.azure.com/.default';
const M = 'https://management.azure.com/.default';

/** A scripted exchange: each call takes the next outcome (a lifetime in ms, or an error). */
function scripted(clock: FakeClock, outcomes: Array<number | ExchangeError | 'hold'>) {
  const calls: { scope: string; at: number }[] = [];
  let i = 0;
  const exchange = async (scope: string): Promise<AccessToken> => {
    calls.push({ scope, at: clock.now() });
    const o = outcomes[Math.min(i++, outcomes.length - 1)];
    if (o instanceof ExchangeError) throw o;
    if (o === 'hold') return new Promise(() => undefined);
    const now = clock.now();
    return { token: `tok-${calls.length}`, scope, obtainedAtMs: now, expiresOnMs: now + o, extExpiresOnMs: now + o };
  };
  return { exchange, calls };
}

const transient = () => new ExchangeError('Entra answered HTTP 503', { retryable: true, reason: 'http_503', status: 503 });
const permanent = () => new ExchangeError('AADSTS70021: no match', { retryable: false, reason: 'AADSTS70021', aadsts: 70021, status: 400 });
const mid = () => 0.5;

describe('TokenStore', () => {
  it('fetches targets at start, spreads the first refresh over the period, then refreshes at half life', async () => {
    const clock = new FakeClock();
    const { exchange, calls } = scripted(clock, [3_600_000]);
    const store = new TokenStore({ exchange, clock, random: mid, targets: [{ name: 'storage', scope: S }] });
    store.start();
    await flush();
    expect(calls).toHaveLength(1);
    expect(store.peek(S)?.token).toBe('tok-1');
    // first refresh: 10 % + 90 % × random of the usual 30 min → 0.55 × 30 min
    await clock.advance(989_000);
    expect(calls).toHaveLength(1);
    await clock.advance(1_000);
    expect(calls).toHaveLength(2);
    // then at half life
    await clock.advance(1_799_000);
    expect(calls).toHaveLength(2);
    await clock.advance(1_000);
    expect(calls).toHaveLength(3);
    expect(store.peek(S)?.token).toBe('tok-3');
  });

  it('draws the first refresh uniformly between 10 % and 100 % of the usual delay', async () => {
    for (const [r, expected] of [
      [0, 180_000],
      [0.5, 990_000],
      [0.75, 1_395_000],
    ] as const) {
      const clock = new FakeClock();
      const { exchange, calls } = scripted(clock, [3_600_000]);
      const store = new TokenStore({ exchange, clock, random: () => r, targets: [{ name: 'storage', scope: S }] });
      store.start();
      await flush();
      await clock.advance(expected - 2);
      expect(calls).toHaveLength(1);
      await clock.advance(2);
      expect(calls).toHaveLength(2);
    }
  });

  it('keeps serving a valid token while refreshes fail, backing off, and stops serving it at expiry', async () => {
    const clock = new FakeClock();
    const failed: number[] = [];
    const events: TokenStoreEvents = { failed: (_e, _err, _d, retryIn) => failed.push(retryIn ?? -1) };
    const { exchange, calls } = scripted(clock, [
      600_000,
      transient(),
      transient(),
      transient(),
      transient(),
      transient(),
      transient(),
      transient(),
      transient(),
      transient(),
      transient(),
    ]);
    const store = new TokenStore({ exchange, clock, random: () => 0.999999, targets: [{ name: 'storage', scope: S }], events });
    store.start();
    await flush();
    await clock.advance(300_000); // first refresh (random ≈ 1: the full usual delay) fails
    expect(calls).toHaveLength(2);
    expect(store.peek(S)?.token).toBe('tok-1');
    await clock.advance(200_000);
    expect(store.peek(S)?.token).toBe('tok-1');
    expect(failed.slice(0, 7).map((f) => Math.round(f / 1000))).toEqual([1, 2, 4, 8, 16, 32, 60]);
    await clock.advance(100_000); // past expiry
    expect(store.peek(S)).toBeUndefined();
    await expect(store.get(S)).rejects.toMatchObject({ retryable: true });
  });

  it('recovers within the backoff cap after an outage', async () => {
    const clock = new FakeClock();
    const outcomes: Array<number | ExchangeError> = [60_000, ...Array.from({ length: 12 }, transient), 60_000];
    const { exchange, calls } = scripted(clock, outcomes);
    const store = new TokenStore({ exchange, clock, random: Math.random, targets: [{ name: 'storage', scope: S }] });
    store.start();
    await flush();
    for (let i = 0; i < 1_000 && calls.length < outcomes.length; i++) await clock.advance(1_000);
    expect(calls.length).toBe(outcomes.length);
    const gaps = calls.slice(2).map((c, i) => c.at - (calls[i + 1]?.at ?? 0));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(60_000);
    expect(store.peek(S)?.token).toBe(`tok-${outcomes.length}`);
  });

  it('sends a permanent refusal straight to the cap', async () => {
    const clock = new FakeClock();
    const retries: number[] = [];
    const { exchange, calls } = scripted(clock, [permanent(), permanent(), 3_600_000]);
    const store = new TokenStore({
      exchange,
      clock,
      random: mid,
      targets: [{ name: 'storage', scope: S }],
      events: { failed: (_e, _err, _d, r) => retries.push(r ?? -1) },
    });
    store.start();
    await flush();
    expect(retries).toEqual([60_000]);
    await clock.advance(59_999);
    expect(calls).toHaveLength(1);
    await clock.advance(1);
    expect(calls).toHaveLength(2);
    await clock.advance(60_000);
    expect(store.peek(S)).toBeDefined();
  });

  it('retries at once, once, after AADSTS700024 (expired assertion)', async () => {
    const clock = new FakeClock();
    const expired = new ExchangeError('AADSTS700024', { retryable: false, reason: 'AADSTS700024', aadsts: 700024 });
    const { exchange, calls } = scripted(clock, [expired, 3_600_000]);
    const store = new TokenStore({ exchange, clock, random: mid });
    const t = await store.get(S);
    expect(calls).toHaveLength(2);
    expect(t.token).toBe('tok-2');
    const { exchange: e2, calls: c2 } = scripted(clock, [expired, expired, 3_600_000]);
    const store2 = new TokenStore({ exchange: e2, clock, random: mid });
    await expect(store2.get(S)).rejects.toMatchObject({ aadsts: 700024 });
    expect(c2).toHaveLength(2);
  });

  it('shares one exchange among concurrent demands (single flight)', async () => {
    const clock = new FakeClock();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let n = 0;
    const store = new TokenStore({
      clock,
      random: mid,
      exchange: async (scope) => {
        n++;
        await gate;
        return { token: 't', scope, obtainedAtMs: clock.now(), expiresOnMs: clock.now() + 3_600_000, extExpiresOnMs: clock.now() + 3_600_000 };
      },
    });
    const all = Promise.all(Array.from({ length: 100 }, () => store.get(M)));
    release();
    const tokens = await all;
    expect(n).toBe(1);
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
  });

  it('rejects at once while a failed on-demand scope backs off, with the remaining wait', async () => {
    const clock = new FakeClock();
    const { exchange, calls } = scripted(clock, [permanent(), 3_600_000]);
    const store = new TokenStore({ exchange, clock, random: mid });
    await expect(store.get(M)).rejects.toMatchObject({ aadsts: 70021 });
    await clock.advance(10_000);
    await expect(store.get(M)).rejects.toMatchObject({ aadsts: 70021, retryAfterMs: 50_000 });
    expect(calls).toHaveLength(1);
    await clock.advance(50_000);
    await expect(store.get(M)).resolves.toMatchObject({ token: 'tok-2' });
  });

  it('bounds on-demand scopes (LRU) and drops idle ones at refresh time', async () => {
    const clock = new FakeClock();
    const { exchange } = scripted(clock, [3_600_000]);
    const evicted: string[] = [];
    const store = new TokenStore({
      exchange,
      clock,
      random: mid,
      maxOnDemand: 2,
      onDemandIdleMs: 600_000,
      targets: [{ name: 'storage', scope: S }],
      events: { evicted: (s) => evicted.push(s) },
    });
    store.start();
    await store.get('a://one/.default');
    await clock.advance(1_000);
    await store.get('a://two/.default');
    await clock.advance(1_000);
    store.peek('a://one/.default');
    await store.get('a://three/.default');
    expect(evicted).toEqual(['a://two/.default']);
    expect(
      store
        .entriesView()
        .map((e) => e.scope)
        .sort(),
    ).toEqual(['a://one/.default', 'a://three/.default', S].sort());
    await clock.advance(1_800_000); // half life: every on-demand scope idle for > 10 min is dropped, the target refreshed
    expect(store.entriesView().map((e) => e.scope)).toEqual([S]);
    expect(store.peek(S)).toBeDefined();
  });

  it('keeps an on-demand scope in use fresh', async () => {
    const clock = new FakeClock();
    const { exchange, calls } = scripted(clock, [3_600_000]);
    const store = new TokenStore({ exchange, clock, random: mid, onDemandIdleMs: 600_000 });
    await store.get(M);
    for (let i = 0; i < 12; i++) {
      await clock.advance(300_000);
      expect(store.peek(M)).toBeDefined();
    }
    expect(calls.length).toBeGreaterThanOrEqual(3);
  });
});

describe('TokenStore: the new-scope budget (issue 17, finding 4)', () => {
  const scope = (i: number) => `https://app-${i}.example.com/.default`;

  it('500 new scopes at once start 10 exchanges; the rest are refused at once, retryable, with the wait, and counted', async () => {
    const clock = new FakeClock();
    const { exchange, calls } = scripted(clock, [3_600_000]);
    const refused: Array<{ scope: string; retryInMs: number }> = [];
    const store = new TokenStore({
      exchange,
      clock,
      random: mid,
      maxOnDemand: 1000,
      events: { newScopeRefused: (s, retryInMs) => refused.push({ scope: s, retryInMs }) },
    });
    const results = await Promise.allSettled(Array.from({ length: 500 }, (_, i) => store.get(scope(i))));
    expect(calls).toHaveLength(10);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    const errors = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as ExchangeError);
    expect(errors).toHaveLength(490);
    expect(errors[0]).toBeInstanceOf(ExchangeError);
    expect(errors[0]).toMatchObject({ retryable: true, reason: 'new_scope_budget', retryAfterMs: 10_000 });
    expect(errors[0]?.message).toContain('ENTRA_SIDECAR_NEW_SCOPE_BURST');
    expect(errors[0]?.message).toContain('entra-sidecar.io/tokens');
    expect(refused).toHaveLength(490);
    expect(store.entriesView()).toHaveLength(10);
  });

  it('refills at 6 per minute; scopes held, configured targets and retries of known scopes never draw on it', async () => {
    const clock = new FakeClock();
    const { exchange, calls } = scripted(clock, [3_600_000]);
    const store = new TokenStore({ exchange, clock, random: mid, targets: [{ name: 'storage', scope: S }], newScopeBudget: { burst: 2, perMinute: 6 } });
    store.start();
    await store.get(scope(1));
    await store.get(scope(2));
    await expect(store.get(scope(3))).rejects.toMatchObject({ reason: 'new_scope_budget' });
    // held scopes and the configured target are answered without the budget
    for (let i = 0; i < 20; i++) {
      await store.get(scope(1));
      await store.get(S);
    }
    expect(calls).toHaveLength(3);
    await clock.advance(9_999);
    await expect(store.get(scope(3))).rejects.toMatchObject({ reason: 'new_scope_budget', retryAfterMs: 1 });
    await clock.advance(1);
    expect((await store.get(scope(3))).scope).toBe(scope(3));
    await expect(store.get(scope(4))).rejects.toMatchObject({ reason: 'new_scope_budget' });
  });

  it('perMinute 0: the burst is all there is, and the wait given is the backoff cap', async () => {
    const clock = new FakeClock();
    const { exchange } = scripted(clock, [3_600_000]);
    const store = new TokenStore({ exchange, clock, random: mid, newScopeBudget: { burst: 1, perMinute: 0 } });
    await store.get(scope(1));
    await clock.advance(3_600_000);
    await expect(store.get(scope(2))).rejects.toMatchObject({ reason: 'new_scope_budget', retryAfterMs: 60_000 });
  });
});

describe('TokenStore: errors keep what they are', () => {
  it('a federated-token failure reaches the caller with its code and the backoff wait', async () => {
    const clock = new FakeClock();
    const store = new TokenStore({
      exchange: async () => {
        throw new FederatedTokenError('/var/run/secrets/token', 'is missing');
      },
      clock,
      random: mid,
    });
    const err = (await store.get(S).catch((e: unknown) => e)) as ExchangeError;
    expect(err.code).toBe('FEDERATED_TOKEN_UNUSABLE');
    expect(err.retryAfterMs).toBeGreaterThan(0);
  });
});
