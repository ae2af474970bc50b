import type { CredentialSourceName } from '../contract/client-credential.js';

/**
 * Where the sidecar's credential comes from — exactly one per sidecar. Files are read afresh for
 * every exchange (kubelet updates Secret and projected volumes in place); values given in the
 * environment (`AZURE_CLIENT_SECRET`, `AZURE_CLIENT_CERTIFICATE_PASSWORD`) cannot change.
 * `setting` names the variable and flag the user set, for error messages.
 */
export type CredentialSource =
  | { kind: 'federated'; tokenFile: string; setting: string }
  | { kind: 'client_secret'; file?: string; value?: string; setting: string }
  | {
      kind: 'client_certificate';
      /** PEM (certificate and, unless keyFile is given, its private key) or PKCS#12 */
      file: string;
      /** the private key in its own PEM file (a kubernetes.io/tls Secret's tls.key) */
      keyFile?: string;
      passwordFile?: string;
      password?: string;
      /** send the certificate chain as x5c (subject name + issuer authentication) */
      sendChain: boolean;
      setting: string;
    };

/** The bounded name of a source, as the metric label and log field show it. */
export function sourceName(source: CredentialSource): CredentialSourceName {
  return source.kind;
}
