import https from 'node:https';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { ExchangeError } from './errors.js';
import { classifyErrorResponse, type RawResponse } from './entra-response.js';

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_NOT_YET_VALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
  'ERR_TLS_HANDSHAKE_TIMEOUT',
]);

/**
 * msal-node's network module, replaced so that our token store, not msal-node, decides timing:
 * every request has a timeout, and any answer that is not a 2xx token becomes a typed
 * ExchangeError before msal-node sees it (so msal-node never records its 60 s throttle after a
 * 5xx). Failures are parked by correlation id for `takeFailure`, since msal-node wraps errors
 * thrown from a network module.
 */
export class EntraTransport implements INetworkModule {
  private readonly agent = new https.Agent({ keepAlive: true, maxSockets: 8, keepAliveMsecs: 30_000 });
  private readonly failures = new Map<string, ExchangeError>();
  /** Every GET msal-node makes (discovery); we configure it to make none. */
  discoveryRequests = 0;

  constructor(private readonly timeoutMs: number) {}

  async sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    this.discoveryRequests++;
    const res = await this.request('GET', url, options);
    return { status: res.status, headers: flatten(res.headers), body: safeJson(res.body) as T };
  }

  async sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    const correlationId = options?.correlationId;
    try {
      const res = await this.request('POST', url, options);
      if (res.status < 200 || res.status >= 300) throw classifyErrorResponse(res);
      const body = safeJson(res.body) as Record<string, unknown> | undefined;
      if (!body || typeof body.access_token !== 'string' || body.access_token.length === 0 || !isFiniteNumberish(body.expires_in)) {
        throw classifyErrorResponse({ ...res, status: res.status, body: body ? '{"access_token or expires_in missing"}' : res.body });
      }
      return { status: res.status, headers: flatten(res.headers), body: body as T };
    } catch (err) {
      const failure = err instanceof ExchangeError ? err : networkFailure(err, this.timeoutMs);
      if (correlationId) this.failures.set(correlationId, failure);
      throw failure;
    }
  }

  /** The typed failure recorded for a correlation id, removed on read. */
  takeFailure(correlationId: string): ExchangeError | undefined {
    const f = this.failures.get(correlationId);
    this.failures.delete(correlationId);
    return f;
  }

  close(): void {
    this.agent.destroy();
  }

  private request(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method, agent: this.agent, headers: options?.headers, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 1024 * 1024) req.destroy(new Error('response larger than 1 MiB'));
          else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      const timer = setTimeout(() => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT_EXCHANGE' })), this.timeoutMs);
      req.on('close', () => clearTimeout(timer));
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT_EXCHANGE' })));
      req.on('error', reject);
      req.end(options?.body);
    });
  }
}

function networkFailure(err: unknown, timeoutMs: number): ExchangeError {
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ETIMEDOUT_EXCHANGE') {
    return new ExchangeError(`no answer from Entra within ${timeoutMs / 1000} s; will retry`, { retryable: true, reason: 'timeout' });
  }
  if (TLS_CODES.has(code) || /certificate|ssl|tls/i.test(message)) {
    return new ExchangeError(
      `TLS failure talking to Entra (${code || message}): check AZURE_AUTHORITY_HOST and, for a private CA, NODE_EXTRA_CA_CERTS; will retry`,
      { retryable: true, reason: 'tls' },
    );
  }
  return new ExchangeError(`cannot reach Entra (${code || message}); will retry`, { retryable: true, reason: 'network' });
}

function isFiniteNumberish(v: unknown): boolean {
  return (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && /^\d+$/.test(v));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function flatten(h: RawResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
