import type { AccessToken } from './access-token.js';
import type { Clock } from './clock.js';
import { ExchangeError } from './errors.js';
import { DEFAULT_NEW_SCOPE_BUDGET, NewScopeBudget, type NewScopeBudgetOptions } from './new-scope-budget.js';
import { backoffDelayMs, DEFAULT_REFRESH_POLICY, firstRefreshDelayMs, isServable, refreshDelayMs, type RefreshPolicy } from './refresh-policy.js';

import type { Target } from '../contract/targets.js';

export type { Target };

/** What the store tells the outside world (files, metrics, logs) — never blocks the store. */
export interface TokenStoreEvents {
  refreshed?(entry: EntryView, token: AccessToken, durationMs: number): void;
  failed?(entry: EntryView, error: ExchangeError, durationMs: number, retryInMs: number | undefined): void;
  /** Entra refused the assertion as expired (AADSTS700024); the exchange is retried at once, once */
  assertionRetried?(entry: EntryView, error: ExchangeError): void;
  evicted?(scope: string): void;
  /** a scope not held yet was asked for beyond the new-scope budget: refused without an exchange */
  newScopeRefused?(scope: string, retryInMs: number): void;
}

export interface TokenStoreOptions {
  exchange: (scope: string) => Promise<AccessToken>;
  clock: Clock;
  random?: () => number;
  policy?: RefreshPolicy;
  targets?: Target[];
  /** most on-demand scopes held at once (least recently used evicted first) */
  maxOnDemand?: number;
  /** an on-demand scope unused this long is dropped at its next refresh instead of refreshed */
  onDemandIdleMs?: number;
  /** how many scopes not held yet may start an exchange: at once, then per minute (default 10, then 6/min) */
  newScopeBudget?: NewScopeBudgetOptions;
  events?: TokenStoreEvents;
}

/** A read-only view of one held scope, for health, metrics and logs (no token). */
export interface EntryView {
  /** the configured target's name; undefined for a scope asked for on demand */
  readonly name: string | undefined;
  readonly scope: string;
  readonly expiresOnMs: number | undefined;
  readonly consecutiveFailures: number;
  readonly lastError: ExchangeError | undefined;
  readonly nextAttemptAtMs: number | undefined;
}

interface Entry extends EntryView {
  name: string | undefined;
  scope: string;
  token: AccessToken | undefined;
  expiresOnMs: number | undefined;
  consecutiveFailures: number;
  lastError: ExchangeError | undefined;
  nextAttemptAtMs: number | undefined;
  inflight: Promise<AccessToken> | undefined;
  timer: unknown;
  lastUsedMs: number;
}

/**
 * Holds access tokens for the configured targets and for scopes asked for on demand. Every
 * scope has at most one exchange in flight (single flight); tokens are refreshed proactively by
 * the refresh policy; failures back off; a token stays served until it expires, whatever the
 * refreshes do. On-demand scopes are bounded (LRU) and dropped once idle.
 *
 * @example
 * const store = new TokenStore({ exchange, clock: systemClock, targets: [{ name: 'storage', scope }] });
 * store.start();
 * const token = await store.get('https://management.azure.com/.default');
 */
export class TokenStore {
  private readonly entries = new Map<string, Entry>();
  private readonly random: () => number;
  private readonly policy: RefreshPolicy;
  private readonly maxOnDemand: number;
  private readonly onDemandIdleMs: number;
  private readonly newScopes: NewScopeBudget;
  private stopped = false;

  constructor(private readonly o: TokenStoreOptions) {
    this.random = o.random ?? Math.random;
    this.policy = o.policy ?? DEFAULT_REFRESH_POLICY;
    this.maxOnDemand = o.maxOnDemand ?? 32;
    this.onDemandIdleMs = o.onDemandIdleMs ?? 10 * 60_000;
    this.newScopes = new NewScopeBudget(o.newScopeBudget ?? DEFAULT_NEW_SCOPE_BUDGET, o.clock.now());
    for (const t of o.targets ?? []) this.entries.set(t.scope, this.newEntry(t.scope, t.name));
  }

