import { formatTokenTargets, type InjectionOptions } from '../annotations.js';
import type { EnvVar } from '../pod.js';
import type { MutationSettings } from '../settings.js';
import { SA_TOKEN_FILE } from './volumes.js';

/** The sidecar's own environment contract (see the sidecar's configuration table). */
export const SIDECAR_ENV = {
  clientId: 'AZURE_CLIENT_ID',
  tenantId: 'AZURE_TENANT_ID',
  federatedTokenFile: 'AZURE_FEDERATED_TOKEN_FILE',
  authorityHost: 'AZURE_AUTHORITY_HOST',
  tokens: 'ENTRA_SIDECAR_TOKENS',
  tokenDir: 'ENTRA_SIDECAR_TOKEN_DIR',
  listen: 'ENTRA_SIDECAR_LISTEN',
  healthListen: 'ENTRA_SIDECAR_HEALTH_LISTEN',
  identityHeader: 'ENTRA_SIDECAR_IDENTITY_HEADER',
} as const;

/** The user id the sidecar runs as (distroless "nonroot"). */
export const SIDECAR_UID = 65532;

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
  if (options.tokens.length > 0) env.push({ name: SIDECAR_ENV.tokens, value: formatTokenTargets(options.tokens) });
  env.push({ name: SIDECAR_ENV.tokenDir, value: options.mountPath });
  return env;
}

/** Restricted-profile security context: non-root, read-only root, no privilege escalation, no capabilities. */
export function sidecarSecurityContext(): Record<string, unknown> {
  return {
    runAsNonRoot: true,
    runAsUser: SIDECAR_UID,
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
