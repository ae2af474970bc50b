import type { Logger } from '../log.js';

/** How to start an emulator. Every field has a default that works for a single-identity test. */
export interface EmulatorOptions {
  /** listen host; default 127.0.0.1 */
  host?: string;
  /** listen port; default 0 (ephemeral) */
  port?: number;
  /** where ca.pem and emulator.json go; default a new temporary folder, removed by close() */
  dir?: string;
  /** default 11111111-1111-4111-8111-111111111111 */
  tenantId?: string;
  /** default 22222222-2222-4222-8222-222222222222 */
  clientId?: string;
  /** namespace of the default service account (and of its federated credential); default `default` */
  namespace?: string;
  /** name of the default service account; default `workload` */
  serviceAccount?: string;
  /** the cluster's OIDC issuer URL; default `https://oidc.emulator.local/<random>` */
  issuer?: string;
  /** access-token lifetime (expires_in); default 3599 */
  tokenLifetimeSec?: number;
  /** `refresh_in` in token responses; default absent */
  refreshInSec?: number;
  /** resources (scope without `/.default`) that answer AADSTS500011 */
  unknownResources?: string[];
  /** how many request, exchange and secret records to keep (counters stay exact); default 20000 */
  historyLimit?: number;
  /** JSON-lines logger for requests (never tokens); default silent */
  logger?: Logger;
}

/** Options for minting a Kubernetes service-account token. */
export interface ServiceAccountTokenOptions {
  namespace?: string;
  serviceAccount?: string;
  /** default `['api://AzureADTokenExchange']`; a string becomes a one-element array */
  audience?: string | string[];
  /** seconds from now to `exp`; default 3600; negative mints an already-expired token */
  lifetimeSec?: number;
  /** seconds from now to `nbf`; default 0; positive mints a not-yet-valid token */
  notBeforeSec?: number;
  /** `iss`; default the emulator's issuer */
  issuer?: string;
  /** sign with a key no issuer publishes (Entra answers AADSTS7000272) */
  signWithUnknownKey?: boolean;
}

/** One token request that reached the token endpoint. */
export interface ExchangeRecord {
  /** arrival time, ms since the epoch */
  at: number;
  tenant: string;
  clientId: string;
  scope: string;
  /** the client assertion's `jti`, when it could be decoded */
  jti?: string;
  /** the client secret or certificate that authenticated an accepted request (its id) */
  credentialId?: string;
  /** HTTP status sent; 0 while not (yet) answered, or for hang/reset faults */
  status: number;
  /** `AADSTS<code>` for Entra errors, `fault:<kind>` for other injected faults */
  error?: string;
}

export interface RequestRecord {
  at: number;
  method: string;
  path: string;
}

/** A failure injected into token responses. */
export type Fault =
  | { kind: 'status'; status: number; body?: string | object; headers?: Record<string, string> }
  | { kind: 'aadsts'; code: number }
  | { kind: 'retry-after'; seconds: number; status?: number }
  | { kind: 'delay'; ms: number }
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'malformed-json' }
  | { kind: 'html'; status: number };

/** When an injected fault applies: the next `count` token responses (default 1), or all for `durationMs`; optionally one scope only. */
export interface FaultScheduleOptions {
  count?: number;
  durationMs?: number;
  scope?: string;
}

/** A federated identity credential of an application. */
export interface FederatedCredential {
  clientId: string;
  issuer: string;
  subject: string;
  /** default `api://AzureADTokenExchange` */
  audience?: string;
}

/** A running emulator. */
export interface Emulator {
  /** `https://127.0.0.1:PORT`, the authority host */
  readonly url: string;
  readonly caFile: string;
  readonly caPem: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly issuer: string;
  /** Mints a service-account token signed by the cluster issuer key. */
  mintServiceAccountToken(o?: ServiceAccountTokenOptions): { token: string; jti: string; exp: number };
  /** Writes a fresh token into `dir` in kubelet's projected-volume layout; `path` is `dir/token`. */
  writeProjectedToken(dir: string, o?: ServiceAccountTokenOptions): { path: string; jti: string };
  /** Writes a token now, then again every `intervalMs`; returns stop. close() stops it too. */
  startRotation(dir: string, intervalMs: number, o?: ServiceAccountTokenOptions): () => void;
  addApplication(clientId: string, tenantId?: string): void;
  /**
   * Trusts an external OIDC issuer (e.g. a real kube-apiserver) the way Entra does: fetches its
   * `/.well-known/openid-configuration` and JWKS (trusting `caPem` for HTTPS), and from then on
   * judges assertions with `iss` = `issuer` by that issuer's keys only. Register a federated
   * credential with `addFederatedCredential({ clientId, issuer, subject })` as well.
   */
  trustIssuer(issuer: string, options?: { caPem?: string }): Promise<void>;
  addFederatedCredential(r: FederatedCredential): void;
  removeFederatedCredentials(clientId: string): void;
  /** Registers a client secret on an app (default: the default app, a random value, no expiry; a negative expiresInSec is already expired). */
  addClientSecret(o?: { clientId?: string; value?: string; expiresInSec?: number }): { id: string; value: string };
  /** Registers a certificate's public part on an app (default: the default app). */
  addClientCertificate(certPem: string, o?: { clientId?: string }): { id: string; thumbprintSha256: string };
  /** Removes (revokes) a client secret or certificate by id. */
  removeClientCredential(id: string): void;
  setTokenLifetime(sec: number): void;
  setRefreshIn(sec: number | undefined): void;
  readonly exchanges: ExchangeRecord[];
  /** token requests that reached the handler (successful and failed), optionally for one scope */
  exchangeCount(scope?: string): number;
  readonly requests: RequestRecord[];
  /** requests to instance discovery, OIDC metadata and JWKS */
  discoveryRequestCount(): number;
  inject(fault: Fault, o?: FaultScheduleOptions): void;
  clearFaults(): void;
  /** Resolves when no injected fault applies to `scope` any more (count used up, duration over, or cleared). */
  faultsEnded(scope: string): Promise<void>;
  /** every access token and service-account token issued so far (up to historyLimit) */
  issuedSecrets(): string[];
  /** Closes the server and every socket, hung ones included. */
  close(): Promise<void>;
}
