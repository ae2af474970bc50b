import type { Fault, FaultScheduleOptions } from './types.js';

interface Scheduled {
  fault: Fault;
  remaining?: number;
  until?: number;
  scope?: string;
}

/**
 * Injected faults waiting for token requests. An entry applies to the next `count` matching
 * responses (default 1), or to every matching response until `durationMs` has passed, or while
 * both hold when both are given. The oldest applicable entry wins. Takes a clock for tests.
 */
export class FaultSchedule {
  private entries: Scheduled[] = [];
  /** who waits for the faults of a scope to end (ended()) */
  private waiters: { scope: string; done: () => void }[] = [];
  private readonly expiries = new Set<NodeJS.Timeout>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Schedules a fault. */
  add(fault: Fault, o: FaultScheduleOptions = {}): void {
    const entry: Scheduled = { fault, scope: o.scope };
    if (o.durationMs !== undefined) {
      entry.until = this.now() + o.durationMs;
      this.expireAt(entry.until);
    }
    if (o.count !== undefined || o.durationMs === undefined) entry.remaining = o.count ?? 1;
    this.entries.push(entry);
  }

  /** A fault that ends with time says so when it does (ended()): a check at its end, again if early. */
  private expireAt(until: number): void {
    const t = setTimeout(
      () => {
        this.expiries.delete(t);
        this.prune();
        if (this.now() < until && this.entries.some((e) => e.until === until)) this.expireAt(until);
      },
      Math.max(1, until - this.now()),
    );
    t.unref();
    this.expiries.add(t);
  }

  /** Removes every scheduled fault. */
  clear(): void {
    this.entries = [];
    for (const t of this.expiries) clearTimeout(t);
    this.expiries.clear();
    this.prune();
  }

  /**
   * Resolves when no fault that applies to `scope` is pending any more: its count used up, its
   * duration over, or cleared. How a test learns that an outage it scheduled has ended.
   */
  ended(scope: string): Promise<void> {
    this.prune();
    if (!this.applies(scope)) return Promise.resolve();
    return new Promise((done) => this.waiters.push({ scope, done }));
  }

  /** Faults still pending. */
  get size(): number {
    this.prune();
    return this.entries.length;
  }

  /** The fault for a token request for `scope`, consuming one use of it; undefined when none applies. */
  take(scope: string): Fault | undefined {
    this.prune();
    const entry = this.entries.find((e) => e.scope === undefined || e.scope === scope);
    if (!entry) return undefined;
    if (entry.remaining !== undefined) entry.remaining -= 1;
    this.prune();
    return entry.fault;
  }

  private prune(): void {
    const now = this.now();
    this.entries = this.entries.filter((e) => (e.remaining === undefined || e.remaining > 0) && (e.until === undefined || now < e.until));
    if (this.waiters.length === 0) return;
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) {
      if (this.applies(w.scope)) this.waiters.push(w);
      else w.done();
    }
  }

  private applies(scope: string): boolean {
    return this.entries.some((e) => e.scope === undefined || e.scope === scope);
  }
}

const FAULT_KINDS = ['status', 'aadsts', 'retry-after', 'delay', 'hang', 'reset', 'malformed-json', 'html'] as const;

/**
 * Validates a fault received as JSON (admin API); throws an Error naming the problem.
 *
 * @example
 * parseFault({ kind: 'status', status: 503 })
 */
export function parseFault(value: unknown): Fault {
  if (typeof value !== 'object' || value === null) throw new Error('fault must be an object such as {"kind":"status","status":503}');
  const f = value as Record<string, unknown>;
  const kind = f.kind;
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`fault.kind must be one of ${FAULT_KINDS.join(', ')}`);
  }
  const int = (name: string, min: number, max: number, optional = false): number | undefined => {
    const v = f[name];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Error(`fault.${name} must be a whole number between ${min} and ${max}`);
    return v;
  };
  switch (kind) {
    case 'status': {
      const headers = f.headers;
      if (headers !== undefined && (typeof headers !== 'object' || headers === null || Object.values(headers).some((h) => typeof h !== 'string'))) {
        throw new Error('fault.headers must be an object of strings');
      }
      const body = f.body;
      if (body !== undefined && typeof body !== 'string' && (typeof body !== 'object' || body === null))
        throw new Error('fault.body must be a string or an object');
      return {
        kind,
        status: int('status', 100, 599) as number,
        body: body as string | object | undefined,
        headers: headers as Record<string, string> | undefined,
      };
    }
    case 'aadsts':
      return { kind, code: int('code', 1, 99_999_999) as number };
    case 'retry-after':
      return { kind, seconds: int('seconds', 0, 86_400) as number, status: int('status', 100, 599, true) };
    case 'delay':
      return { kind, ms: int('ms', 0, 600_000) as number };
    case 'html':
      return { kind, status: int('status', 100, 599) as number };
    default:
      return { kind } as Fault;
  }
}

/** Validates the schedule part of an admin request (`count`, `durationMs`, `scope`). */
export function parseScheduleOptions(value: Record<string, unknown>): FaultScheduleOptions {
  const out: FaultScheduleOptions = {};
  if (value.count !== undefined) {
    if (typeof value.count !== 'number' || !Number.isInteger(value.count) || value.count < 1) throw new Error('count must be a whole number of at least 1');
    out.count = value.count;
  }
  if (value.durationMs !== undefined) {
    if (typeof value.durationMs !== 'number' || !(value.durationMs > 0)) throw new Error('durationMs must be a positive number');
    out.durationMs = value.durationMs;
  }
  if (value.scope !== undefined) {
    if (typeof value.scope !== 'string' || value.scope === '') throw new Error('scope must be a non-empty string');
    out.scope = value.scope;
  }
  return out;
}

/** The HTML error page a reverse proxy (nginx) sends. */
export function proxyErrorPage(status: number): string {
  const reason = HTTP_REASONS[status] ?? 'Error';
  return `<html>\r\n<head><title>${status} ${reason}</title></head>\r\n<body>\r\n<center><h1>${status} ${reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}

/** A token response cut off mid-way (no token inside), sent as 200 application/json. */
export const TRUNCATED_TOKEN_RESPONSE = '{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_tok';

const HTTP_REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Time-out',
};
