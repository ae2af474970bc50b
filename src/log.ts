import pino from 'pino';
import type { LogLevel } from './config/options.js';

export type Logger = pino.Logger;

/**
 * JSON-lines logger on stdout. Callers never pass a token, a service-account token or the
 * identity header; as a second line of defence the usual secret-bearing keys are redacted.
 *
 * @example
 * const log = createLogger('info', 'sidecar');
 * log.info({ target: 'storage', expiresOn }, 'token refreshed');
 */
export function createLogger(level: LogLevel, component: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { component },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['access_token', 'token', 'assertion', 'client_assertion', 'identityHeader', 'headers["x-identity-header"]', 'req.headers["x-identity-header"]'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
