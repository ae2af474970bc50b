import { SIDECAR_ENV, SIDECAR_UID } from '../../contract/sidecar-env.js';
import { formatFilesSetting } from '../../contract/rendered-files.js';
import { formatTargets } from '../../contract/targets.js';
import type { InjectionOptions } from '../annotations.js';
import type { EnvVar } from '../pod.js';
import type { MutationSettings } from '../settings.js';
import { SA_TOKEN_FILE } from './volumes.js';

export { SIDECAR_ENV, SIDECAR_UID };

/**
 * Environment both the sidecar and its `--once` init container need to exchange tokens and write
 * the files: identity, authority, the projected token path, the targets and the token folder.
 */
export function exchangeEnv(options: InjectionOptions, settings: MutationSettings): EnvVar[] {
  const env: EnvVar[] = [
    { name: SIDECAR_ENV.clientId, value: options.clientId },
    { name: SIDECAR_ENV.tenantId, value: options.tenantId },
    { name: SIDECAR_ENV.federatedTokenFile, value: SA_TOKEN_FILE },
    { name: SIDECAR_ENV.authorityHost, value: settings.authorityHost },
  ];
  if (options.tokens.length > 0) env.push({ name: SIDECAR_ENV.tokens, value: formatTargets(options.tokens) });
  if (Object.keys(options.files).length > 0) env.push({ name: SIDECAR_ENV.files, value: formatFilesSetting(options.files) });
  env.push({ name: SIDECAR_ENV.tokenDir, value: options.mountPath });
  return env;
}

/**
 * Restricted-profile security context: non-root, read-only root, no privilege escalation, no
 * capabilities. `runAsUser` is the image's nonroot user, or the app's user when the pod asks for a
 * password file (libpq reads only a 0600 file its own user owns; see rendered-files.ts).
 */
export function sidecarSecurityContext(runAsUser: number = SIDECAR_UID): Record<string, unknown> {
  return {
    runAsNonRoot: true,
    runAsUser,
    runAsGroup: SIDECAR_UID,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** CPU and memory requests and a memory limit (no CPU limit: throttling would delay refreshes). */
export function sidecarResources(options: InjectionOptions): Record<string, unknown> {
  return {
    requests: { cpu: options.cpuRequest, memory: options.memoryRequest },
    limits: { memory: options.memoryLimit },
  };
}
