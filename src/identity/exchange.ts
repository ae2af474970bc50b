import { randomUUID } from 'node:crypto';
import { ConfidentialClientApplication, LogLevel as MsalLogLevel } from '@azure/msal-node';
import type { AccessToken } from './access-token.js';
import { ExchangeError } from './errors.js';
import { EntraTransport } from './entra-transport.js';
import { readFederatedToken, type FederatedTokenClaims } from './federated-token.js';

export interface ExchangeOptions {
  clientId: string;
  tenantId: string;
  /** e.g. https://login.microsoftonline.com (a trailing / is fine) */
  authorityHost: string;
  federatedTokenFile: string;
  timeoutMs: number;
}

/** Exchanges the service-account token for an access token for one scope. */
export type Exchange = ((scope: string) => Promise<AccessToken>) & {
  /** the claims of the service-account token read by the latest exchange (never the token) */
  lastAssertion(): FederatedTokenClaims | undefined;
  discoveryRequests(): number;
  close(): void;
};

/**
 * Builds the federated exchange: msal-node's ConfidentialClientApplication with a client-assertion
 * callback that reads the projected token file afresh each time. msal-node makes no discovery
 * request (known authority plus metadata built here) and never decides timing: every call skips
 * its cache, and error answers never reach its throttling.
 *
 * @example
 * const exchange = createExchange({ clientId, tenantId, authorityHost, federatedTokenFile, timeoutMs: 10_000 });
 * const token = await exchange('https://storage.azure.com/.default');
 */
export function createExchange(o: ExchangeOptions): Exchange {
  const host = o.authorityHost.replace(/\/+$/, '');
  const authority = `${host}/${o.tenantId}`;
  const transport = new EntraTransport(o.timeoutMs);
  let lastAssertion: FederatedTokenClaims | undefined;

  const app = new ConfidentialClientApplication({
    auth: {
      clientId: o.clientId,
      authority,
      knownAuthorities: [new URL(host).host],
      authorityMetadata: JSON.stringify({
        token_endpoint: `${authority}/oauth2/v2.0/token`,
        authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
        issuer: `${authority}/v2.0`,
        jwks_uri: `${authority}/discovery/v2.0/keys`,
      }),
      clientAssertion: async () => {
        const { token, claims } = await readFederatedToken(o.federatedTokenFile);
        lastAssertion = claims;
        return token;
      },
    },
    system: {
      networkClient: transport,
      loggerOptions: { logLevel: MsalLogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => undefined },
    },
  });

  const exchange = (async (scope: string): Promise<AccessToken> => {
    const correlationId = randomUUID();
    const startedMs = Date.now();
    let result;
    try {
      result = await app.acquireTokenByClientCredential({ scopes: [scope], skipCache: true, correlationId });
    } catch (err) {
      throw transport.takeFailure(correlationId) ?? asExchangeError(err);
    }
    if (!result || !result.accessToken || !result.expiresOn) {
      throw new ExchangeError('Entra answered without an access token; will retry', { retryable: true, reason: 'malformed_response' });
    }
    const expiresOnMs = result.expiresOn.getTime();
    return {
      token: result.accessToken,
      scope,
      obtainedAtMs: startedMs,
      expiresOnMs,
      extExpiresOnMs: result.extExpiresOn ? result.extExpiresOn.getTime() : expiresOnMs,
      refreshOnMs: result.refreshOn ? result.refreshOn.getTime() : undefined,
    };
  }) as Exchange;
  exchange.lastAssertion = () => lastAssertion;
  exchange.discoveryRequests = () => transport.discoveryRequests;
  exchange.close = () => transport.close();
  return exchange;
}

function asExchangeError(err: unknown): ExchangeError {
  if (err instanceof ExchangeError) return err;
  const e = err as { errorCode?: string; errorMessage?: string; message?: string };
  const text = (e?.errorMessage || e?.message || String(err)).split('\n')[0];
  return new ExchangeError(`msal-node failed (${e?.errorCode ?? 'error'}): ${text}; will retry`, { retryable: true, reason: 'client' });
}
