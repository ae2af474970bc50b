import { ExchangeError } from './errors.js';

/** A raw HTTP answer from the token endpoint. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Entra's JSON error body, as documented and seen in real captures. */
interface EntraErrorBody {
  error?: string;
  error_description?: string;
  error_codes?: number[];
  correlation_id?: string;
}

/** AADSTS codes that retrying will not fix, with what the user must do. */
const FIXES: Record<number, string> = {
  70021:
    'add or fix the federated identity credential on the app registration (or user-assigned identity) so its issuer, subject and audience match the service-account token',
  700016: 'check AZURE_CLIENT_ID (the entra-sidecar.io/client-id annotation): no application with that client id exists in the tenant',
  90002: 'check AZURE_TENANT_ID (the entra-sidecar.io/tenant-id annotation) and AZURE_AUTHORITY_HOST: the tenant was not found',
  700024: 'the service-account token expired or is not yet valid: check the kubelet rotates it and the node clock',
  500011: "the resource (scope) is not known in the tenant: check the scope, and that the resource's service principal exists",
  7000215:
    "the client secret is not one of the app's secrets: put the secret's Value (not its Secret ID) from the app registration's \"Certificates & secrets\" in the Secret; after a rotation, check the Secret holds the new value",
  7000222:
    'the client secret has expired: create a new one on the app registration ("Certificates & secrets"), put it in the Secret (kubectl create secret generic ... --dry-run=client -o yaml | kubectl apply -f -), the sidecar picks it up without a restart',
  700027:
    'the certificate is not registered on the app (or has expired there): upload the certificate (its public part) to the app registration\'s "Certificates & secrets", or put the registered certificate in the Secret; for subject-name/issuer trust, also send the chain (--send-certificate-chain)',
  7000218: 'the request carried no credential: give the sidecar a federated token file, a client secret or a client certificate',
  1002012: 'the scope must be a resource followed by /.default, e.g. https://storage.azure.com/.default',
};

/**
 * Turns a non-2xx (or unusable 2xx) token-endpoint answer into a typed ExchangeError.
 * 429 and 5xx are retryable (honouring Retry-After); 4xx with an AADSTS code is permanent.
 * A body that is not Entra's JSON (a proxy's HTML page) is retryable and quoted briefly.
 *
 * @example
 * throw classifyErrorResponse({ status: 503, headers: {}, body: '' });
 */
export function classifyErrorResponse(res: RawResponse, nowMs: number = Date.now()): ExchangeError {
  const retryAfterMs = parseRetryAfter(res.headers['retry-after'], nowMs);
  const parsed = parseJson(res.body) as EntraErrorBody | undefined;
  const description = parsed?.error_description ? firstLine(parsed.error_description) : undefined;
  const aadsts = parsed?.error_codes?.[0] ?? aadstsFromText(description);
  if (res.status === 429 || res.status >= 500) {
    const what = description ?? (parsed ? parsed.error : undefined) ?? excerpt(res.body);
    return new ExchangeError(`Entra answered HTTP ${res.status}${what ? `: ${what}` : ''}; will retry`, {
      retryable: true,
      reason: `http_${res.status}`,
      status: res.status,
      aadsts,
      entraError: parsed?.error,
      retryAfterMs,
      correlationId: parsed?.correlation_id,
    });
  }
  if (!parsed || (parsed.error === undefined && aadsts === undefined)) {
    return new ExchangeError(
      `Entra's token endpoint answered HTTP ${res.status} with a body that is not Entra's JSON (a proxy in between?): ${excerpt(res.body)}`,
      {
        retryable: true,
        reason: res.status >= 200 && res.status < 300 ? 'malformed_response' : `http_${res.status}`,
        status: res.status,
      },
    );
  }
  const fix = aadsts !== undefined ? FIXES[aadsts] : undefined;
  const text = description ?? parsed.error ?? 'unknown error';
  return new ExchangeError(`Entra refused the exchange (HTTP ${res.status}, ${parsed.error ?? 'error'}): ${text}${fix ? ` — fix: ${fix}` : ''}`, {
    retryable: false,
    reason: aadsts !== undefined ? `AADSTS${aadsts}` : `http_${res.status}`,
    status: res.status,
    aadsts,
    entraError: parsed.error,
    correlationId: parsed.correlation_id,
  });
}

/** Retry-After as delta-seconds or an HTTP date, in milliseconds; undefined when absent or garbled. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

function parseJson(text: string): unknown {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function aadstsFromText(text: string | undefined): number | undefined {
  const m = text ? /AADSTS(\d+)/.exec(text) : null;
  return m ? Number(m[1]) : undefined;
}

function firstLine(text: string): string {
  return text.split(/\r?\n/)[0]?.trim() ?? '';
}

/** A short, single-line excerpt of a body for logs; anything long enough to be a token is redacted. */
export function excerpt(body: string, max = 120): string {
  const flat = body
    .replace(/<[^>]*>/g, ' ')
    .replace(/[A-Za-z0-9_\-+/=]{24,}(?:\.[A-Za-z0-9_\-+/=]*)*/g, '[redacted]')
    .replace(/\s+/g, ' ')
    .trim();
  if (flat.length === 0) return '(empty body)';
  return JSON.stringify(flat.length > max ? `${flat.slice(0, max)}…` : flat);
}
