/**
 * The Entra emulator: Microsoft Entra ID and a cluster OIDC issuer on loopback HTTPS, for tests,
 * the demo, benchmarks and the soak. See `startEmulator`.
 */
export { startEmulator, DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID } from './emulator.js';
export { caTrustingNetworkClient } from './network-client.js';
export { sidecarEnv, type SidecarEnvOptions } from './sidecar-env.js';
export { decodeJwt } from './jwt.js';
export { ENTRA_ERRORS } from './entra-errors.js';
export { TOKEN_EXCHANGE_AUDIENCE, serviceAccountSubject } from './service-account-token.js';
export type {
  Emulator,
  EmulatorOptions,
  ExchangeRecord,
  Fault,
  FaultScheduleOptions,
  FederatedCredential,
  RequestRecord,
  ServiceAccountTokenOptions,
} from './types.js';
