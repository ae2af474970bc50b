import { randomUUID } from 'node:crypto';
import type { AccessToken } from '../../identity/access-token.js';

/** A refusal the caller gets as JSON, in both the OAuth and the App Service vocabularies. */
export class EndpointError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'EndpointError';
  }
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } as const;

/**
 * The error body every SDK can parse: msal-node and MSAL.NET read `message`/`correlationId`,
 * OAuth parsers read `error`/`error_description`, msal-python reads `statusCode`/`message`.
 *
 * @example
 * errorAnswer(new EndpointError(401, 'unauthorized_client', 'Missing X-IDENTITY-HEADER'))
 */
export function errorAnswer(e: EndpointError): Answer {
  const correlationId = randomUUID();
  const body = JSON.stringify({ error: e.error, error_description: e.message, message: e.message, correlationId, statusCode: e.status });
  const headers: Record<string, string> = { ...JSON_HEADERS };
  if (e.retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(e.retryAfterSeconds)));
  return { status: e.status, headers, body };
}

/**
 * Success bodies are built once per (token, resource) and only the two relative numbers are
 * filled in per request: every number a string of digits, times in whole unix seconds.
 */
export class TokenAnswers {
  private readonly cache = new WeakMap<AccessToken, Map<string, { head: string; middle: string; tail: string }>>();

  constructor(private readonly clientId: string) {}

  /** The 200 body for a held token and the resource string as the caller spelled it. */
  body(token: AccessToken, resource: string, nowMs: number): string {
    let perToken = this.cache.get(token);
    if (!perToken) {
      perToken = new Map();
      this.cache.set(token, perToken);
    }
    let parts = perToken.get(resource);
    if (!parts) {
      if (perToken.size >= 16) perToken.clear();
      parts = {
        head: `{"access_token":${JSON.stringify(token.token)},"expires_on":"${Math.floor(token.expiresOnMs / 1000)}","expires_in":"`,
        middle: `","ext_expires_in":"`,
        tail: `","not_before":"${Math.floor(token.obtainedAtMs / 1000)}","resource":${JSON.stringify(resource)},"token_type":"Bearer","client_id":${JSON.stringify(this.clientId)}}`,
      };
      perToken.set(resource, parts);
    }
    const expiresIn = Math.max(0, Math.floor((token.expiresOnMs - nowMs) / 1000));
    const extExpiresIn = Math.max(expiresIn, Math.floor((token.extExpiresOnMs - nowMs) / 1000));
    return `${parts.head}${expiresIn}${parts.middle}${extExpiresIn}${parts.tail}`;
  }
}

export const SUCCESS_HEADERS = JSON_HEADERS;
