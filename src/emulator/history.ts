import type { ExchangeRecord, RequestRecord } from './types.js';

/** Paths of the discovery endpoints msal would call if not told the metadata. */
export function isDiscoveryPath(path: string): boolean {
  return path.includes('/.well-known/') || /\/discovery\/(instance$|v2\.0\/keys$|keys$)/.test(path);
}

/**
 * What the emulator has seen and issued. Lists keep the most recent `limit` entries so a
 * long soak stays bounded; the counters are exact.
 */
export class History {
  readonly requests: RequestRecord[] = [];
  readonly exchanges: ExchangeRecord[] = [];
  private readonly secrets: string[] = [];
  private exchangeTotal = 0;
  private readonly exchangesByScope = new Map<string, number>();
  private failedTotal = 0;
  private discoveryTotal = 0;
  private requestTotal = 0;

  constructor(private readonly limit: number) {}

  /** Records an incoming request. */
  request(r: RequestRecord): void {
    this.requestTotal += 1;
    if (isDiscoveryPath(r.path)) this.discoveryTotal += 1;
    push(this.requests, r, this.limit);
  }

  /** Records a token request that reached the token handler; the caller fills in status later. */
  exchange(r: ExchangeRecord): void {
    this.exchangeTotal += 1;
    this.exchangesByScope.set(r.scope, (this.exchangesByScope.get(r.scope) ?? 0) + 1);
    push(this.exchanges, r, this.limit);
  }

  /** Sets the outcome of a recorded token request; an error or a status other than 200 counts as failed. */
  answered(r: ExchangeRecord, status: number, error?: string): void {
    r.status = status;
    if (error !== undefined) r.error = error;
    if (status !== 200 || error !== undefined) this.failedTotal += 1;
  }

  /** Remembers an issued token so tests can check logs never contain it. */
  secret(value: string): void {
    push(this.secrets, value, this.limit);
  }

  issuedSecrets(): string[] {
    return [...this.secrets];
  }

  exchangeCount(scope?: string): number {
    return scope === undefined ? this.exchangeTotal : (this.exchangesByScope.get(scope) ?? 0);
  }

  discoveryCount(): number {
    return this.discoveryTotal;
  }

  /** Counters for the admin API. */
  summary(): { requests: number; exchanges: number; exchangesByScope: Record<string, number>; discoveryRequests: number; failedExchanges: number } {
    return {
      requests: this.requestTotal,
      exchanges: this.exchangeTotal,
      exchangesByScope: Object.fromEntries(this.exchangesByScope),
      discoveryRequests: this.discoveryTotal,
      failedExchanges: this.failedTotal,
    };
  }
}

function push<T>(list: T[], item: T, limit: number): void {
  list.push(item);
  if (list.length > limit + Math.ceil(limit / 10)) list.splice(0, list.length - limit);
}
