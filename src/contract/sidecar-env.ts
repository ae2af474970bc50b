/**
 * The sidecar's environment variables: the names the webhook injects and the sidecar reads. The
 * `AZURE_*` names are the ones Azure Workload Identity and the Azure SDKs use for the same facts.
 */
export const SIDECAR_ENV = {
  clientId: 'AZURE_CLIENT_ID',
  tenantId: 'AZURE_TENANT_ID',
  federatedTokenFile: 'AZURE_FEDERATED_TOKEN_FILE',
  clientSecretFile: 'ENTRA_SIDECAR_CLIENT_SECRET_FILE',
  clientCertificateFile: 'ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE',
  clientCertificateKeyFile: 'ENTRA_SIDECAR_CLIENT_CERTIFICATE_KEY_FILE',
  clientCertificatePasswordFile: 'ENTRA_SIDECAR_CLIENT_CERTIFICATE_PASSWORD_FILE',
  sendCertificateChain: 'ENTRA_SIDECAR_SEND_CERTIFICATE_CHAIN',
  authorityHost: 'AZURE_AUTHORITY_HOST',
  tokens: 'ENTRA_SIDECAR_TOKENS',
  files: 'ENTRA_SIDECAR_FILES',
  tokenDir: 'ENTRA_SIDECAR_TOKEN_DIR',
  fileMode: 'ENTRA_SIDECAR_FILE_MODE',
  listen: 'ENTRA_SIDECAR_LISTEN',
  healthListen: 'ENTRA_SIDECAR_HEALTH_LISTEN',
  identityHeader: 'ENTRA_SIDECAR_IDENTITY_HEADER',
  allowedScopes: 'ENTRA_SIDECAR_ALLOWED_SCOPES',
  exchangeTimeout: 'ENTRA_SIDECAR_EXCHANGE_TIMEOUT',
  maxOnDemand: 'ENTRA_SIDECAR_MAX_ON_DEMAND',
  newScopeBurst: 'ENTRA_SIDECAR_NEW_SCOPE_BURST',
  newScopesPerMinute: 'ENTRA_SIDECAR_NEW_SCOPES_PER_MINUTE',
  flavours: 'ENTRA_SIDECAR_FLAVOURS',
  identityResourceId: 'ENTRA_SIDECAR_IDENTITY_RESOURCE_ID',
  logLevel: 'ENTRA_SIDECAR_LOG_LEVEL',
  /** tests only: refused unless the authority host is a loopback emulator; never injected */
  testBackoff: 'ENTRA_SIDECAR_TEST_BACKOFF',
  nodeOptions: 'NODE_OPTIONS',
} as const;

/**
 * The variables `EnvironmentCredential` reads, accepted by the sidecar with the same meaning for
 * users moving a service principal out of the app. The webhook never sets them: it mounts files.
 */
export const ENVIRONMENT_CREDENTIAL_ENV = {
  clientSecret: 'AZURE_CLIENT_SECRET',
  clientCertificatePath: 'AZURE_CLIENT_CERTIFICATE_PATH',
  clientCertificatePassword: 'AZURE_CLIENT_CERTIFICATE_PASSWORD',
  sendCertificateChain: 'AZURE_CLIENT_SEND_CERTIFICATE_CHAIN',
} as const;

/** Variables app containers get (never `AZURE_FEDERATED_TOKEN_FILE` or `AZURE_TENANT_ID`). */
export const APP_ENV = {
  identityEndpoint: 'IDENTITY_ENDPOINT',
  identityHeader: 'IDENTITY_HEADER',
  msiEndpoint: 'MSI_ENDPOINT',
  clientId: 'AZURE_CLIENT_ID',
  tokenDir: 'ENTRA_TOKEN_DIR',
} as const;

/** The sidecar's subcommands as the webhook writes them in `args`. */
export const SIDECAR_COMMAND = 'sidecar';
export const ONCE_FLAG = '--once';

/** The user id the sidecar runs as (distroless "nonroot"). */
export const SIDECAR_UID = 65532;
