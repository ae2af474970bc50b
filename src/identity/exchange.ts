import { randomUUID } from 'node:crypto';
import { ConfidentialClientApplication, LogLevel as MsalLogLevel, type Configuration } from '@azure/msal-node';
import type { CredentialSourceName } from '../contract/client-credential.js';
import type { AccessToken } from './access-token.js';
import { CertificateLoader, readClientSecret } from './client-credential.js';
import type { CredentialSource } from './credential-source.js';
import { ExchangeError } from './errors.js';
import { EntraTransport } from './entra-transport.js';
import { readFederatedToken, type FederatedTokenClaims } from './federated-token.js';

export interface ExchangeOptions {
  clientId: string;
  tenantId: string;
  /** e.g. https://login.microsoftonline.com (a trailing / is fine) */
  authorityHost: string;
  /** federated token file, client secret or client certificate */
  credential: CredentialSource;
  timeoutMs: number;
}

/** What the latest exchange authenticated with — public facts only, never a secret or a key. */
export interface CredentialInUse {
  source: CredentialSourceName;
  /** client certificate: hex SHA-256 thumbprint, notAfter, subject */
  thumbprintSha256?: string;
  notAfterMs?: number;
  subject?: string;
  /** client certificate: the key file every user can read, with its mode */
  worldReadableKey?: string;
}

/** Exchanges the service-account token for an access token for one scope. */
export type Exchange = ((scope: string) => Promise<AccessToken>) & {
  /** the claims of the service-account token read by the latest exchange (never the token) */
  lastAssertion(): FederatedTokenClaims | undefined;
  /** the credential the latest exchange used (read even when the exchange then failed) */
  lastCredential(): CredentialInUse | undefined;
  discoveryRequests(): number;
  close(): void;
};

/**
 * Builds the exchange: msal-node's ConfidentialClientApplication with the sidecar's one
 * credential. Federated: a client-assertion callback that reads the projected token file afresh
 * each time. Client secret: the file is read for every exchange. Client certificate: the files
 * are read for every exchange and parsed again when they changed; msal-node signs a PS256
 * assertion with the SHA-256 thumbprint (x5t#S256) and, when asked, the chain (x5c). For a secret
 * or a certificate every exchange gets a fresh application, so a rotated credential takes effect
 * at once and no client assertion is ever sent twice (msal-node would reuse one for 10 minutes).
 * msal-node makes no discovery request (known authority plus metadata built here) and never
 * decides timing: every call skips its cache, and error answers never reach its throttling.
 *
 * @example
 * const exchange = createExchange({ clientId, tenantId, authorityHost, credential: { kind: 'federated', tokenFile, setting }, timeoutMs: 10_000 });
 * const token = await exchange('https://storage.azure.com/.default');
 */
export function createExchange(o: ExchangeOptions): Exchange {
  const host = o.authorityHost.replace(/\/+$/, '');
  const authority = `${host}/${o.tenantId}`;
  const transport = new EntraTransport(o.timeoutMs);
  let lastAssertion: FederatedTokenClaims | undefined;
  let lastCredential: CredentialInUse | undefined;

  const auth = {
    clientId: o.clientId,
    authority,
    knownAuthorities: [new URL(host).host],
    authorityMetadata: JSON.stringify({
      token_endpoint: `${authority}/oauth2/v2.0/token`,
      authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
      issuer: `${authority}/v2.0`,
      jwks_uri: `${authority}/discovery/v2.0/keys`,
    }),
  };
  const system: Configuration['system'] = {
    networkClient: transport,
    loggerOptions: { logLevel: MsalLogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => undefined },
  };
  const c = o.credential;
  const certificates = c.kind === 'client_certificate' ? new CertificateLoader(c) : undefined;
  let federatedApp: ConfidentialClientApplication | undefined;

  const appForNextExchange = async (): Promise<ConfidentialClientApplication> => {
    switch (c.kind) {
      case 'federated':
        lastCredential = { source: 'federated' };
        return (federatedApp ??= new ConfidentialClientApplication({
          auth: {
            ...auth,
            clientAssertion: async () => {
              const { token, claims } = await readFederatedToken(c.tokenFile);
              lastAssertion = claims;
              return token;
            },
          },
          system,
        }));
      case 'client_secret': {
        const clientSecret = await readClientSecret(c);
        lastCredential = { source: 'client_secret' };
        return new ConfidentialClientApplication({ auth: { ...auth, clientSecret }, system });
      }
      case 'client_certificate': {
        const cert = await (certificates as CertificateLoader).load();
        lastCredential = {
          source: 'client_certificate',
          thumbprintSha256: cert.thumbprintSha256,
          notAfterMs: cert.notAfterMs,
          subject: cert.subject,
          worldReadableKey: cert.worldReadableKey,
        };
        return new ConfidentialClientApplication({
          auth: {
            ...auth,
            clientCertificate: { thumbprintSha256: cert.thumbprintSha256, privateKey: cert.privateKeyPem, ...(c.sendChain ? { x5c: cert.chainPem } : {}) },
          },
          system,
        });
      }
    }
  };

  const exchange = (async (scope: string): Promise<AccessToken> => {
    const correlationId = randomUUID();
    const startedMs = Date.now();
    const app = await appForNextExchange();
    let result;
    try {
      result = await app.acquireTokenByClientCredential({ scopes: [scope], skipCache: true, correlationId });
    } catch (err) {
      throw transport.takeFailure(correlationId) ?? asExchangeError(err);
    }
    if (!result?.accessToken || !result.expiresOn) {
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
  exchange.lastCredential = () => lastCredential;
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
