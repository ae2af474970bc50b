/** Where the sidecar serves tokens and health, as apps and probes reach it inside the pod. */

/** App Service 2019-08-01: IDENTITY_ENDPOINT points here. Also the legacy MSI_ENDPOINT (POST). */
export const MSI_TOKEN_PATH = '/msi/token';
/** IMDS 2018-02-01, for AZURE_POD_IDENTITY_AUTHORITY_HOST=http://127.0.0.1:<port>. */
export const IMDS_TOKEN_PATH = '/metadata/identity/oauth2/token';

/** Default loopback port of the token endpoint. */
export const DEFAULT_ENDPOINT_PORT = 42350;
/** Default port of /healthz, /readyz and /metrics. */
export const DEFAULT_HEALTH_PORT = 42351;
/** Default folder of the token files, in the sidecar and in app containers. */
export const DEFAULT_TOKEN_DIR = '/var/run/secrets/entra';

/**
 * The managed-identity endpoint URL apps get as IDENTITY_ENDPOINT (and MSI_ENDPOINT).
 *
 * @example
 * identityEndpointUrl(42350) // 'http://127.0.0.1:42350/msi/token'
 */
export function identityEndpointUrl(port: number): string {
  return `http://127.0.0.1:${port}${MSI_TOKEN_PATH}`;
}

/** The token endpoint's listen address in the sidecar (loopback only). */
export function endpointListen(port: number): string {
  return `127.0.0.1:${port}`;
}

/** The health port's listen address in the sidecar (kubelet probes and Prometheus reach it). */
export function healthListen(port: number): string {
  return `0.0.0.0:${port}`;
}
