import type { ListenAddress, LogLevel } from '../config/options.js';
import { DEFAULT_ENDPOINT_PORT, DEFAULT_HEALTH_PORT, DEFAULT_TOKEN_DIR } from '../contract/endpoint.js';
import { DEFAULT_AUTHORITY_HOST } from '../contract/identity.js';
import { DEFAULT_TOKEN_EXPIRATION } from '../contract/token-expiration.js';

/** Where the sidecar runs when a pod does not choose: a native sidecar, or a regular container. */
export type DefaultMode = 'native' | 'container';

export type ImagePullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/**
 * What the webhook injects when a pod's annotations do not say otherwise. The Helm chart's tests
 * import `DEFAULT_SIDECAR_SETTINGS` to check that the chart's defaults equal these.
 */
export interface SidecarDefaults {
  /** `imagePullPolicy` of the injected containers */
  imagePullPolicy: ImagePullPolicy;
  /** loopback port of the token endpoint (`IDENTITY_ENDPOINT`) */
  port: number;
  /** health and metrics port, named `entra-metrics` */
  healthPort: number;
  /** where the token files appear in every container */
  tokenDir: string;
  cpuRequest: string;
  memoryRequest: string;
  memoryLimit: string;
  /** Entra authority host, passed to the sidecar as `AZURE_AUTHORITY_HOST` */
  authorityHost: string;
  /** `expirationSeconds` of the projected service-account token */
  tokenExpirationSeconds: number;
}

export const DEFAULT_SIDECAR_SETTINGS: Readonly<SidecarDefaults> = Object.freeze({
  imagePullPolicy: 'IfNotPresent',
  port: DEFAULT_ENDPOINT_PORT,
  healthPort: DEFAULT_HEALTH_PORT,
  tokenDir: DEFAULT_TOKEN_DIR,
  cpuRequest: '10m',
  memoryRequest: '48Mi',
  memoryLimit: '96Mi',
  authorityHost: DEFAULT_AUTHORITY_HOST,
  tokenExpirationSeconds: DEFAULT_TOKEN_EXPIRATION,
});

/** Everything the pure mutation needs from the webhook's configuration. */
export interface MutationSettings extends SidecarDefaults {
  /** the sidecar image (the webhook's own image) */
  image: string;
  /** tenant used when neither the pod nor its ServiceAccount names one */
  defaultTenantId?: string;
  /** resolved default mode (from `--mode`, else the API server version) */
  mode: DefaultMode;
}

/** Where the serving certificate comes from. */
export type TlsSettings =
  | { kind: 'files'; certFile: string; keyFile: string }
  | { kind: 'self-managed'; secretName: string; webhookConfigName: string; serviceName: string; namespace: string };

/** The whole `entra-sidecar webhook` configuration, validated once at start. */
export interface WebhookSettings {
  listen: ListenAddress;
  healthListen: ListenAddress;
  tls: TlsSettings;
  /** forced default mode; undefined = decided from the API server version at start */
  mode?: DefaultMode;
  logLevel: LogLevel;
  /** the sidecar settings without the resolved mode */
  sidecar: Omit<MutationSettings, 'mode'>;
}
