/**
 * The base of every error this project throws on purpose, with a stable `code` (as jose's
 * `JOSEError`): callers branch on `code` or `instanceof`, never on message text. Messages are safe
 * to log and say what to do next; none carries a token, a secret or a key.
 */

/** Every code, so a `switch` over them is checked by the compiler. */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'EXCHANGE_FAILED'
  | 'FEDERATED_TOKEN_UNUSABLE'
  | 'ENDPOINT_REFUSED'
  | 'SERVICE_ACCOUNT_LOOKUP_FAILED'
  | 'LISTEN_FAILED'
  | 'BODY_TOO_LARGE';

/**
 * @example
 * if (err instanceof EntraSidecarError && err.code === 'CONFIG_INVALID') process.exitCode = 2;
 */
export abstract class EntraSidecarError extends Error {
  abstract readonly code: ErrorCode;
  /** `name` is given, not taken from the class: the bundle is minified. */
  constructor(message: string, name: string) {
    super(message);
    this.name = name;
  }
}
