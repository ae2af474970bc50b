import { EntraSidecarError } from '../errors.js';

/** Why an exchange failed, as a bounded metric label: `AADSTS70021`, `http_503`, `network`, `timeout`, `tls`, `malformed_response`, `federated_token`. */
export type FailureReason = string;

/**
 * An exchange with Entra failed. `retryable` tells transient trouble (network, timeout, 429, 5xx,
 * a garbled answer) from a refusal that will not change by retrying (4xx such as invalid_client).
 * The message is safe to log: it never carries a token or the assertion.
 *
 * @example
 * if (err instanceof ExchangeError && !err.retryable) log.error({ aadsts: err.aadsts }, err.message);
 */
export class ExchangeError extends EntraSidecarError {
  get code(): 'EXCHANGE_FAILED' | 'FEDERATED_TOKEN_UNUSABLE' {
    return this instanceof FederatedTokenError ? 'FEDERATED_TOKEN_UNUSABLE' : 'EXCHANGE_FAILED';
  }
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
    super(`service-account token file ${file} ${problem}`, { retryable: true, reason: 'federated_token' });
    this.name = 'FederatedTokenError';
  }
}
