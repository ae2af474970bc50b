import { EntraSidecarError, type ErrorCode } from '../errors.js';

/** Why an exchange failed, as a bounded metric label: `AADSTS70021`, `http_503`, `network`, `timeout`, `tls`, `malformed_response`, `federated_token`. */
export type FailureReason = string;

/** The codes of ExchangeError and its subclasses. */
export type ExchangeErrorCode = Extract<ErrorCode, 'EXCHANGE_FAILED' | 'FEDERATED_TOKEN_UNUSABLE' | 'CLIENT_CREDENTIAL_UNUSABLE'>;

/**
 * An exchange with Entra failed. `retryable` tells transient trouble (network, timeout, 429, 5xx,
 * a garbled answer) from a refusal that will not change by retrying (4xx such as invalid_client).
 * The message is safe to log: it never carries a token or the assertion.
 *
 * @example
 * if (err instanceof ExchangeError && !err.retryable) log.error({ aadsts: err.aadsts }, err.message);
 */
export class ExchangeError extends EntraSidecarError {
  constructor(
    message: string,
    readonly details: {
      retryable: boolean;
      reason: FailureReason;
      status?: number;
      aadsts?: number;
      entraError?: string;
      retryAfterMs?: number;
      correlationId?: string;
    },
    /** what could not be used: Entra's answer (the default), the service-account token, or the client credential */
    readonly code: ExchangeErrorCode = 'EXCHANGE_FAILED',
  ) {
    super(message, 'ExchangeError');
  }
  get retryable(): boolean {
    return this.details.retryable;
  }
  get reason(): FailureReason {
    return this.details.reason;
  }
  get aadsts(): number | undefined {
    return this.details.aadsts;
  }
  get status(): number | undefined {
    return this.details.status;
  }
  get retryAfterMs(): number | undefined {
    return this.details.retryAfterMs;
  }
}

/**
 * The projected service-account token could not be used: missing, unreadable, empty, not a JWT,
 * expired. The message names the file and the problem. Retryable: kubelet may fix it any moment.
 */
export class FederatedTokenError extends ExchangeError {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`service-account token file ${file} ${problem}`, { retryable: true, reason: 'federated_token' }, 'FEDERATED_TOKEN_UNUSABLE');
    this.name = 'FederatedTokenError';
  }
}

/**
 * The client secret or certificate file could not be used: missing, unreadable, empty, not a
 * certificate, a key the password does not open. The message names the file and the fix, never
 * the content. Retryable: kubelet may be about to write the Secret.
 */
export class ClientCredentialError extends ExchangeError {
  constructor(
    readonly file: string,
    what: string,
    problem: string,
  ) {
    super(`${what} file ${file} ${problem}`, { retryable: true, reason: 'client_credential' }, 'CLIENT_CREDENTIAL_UNUSABLE');
    this.name = 'ClientCredentialError';
  }
}
