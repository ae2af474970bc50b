import { CLIENT_CREDENTIAL_VOLUME, clientCredentialMount, clientCredentialVolume, type ClientCredentialRef } from '../client-credential.js';
import type { Container, Pod, Volume, VolumeMount } from '../pod.js';
import type { PatchAt, PatchRecorder } from '../patch.js';

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

/** Every volume name the webhook may add: reserved in every pod it sees. */
export const INJECTED_VOLUME_NAMES: readonly string[] = [SA_TOKEN_VOLUME, TOKEN_FILES_VOLUME, CLIENT_CREDENTIAL_VOLUME];
/** The volumes holding the sidecar's credential: never mounted into any other container. */
const CREDENTIAL_VOLUMES: readonly string[] = [SA_TOKEN_VOLUME, CLIENT_CREDENTIAL_VOLUME];

/** The webhook's volume names a pod already uses (a fresh injection must not reuse them). */
export function reservedVolumeNamesInUse(pod: Pod): string[] {
  return (pod.spec.volumes ?? []).map((v) => v.name).filter((n) => INJECTED_VOLUME_NAMES.includes(n));
}

/** Every container of the pod spec: init, app and ephemeral. */
export function allContainers(pod: Pod): Container[] {
  const ephemeral = Array.isArray(pod.spec.ephemeralContainers) ? (pod.spec.ephemeralContainers as Container[]) : [];
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers, ...ephemeral];
}

/**
 * Mounts of the webhook's volumes by containers that are not the webhook's own (init, app and
 * ephemeral containers alike). The credential volumes (projected service-account token, client
 * secret or certificate) are never allowed: a mount declared under that name would receive the
 * volume the webhook adds. The token-files volume is allowed only exactly as the webhook mounts it
 * into app containers (read-only at `tokenFilesPath`), which exists only after an injection:
 * `tokenFilesPath` undefined means a fresh injection, where any such mount is refused.
 *
 * @example
 * reservedMountProblems(pod, new Set(['entra-sidecar']), undefined)
 * // ['container steal mounts volume entra-sidecar-sa-token, …']
 */
export function reservedMountProblems(pod: Pod, own: ReadonlySet<string>, tokenFilesPath: string | undefined): string[] {
  const problems: string[] = [];
  for (const c of allContainers(pod)) {
    if (own.has(c.name)) continue;
    for (const m of c.volumeMounts ?? []) {
      if (!INJECTED_VOLUME_NAMES.includes(m.name)) continue;
      if (CREDENTIAL_VOLUMES.includes(m.name)) {
        problems.push(
          `container ${c.name} mounts volume ${m.name}, which holds the sidecar's credential and is mounted only into the sidecar: remove that volumeMount (the name is reserved for entra-sidecar)`,
        );
      } else if (tokenFilesPath === undefined) {
        problems.push(
          `container ${c.name} mounts volume ${m.name}, which the webhook adds: remove that volumeMount (the webhook mounts the token files read-only into app containers itself; the name is reserved for entra-sidecar)`,
        );
      } else if (!isAppMount(m, tokenFilesPath)) {
        problems.push(
          `container ${c.name} mounts volume ${m.name} other than read-only at ${tokenFilesPath}, as the webhook mounts it: remove that volumeMount and let the webhook add it`,
        );
      }
    }
  }
  return problems;
}

function isAppMount(m: VolumeMount, mountPath: string): boolean {
  const want = appVolumeMount(mountPath);
  const keys = Object.keys(m).filter((k) => m[k] !== undefined);
  return keys.length === 3 && m.name === want.name && m.mountPath.replace(/\/+$/, '') === want.mountPath && m.readOnly === true;
}

/** Appends the volumes a pod lacks (by name); existing ones are kept as they are. With `ops`, what is added is recorded. */
export function addMissingVolumes(pod: Pod, wanted: Volume[], ops?: PatchRecorder): void {
  const volumes = pod.spec.volumes;
  const missing = volumes ? wanted.filter((w) => !volumes.some((v) => v.name === w.name)) : wanted;
  if (missing.length === 0) return;
  ops?.append('/spec/volumes', volumes, missing);
  pod.spec.volumes = volumes ? [...volumes, ...missing] : [...missing];
}

/**
 * Adds the read-only token-files mount to a container unless it already mounts the volume.
 * Returns a problem when another volume is already mounted at that path. With `at`, what is added
 * is recorded there (the container's path).
 */
export function addAppMount(container: Container, mountPath: string, at?: PatchAt): string | undefined {
  const mounts = container.volumeMounts;
  if (mounts) {
    if (mounts.some((m) => m.name === TOKEN_FILES_VOLUME)) return undefined;
    const clash = mounts.find((m) => m.mountPath.replace(/\/+$/, '') === mountPath);
    if (clash) return `container ${container.name} already mounts volume ${clash.name} at ${mountPath}`;
  }
  const mount = appVolumeMount(mountPath);
  at?.ops.append(`${at.path}/volumeMounts`, mounts, [mount]);
  container.volumeMounts = mounts ? [...mounts, mount] : [mount];
  return undefined;
}
