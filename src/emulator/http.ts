import { EntraSidecarError } from '../errors.js';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Headers Entra sends on every token-endpoint and metadata response. */
export function entraHeaders(traceId: string, correlationId: string | undefined): Record<string, string> {
  const h: Record<string, string> = {
    'cache-control': 'no-store, no-cache',
    pragma: 'no-cache',
    'x-ms-request-id': traceId,
    'x-ms-ests-server': '2.1.emulator',
    'x-content-type-options': 'nosniff',
    'strict-transport-security': 'max-age=31536000; includeSubDomains',
  };
  if (correlationId !== undefined) h['client-request-id'] = correlationId;
  return h;
}

/** Sends a JSON body with the given status; ignores a socket that is already gone. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(body), { 'content-type': 'application/json; charset=utf-8', ...headers });
}

/** Sends a text body with explicit headers; ignores a socket that is already gone. */
export function send(res: ServerResponse, status: number, body: string, headers: Record<string, string>): void {
  if (res.headersSent || res.destroyed || res.writableEnded) return;
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/** Thrown by readBody when the body exceeds the limit. */
export class BodyTooLarge extends EntraSidecarError {
  readonly code = 'BODY_TOO_LARGE' as const;
  constructor(message = 'request body too large') {
    super(message, 'BodyTooLarge');
  }
}

/**
 * Reads a request body as UTF-8, up to `limit` bytes.
 *
 * @example
 * const form = new URLSearchParams(await readBody(req));
 */
export function readBody(req: IncomingMessage, limit = 256 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new BodyTooLarge(`request body is larger than ${limit} bytes`));
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The client's `client-request-id` when it is a GUID (Entra echoes it as the correlation id). */
export function clientRequestId(req: IncomingMessage): string | undefined {
  const v = req.headers['client-request-id'];
  return typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v) ? v : undefined;
}
