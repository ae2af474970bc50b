import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/errors.js';
import { EntraSidecarError, type ErrorCode } from '../src/errors.js';
import { ClientCredentialError, ExchangeError, FederatedTokenError } from '../src/identity/errors.js';
import { EndpointError } from '../src/sidecar/endpoint/responses.js';

describe('one error base with a stable code', () => {
  it.each<[EntraSidecarError, ErrorCode, string]>([
    [new ConfigError('AZURE_CLIENT_ID (--client-id)', 'is required'), 'CONFIG_INVALID', 'ConfigError'],
    [new ExchangeError('Entra refused', { retryable: false, reason: 'AADSTS70021' }), 'EXCHANGE_FAILED', 'ExchangeError'],
    [new FederatedTokenError('/var/run/secrets/token', 'is missing'), 'FEDERATED_TOKEN_UNUSABLE', 'FederatedTokenError'],
    [
      new ClientCredentialError('/var/run/secrets/entra-sidecar/client-secret/client-secret', 'client secret', 'is empty'),
      'CLIENT_CREDENTIAL_UNUSABLE',
      'ClientCredentialError',
    ],
    [new EndpointError(401, 'unauthorized_client', 'missing header'), 'ENDPOINT_REFUSED', 'EndpointError'],
  ])('%s has code %s and name %s', (err, code, name) => {
    expect(err).toBeInstanceOf(EntraSidecarError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(code);
    expect(err.name).toBe(name);
  });
  it('a federated-token problem is still an exchange failure', () => {
    expect(new FederatedTokenError('/t', 'is empty')).toBeInstanceOf(ExchangeError);
  });
});
