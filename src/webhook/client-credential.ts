import { truncate } from '../config/options.js';
import { CLIENT_CERTIFICATE_DIR, CLIENT_SECRET_DIR, DEFAULT_CLIENT_SECRET_KEY, isSecretKey, TLS_CERT_KEY, TLS_KEY_KEY } from '../contract/client-credential.js';
import { SIDECAR_ENV } from '../contract/sidecar-env.js';
import type { EnvVar, Volume, VolumeMount } from './pod.js';

/** The annotations that give the sidecar a client secret or certificate instead of federation. */
export const CLIENT_CREDENTIAL_ANNOTATION = {
  clientSecret: 'entra-sidecar.io/client-secret',
  clientCertificate: 'entra-sidecar.io/client-certificate',
} as const;

/** The Secret volume holding the client secret or certificate; mounted only into the sidecar (and its `--once` init container). */
export const CLIENT_CREDENTIAL_VOLUME = 'entra-sidecar-client-credential';

/**
 * A pod's client credential: a key of a Secret in the pod's namespace. For a certificate without
 * a key, the Secret is a `kubernetes.io/tls` Secret (`tls.crt` and `tls.key`).
 */
export type ClientCredentialRef = { kind: 'client_secret'; secretName: string; key: string } | { kind: 'client_certificate'; secretName: string; key?: string };

/** A Secret name as Kubernetes accepts it (a DNS-1123 subdomain). */
const SECRET_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Parses `entra-sidecar.io/client-secret: <secret-name>[/<key>]` and
 * `entra-sidecar.io/client-certificate: <secret-name>[/<key>]`. Both at once, a malformed name or
 * key, or a federated-only setting (`entra-sidecar.io/token-expiration`) next to one is a problem
 * naming the fix. No annotation: federation (undefined).
 *
 * @example
 * parseClientCredential({ 'entra-sidecar.io/client-secret': 'my-app-sp/secret' }) // { ok: true, value: { kind: 'client_secret', secretName: 'my-app-sp', key: 'secret' } }
 */
export function parseClientCredential(
  annotations: Record<string, string>,
  federatedOnly: string[],
): { ok: true; value: ClientCredentialRef | undefined } | { ok: false; problems: string[] } {
  const A = CLIENT_CREDENTIAL_ANNOTATION;
  const secret = annotations[A.clientSecret];
  const certificate = annotations[A.clientCertificate];
  if (secret === undefined && certificate === undefined) return { ok: true, value: undefined };
  const problems: string[] = [];
  if (secret !== undefined && certificate !== undefined) {
    problems.push(
      `annotations ${A.clientSecret} and ${A.clientCertificate} are both set, but the sidecar uses exactly one credential: keep one (a certificate is the safer choice)`,
    );
  }
  const key = secret !== undefined ? A.clientSecret : A.clientCertificate;
  const raw = (secret ?? certificate) as string;
  const m = /^([^/]*)(?:\/(.*))?$/.exec(raw.trim()) as RegExpExecArray;
  const name = m[1] as string;
  const dataKey = m[2];
  if (!SECRET_NAME.test(name))
    problems.push(
      `annotation ${key} must be <secret-name>[/<key>] with the name of a Secret in the pod's namespace (lowercase letters, digits, '-' and '.'), got "${truncate(raw)}"`,
    );
  if (dataKey !== undefined && !isSecretKey(dataKey))
    problems.push(`annotation ${key}: the key after '/' must be a Secret data key (letters, digits, '-', '_' and '.'), got "${truncate(raw)}"`);
  for (const other of federatedOnly) {
    if (annotations[other] !== undefined)
      problems.push(
        `annotation ${other} applies only to federation (the projected service-account token), but ${key} gives the sidecar a client credential instead: remove ${other}`,
      );
  }
  if (problems.length > 0) return { ok: false, problems };
  if (secret !== undefined) return { ok: true, value: { kind: 'client_secret', secretName: name, key: dataKey ?? DEFAULT_CLIENT_SECRET_KEY } };
  return { ok: true, value: { kind: 'client_certificate', secretName: name, key: dataKey } };
}

/**
 * The Secret volume for the credential: only the keys the sidecar needs, read-only. Without an
 * `fsGroup` the files must be readable by every user for the sidecar's UID to read them (Secret
 * files belong to root); only the sidecar's containers mount this volume. With an `fsGroup` they
 * are readable by the owner and the group only.
 *
 * @example
 * clientCredentialVolume({ kind: 'client_secret', secretName: 'my-app-sp', key: 'client-secret' }, undefined)
 */
export function clientCredentialVolume(ref: ClientCredentialRef, fsGroup: number | undefined): Volume {
  const keys = ref.kind === 'client_secret' ? [ref.key] : ref.key !== undefined ? [ref.key] : [TLS_CERT_KEY, TLS_KEY_KEY];
  return {
    name: CLIENT_CREDENTIAL_VOLUME,
    secret: { secretName: ref.secretName, items: keys.map((k) => ({ key: k, path: k })), defaultMode: fsGroup === undefined ? 0o444 : 0o440 },
  };
}

/** The sidecar's read-only mount of the credential volume. */
export function clientCredentialMount(ref: ClientCredentialRef): VolumeMount {
  return { name: CLIENT_CREDENTIAL_VOLUME, mountPath: ref.kind === 'client_secret' ? CLIENT_SECRET_DIR : CLIENT_CERTIFICATE_DIR, readOnly: true };
}

/** The sidecar's variables pointing at the mounted credential files. */
export function clientCredentialEnv(ref: ClientCredentialRef): EnvVar[] {
  if (ref.kind === 'client_secret') return [{ name: SIDECAR_ENV.clientSecretFile, value: `${CLIENT_SECRET_DIR}/${ref.key}` }];
  if (ref.key !== undefined) return [{ name: SIDECAR_ENV.clientCertificateFile, value: `${CLIENT_CERTIFICATE_DIR}/${ref.key}` }];
  return [
    { name: SIDECAR_ENV.clientCertificateFile, value: `${CLIENT_CERTIFICATE_DIR}/${TLS_CERT_KEY}` },
    { name: SIDECAR_ENV.clientCertificateKeyFile, value: `${CLIENT_CERTIFICATE_DIR}/${TLS_KEY_KEY}` },
  ];
}