  /** Fetches every configured target now; refreshes follow on their own. */
  start(): void {
    for (const e of this.entries.values()) if (e.name !== undefined) void this.refresh(e).catch(() => undefined);
  }

  /** Stops every timer; in-flight exchanges finish but schedule nothing. */
  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) this.o.clock.clearTimeout(e.timer);
  }

  /** A servable token for the scope if one is held right now (the endpoint's fast path). */
  peek(scope: string): AccessToken | undefined {
    const e = this.entries.get(scope);
    if (!e) return undefined;
    const now = this.o.clock.now();
    if (!isServable(e.token, now)) return undefined;
    e.lastUsedMs = now;
    return e.token;
  }

  /**
   * A servable token for the scope: the held one, or the result of the exchange in flight, or a
   * new exchange (the scope joins the store). While a failed scope backs off, rejects at once
   * with the last error and its remaining wait, so callers cannot hammer Entra. A scope the store
   * does not hold yet draws on the new-scope budget; over it, rejects at once with the wait, and the
   * scope does not join the store.
   */
  get(scope: string): Promise<AccessToken> {
    const held = this.peek(scope);
    if (held) return Promise.resolve(held);
    let e = this.entries.get(scope);
    const now = this.o.clock.now();
    if (!e) {
      const wait = this.newScopes.take(now);
      if (wait > 0) return Promise.reject(this.overBudget(scope, wait));
      e = this.newEntry(scope, undefined);
      this.makeRoomForOnDemand();
      this.entries.set(scope, e);
    }
    e.lastUsedMs = now;
    if (e.inflight) return e.inflight;
    if (e.lastError && e.nextAttemptAtMs !== undefined && now < e.nextAttemptAtMs) {
      return Promise.reject(withRetryAfter(e.lastError, e.nextAttemptAtMs - now));
    }
    return this.refresh(e);
  }

  /**
   * Retries at once every scope whose last exchange failed (and is not in flight), e.g. when the
   * credential that Entra refused was just replaced. Returns how many retries started.
   */
  retryFailedNow(): number {
    if (this.stopped) return 0;
    let n = 0;
    for (const e of this.entries.values()) {
      if (e.lastError === undefined || e.inflight) continue;
      n++;
      void this.refresh(e).catch(() => undefined);
    }
    return n;
  }

  /** Views of every held scope, configured targets first. */
  entriesView(): EntryView[] {
    return [...this.entries.values()];
  }

  /** Number of scopes holding a servable token. */
  heldCount(): number {
    const now = this.o.clock.now();
    let n = 0;
    for (const e of this.entries.values()) if (isServable(e.token, now)) n++;
    return n;
  }

  private overBudget(scope: string, waitMs: number): ExchangeError {
    const { burst, perMinute } = this.newScopes.options;
    const retryAfterMs = Number.isFinite(waitMs) ? waitMs : this.policy.backoffCapMs;
    this.o.events?.newScopeRefused?.(scope, retryAfterMs);
    const rate = perMinute > 0 ? `, then ${perMinute} per minute` : ' and no more';
    return new ExchangeError(
      `too many new scopes: callers may make this sidecar ask Entra for ${burst} scopes it does not hold at once${rate} (ENTRA_SIDECAR_NEW_SCOPE_BURST, ENTRA_SIDECAR_NEW_SCOPES_PER_MINUTE), so that one pod cannot use up Entra's throttling budget of the application it shares; retry in ${Math.ceil(retryAfterMs / 1000)} s, or declare the scopes the app uses as targets (entra-sidecar.io/tokens), which never count`,
      { retryable: true, reason: 'new_scope_budget', retryAfterMs },
    );
  }

  private newEntry(scope: string, name: string | undefined): Entry {
    return {
      name,
      scope,
      token: undefined,
      expiresOnMs: undefined,
      consecutiveFailures: 0,
      lastError: undefined,
      nextAttemptAtMs: undefined,
      inflight: undefined,
      timer: undefined,
      lastUsedMs: this.o.clock.now(),
    };
  }

  private makeRoomForOnDemand(): void {
    const onDemand = [...this.entries.values()].filter((e) => e.name === undefined);
    if (onDemand.length < this.maxOnDemand) return;
    onDemand.sort((a, b) => a.lastUsedMs - b.lastUsedMs);
    for (const victim of onDemand.slice(0, onDemand.length - this.maxOnDemand + 1)) this.evict(victim);
  }

  private evict(e: Entry): void {
    this.o.clock.clearTimeout(e.timer);
    this.entries.delete(e.scope);
    this.o.events?.evicted?.(e.scope);
  }

  private refresh(e: Entry): Promise<AccessToken> {
    if (e.inflight) return e.inflight;
    this.o.clock.clearTimeout(e.timer);
    e.timer = undefined;
    const p = this.run(e).finally(() => {
      e.inflight = undefined;
    });
    e.inflight = p;
    return p;
  }

  private async run(e: Entry): Promise<AccessToken> {
    const started = this.o.clock.now();
    let token: AccessToken;
    try {
      token = await this.exchangeWithAssertionRetry(e);
    } catch (err) {
      const error = err instanceof ExchangeError ? err : new ExchangeError(String(err), { retryable: true, reason: 'internal' });
      e.consecutiveFailures++;
      e.lastError = error;
      const now = this.o.clock.now();
      const wait = backoffDelayMs(e.consecutiveFailures, error, this.random, this.policy);
      e.nextAttemptAtMs = now + wait;
      // configured targets, and on-demand scopes still holding a token, retry on their own
      const retries = !this.stopped && this.entries.get(e.scope) === e && (e.name !== undefined || isServable(e.token, now));
      if (retries) this.schedule(e, wait);
      this.o.events?.failed?.(e, error, now - started, retries ? wait : undefined);
      throw withRetryAfter(error, wait);
    }
    const now = this.o.clock.now();
    const first = e.token === undefined;
    e.token = token;
    e.expiresOnMs = token.expiresOnMs;
    e.consecutiveFailures = 0;
    e.lastError = undefined;
    e.nextAttemptAtMs = undefined;
    if (!this.stopped && this.entries.get(e.scope) === e) {
      const delay = first ? firstRefreshDelayMs(token, now, this.random, this.policy) : refreshDelayMs(token, now, this.random, this.policy);
      e.nextAttemptAtMs = now + delay;
      this.schedule(e, delay);
    }
    this.o.events?.refreshed?.(e, token, now - started);
    return token;
  }

  /** AADSTS700024 (assertion expired): the file is read afresh on the next call, so retry at once, once. */
  private async exchangeWithAssertionRetry(e: Entry): Promise<AccessToken> {
    try {
      return await this.o.exchange(e.scope);
    } catch (err) {
      if (!(err instanceof ExchangeError) || err.aadsts !== 700024) throw err;
      this.o.events?.assertionRetried?.(e, err);
      return this.o.exchange(e.scope);
    }
  }

  private schedule(e: Entry, delayMs: number): void {
    this.o.clock.clearTimeout(e.timer);
    e.timer = this.o.clock.setTimeout(() => {
      e.timer = undefined;
      if (this.stopped || this.entries.get(e.scope) !== e) return;
      if (e.name === undefined && this.o.clock.now() - e.lastUsedMs > this.onDemandIdleMs) {
        this.evict(e);
        return;
      }
      void this.refresh(e).catch(() => undefined);
    }, delayMs);
  }
}

function withRetryAfter(error: ExchangeError, waitMs: number): ExchangeError {
  return new ExchangeError(error.message, { ...error.details, retryAfterMs: Math.max(waitMs, error.retryAfterMs ?? 0) }, error.code);
}
