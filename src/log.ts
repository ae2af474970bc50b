import { writeSync } from 'node:fs';
import { LOG_LEVELS, type LogLevel } from './config/options.js';

/** Where log lines go: anything with `write(line)` (stdout by default). */
export interface LogSink {
  write(line: string): void;
}

/** Fields of a log line: JSON values; an Error is written as its type and message, never its stack. */
export type LogFields = Record<string, unknown>;

type LogMethod = {
  (fields: LogFields, message?: string): void;
  (message: string): void;
};

/** A JSON-lines logger with the four levels the settings accept. */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

/** Top-level fields that can carry a secret: written as `[redacted]` (a second line of defence). */
const REDACTED_KEYS: readonly string[] = ['access_token', 'token', 'assertion', 'client_assertion', 'identityHeader'];
const IDENTITY_HEADER = 'x-identity-header';
const CENSOR = '[redacted]';

/**
 * JSON-lines logger on stdout, one line per call, written synchronously (a line is out before the
 * process can exit): `{"level":"info","time":"<ISO 8601>","component":"sidecar",…fields,"msg":"…"}`
 * — the shape pino printed before (and what log collectors, the tests and the demo parse). Callers
 * never pass a token, a service-account token or the identity header; as a second line of defence
 * the usual secret-bearing fields are redacted (`token`, `access_token`, `assertion`,
 * `client_assertion`, `identityHeader`, and `x-identity-header` under `headers` or `req.headers`).
 * An Error is written as `{type, message}`: no stack trace reaches a log line. Writing never throws.
 *
 * @example
 * const log = createLogger('info', 'sidecar');
 * log.info({ target: 'storage', expiresOn }, 'token refreshed');
 */
export function createLogger(level: LogLevel, component: string, destination?: LogSink): Logger {
  const sink = destination ?? STDOUT;
  const threshold = LOG_LEVELS.indexOf(level);
  const head = (label: LogLevel) => `{"level":"${label}","time":"`;
  const tail = `","component":${JSON.stringify(component)}`;
  const method = (label: LogLevel): LogMethod => {
    if (LOG_LEVELS.indexOf(label) < threshold) return noop;
    const start = head(label);
    return ((fields: LogFields | string, message?: string) => {
      const [f, msg] = typeof fields === 'string' ? [undefined, fields] : [fields, message];
      sink.write(`${start}${new Date().toISOString()}${tail}${body(f, msg)}}\n`);
    }) as LogMethod;
  };
  return { debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error') };
}

const noop: LogMethod = () => {};

/** `,"k":v…,"msg":"…"` for the fields and message; a field that cannot be written is named instead. */
function body(fields: LogFields | undefined, message: string | undefined): string {
  let out = '';
  if (fields) {
    const safe = redacted(fields);
    for (const key of Object.keys(safe)) {
      const value = safe[key];
      if (value === undefined || typeof value === 'function' || typeof value === 'symbol' || (key === 'msg' && message !== undefined)) continue;
      let json: string | undefined;
      try {
        json = JSON.stringify(value, replacer);
      } catch {
        json = JSON.stringify(`[${key} could not be written]`);
      }
      if (json !== undefined) out += `,${JSON.stringify(key)}:${json}`;
    }
  }
  if (message !== undefined) out += `,"msg":${JSON.stringify(message)}`;
  return out;
}

/** Errors (the field itself or nested) as type and message; BigInts as strings. */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return errorFields(value);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function errorFields(err: Error): { type: string; message: string } {
  return { type: err.name, message: err.message };
}

/** A shallow copy with the secret-bearing fields censored (the input is never changed). */
function redacted(fields: LogFields): LogFields {
  let out: LogFields | undefined;
  const set = (key: string, value: unknown) => {
    out ??= { ...fields };
    out[key] = value;
  };
  for (const key of REDACTED_KEYS) if (fields[key] !== undefined) set(key, CENSOR);
  const headers = withoutIdentityHeader(fields.headers);
  if (headers) set('headers', headers);
  const req = fields.req;
  if (req && typeof req === 'object') {
    const reqHeaders = withoutIdentityHeader((req as { headers?: unknown }).headers);
    if (reqHeaders) set('req', { ...(req as object), headers: reqHeaders });
  }
  return out ?? fields;
}

function withoutIdentityHeader(headers: unknown): object | undefined {
  if (!headers || typeof headers !== 'object' || (headers as Record<string, unknown>)[IDENTITY_HEADER] === undefined) return undefined;
  return { ...(headers as object), [IDENTITY_HEADER]: CENSOR };
}

/** Standard output, written synchronously; a full pipe falls back to the stream, a closed one drops the line. */
const STDOUT: LogSink = {
  write(line) {
    const bytes = Buffer.from(line);
    let written = 0;
    try {
      while (written < bytes.length) written += writeSync(1, bytes, written);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') process.stdout.write(bytes.subarray(written));
    }
  },
};
