/**
 * How a sidecar proves who it is to Entra, as both sides name it: the webhook mounts a client
 * secret or certificate at these paths and points the sidecar's variables at them; the sidecar
 * reports its source under these names (metric label, log field).
 */

/** The credential sources a sidecar can have; exactly one per sidecar. */
export const CREDENTIAL_SOURCES = ['federated', 'client_secret', 'client_certificate'] as const;
export type CredentialSourceName = (typeof CREDENTIAL_SOURCES)[number];

/** Where the webhook mounts a client-secret Secret in the sidecar (read-only, never in an app container). */
export const CLIENT_SECRET_DIR = '/var/run/secrets/entra-sidecar/client-secret';
/** Where the webhook mounts a client-certificate Secret in the sidecar (read-only, never in an app container). */
export const CLIENT_CERTIFICATE_DIR = '/var/run/secrets/entra-sidecar/client-certificate';

/** The key of a client-secret Secret when the annotation names none. */
export const DEFAULT_CLIENT_SECRET_KEY = 'client-secret';
/** The keys of a `kubernetes.io/tls` Secret: the certificate chain and its private key. */
export const TLS_CERT_KEY = 'tls.crt';
export const TLS_KEY_KEY = 'tls.key';
/**
 * A Secret data key as Kubernetes accepts it: letters, digits, `-`, `_`, `.`; at most 253
 * characters; not `.` or `..`.
 *
 * @example
 * isSecretKey('tls.crt') // true
 */
export function isSecretKey(key: string): boolean {
  return /^[-._a-zA-Z0-9]{1,253}$/.test(key) && key !== '.' && key !== '..';
}
