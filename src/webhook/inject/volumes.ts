import { CLIENT_CREDENTIAL_VOLUME, clientCredentialMount, clientCredentialVolume, type ClientCredentialRef } from '../client-credential.js';
import type { Container, Pod, Volume, VolumeMount } from '../pod.js';

/** Projected service-account token for the exchange; mounted only into the sidecar. */
export const SA_TOKEN_VOLUME = 'entra-sidecar-sa-token';
/** In-memory volume the sidecar writes the token files to; read-only in app containers. */
export const TOKEN_FILES_VOLUME = 'entra-sidecar-tokens';
/** Where the projected token appears inside the sidecar. */
export const SA_TOKEN_DIR = '/var/run/secrets/entra-sidecar/serviceaccount';
export const SA_TOKEN_FILE = `${SA_TOKEN_DIR}/token`;
/** The audience Entra expects in a federated credential's assertion. */
export const FEDERATED_TOKEN_AUDIENCE = 'api://AzureADTokenExchange';

/** The projected service-account token volume (`audience api://AzureADTokenExchange`). */
export function serviceAccountTokenVolume(expirationSeconds: number): Volume {
  return {
    name: SA_TOKEN_VOLUME,
    projected: {
      sources: [{ serviceAccountToken: { audience: FEDERATED_TOKEN_AUDIENCE, expirationSeconds, path: 'token' } }],
    },
  };
}

/** The token-files volume: `emptyDir` in memory, 1 MiB at most. */
export function tokenFilesVolume(): Volume {
  return { name: TOKEN_FILES_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } };
}

/**
 * The sidecar's (and the `--once` init container's) mounts: its credential read-only (the
 * projected token, or the client secret or certificate), the files read-write.
 */
export function sidecarVolumeMounts(mountPath: string, credential?: ClientCredentialRef): VolumeMount[] {
  return [
    credential ? clientCredentialMount(credential) : { name: SA_TOKEN_VOLUME, mountPath: SA_TOKEN_DIR, readOnly: true },
    { name: TOKEN_FILES_VOLUME, mountPath },
  ];
}

/** An app container's mount of the token files, read-only. */
export function appVolumeMount(mountPath: string): VolumeMount {
  return { name: TOKEN_FILES_VOLUME, mountPath, readOnly: true };
}

/** Volumes the webhook adds, by name: with a client credential its Secret, and no service-account token. */
export function injectedVolumes(expirationSeconds: number, credential?: ClientCredentialRef, fsGroup?: number): Volume[] {
  return [credential ? clientCredentialVolume(credential, fsGroup) : serviceAccountTokenVolume(expirationSeconds), tokenFilesVolume()];
}

/** The webhook's volume names a pod already uses (a fresh injection must not reuse them). */
export function reservedVolumeNamesInUse(pod: Pod): string[] {
  const reserved = [SA_TOKEN_VOLUME, TOKEN_FILES_VOLUME, CLIENT_CREDENTIAL_VOLUME];
  return (pod.spec.volumes ?? []).map((v) => v.name).filter((n) => reserved.includes(n));
}

/** Appends the volumes a pod lacks (by name); existing ones are kept as they are. */
export function addMissingVolumes(pod: Pod, wanted: Volume[]): void {
  const volumes = pod.spec.volumes ?? [];
  const names = new Set(volumes.map((v) => v.name));
  const missing = wanted.filter((w) => !names.has(w.name));
  if (missing.length > 0) pod.spec.volumes = [...volumes, ...missing];
}

/**
 * Adds the read-only token-files mount to a container unless it already mounts the volume.
 * Returns a problem when another volume is already mounted at that path.
 */
export function addAppMount(container: Container, mountPath: string): string | undefined {
  const mounts = container.volumeMounts ?? [];
  if (mounts.some((m) => m.name === TOKEN_FILES_VOLUME)) return undefined;
  const clash = mounts.find((m) => m.mountPath.replace(/\/+$/, '') === mountPath);
  if (clash) return `container ${container.name} already mounts volume ${clash.name} at ${mountPath}`;
  container.volumeMounts = [...mounts, appVolumeMount(mountPath)];
  return undefined;
}
