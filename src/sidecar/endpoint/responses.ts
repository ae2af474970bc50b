import { EntraSidecarError } from '../../errors.js';
import { randomUUID } from 'node:crypto';
import type { AccessToken } from '../../identity/access-token.js';

/** A refusal the caller gets as JSON, in both the OAuth and the App Service vocabularies. */
export class EndpointError extends EntraSidecarError {
  readonly code = 'ENDPOINT_REFUSED' as const;
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message, 'EndpointError');
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

/** A ready-to-send 200: the encoded body and its headers (Content-Length included). */
export interface TokenAnswer {
  body: Buffer;
  headers: Readonly<Record<string, string | number>>;
}

interface AnswerParts {
  head: string;
  middle: string;
  tail: string;
  /** the last answer sent, valid while both relative numbers stay the same */
  expiresIn: number;
  extExpiresIn: number;
  answer: TokenAnswer | undefined;
}

/**
 * Success answers are built once per (token, resource): the JSON around the two relative numbers
 * once, and the encoded bytes with their headers once per change of those numbers (about once a
 * second), so a request that finds a held token costs no JSON, no string building, no encoding.
 * Every number is a string of digits, times in whole unix seconds.
 */
export class TokenAnswers {
  private readonly cache = new WeakMap<AccessToken, Map<string, AnswerParts>>();

  constructor(private readonly clientId: string) {}

  /** The 200 answer for a held token and the resource string as the caller spelled it. */
  answer(token: AccessToken, resource: string, nowMs: number): TokenAnswer {
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
        expiresIn: -1,
        extExpiresIn: -1,
        answer: undefined,
      };
      perToken.set(resource, parts);
    }
    const expiresIn = Math.max(0, Math.floor((token.expiresOnMs - nowMs) / 1000));
    const extExpiresIn = Math.max(expiresIn, Math.floor((token.extExpiresOnMs - nowMs) / 1000));
    if (parts.answer && parts.expiresIn === expiresIn && parts.extExpiresIn === extExpiresIn) return parts.answer;
    const body = Buffer.from(`${parts.head}${expiresIn}${parts.middle}${extExpiresIn}${parts.tail}`, 'utf8');
    parts.answer = { body, headers: { ...JSON_HEADERS, 'content-length': body.length } };
    parts.expiresIn = expiresIn;
    parts.extExpiresIn = extExpiresIn;
    return parts.answer;
  }
}
