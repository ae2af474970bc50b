import { endpointListen, healthListen } from '../contract/endpoint.js';
import { SIDECAR_NODE_OPTIONS } from '../contract/runtime.js';
import { SIDECAR_ENV } from '../contract/sidecar-env.js';

/** What the sidecar needs from an emulator: its identity, its URL and the CA that signs its TLS. */
export interface EmulatorIdentity {
  clientId: string;
  tenantId: string;
  url: string;
  caFile: string;
}

export interface SidecarEnvOptions {
  /** the projected service-account token file */
  tokenFile: string;
  tokenDir: string;
  identityHeader: string;
  /** `name=scope,...`; default: none (endpoint only) */
  tokens?: string;
  /** loopback port of the token endpoint; default 0 (ephemeral) */
  port?: number;
  /** health port; default 0 (ephemeral) on 127.0.0.1 */
  healthPort?: number;
  /** health on 0.0.0.0 as in a pod (default: 127.0.0.1, nothing outside this machine reaches it) */
  healthOnAllInterfaces?: boolean;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/**
 * The environment of an injected sidecar container — the same names and NODE_OPTIONS the webhook
 * injects (src/contract) — pointed at an emulator instead of Entra. The demo, the bench, the soak
 * and the tests all run the sidecar with this, so they run it as a pod does.
 *
 * @example
 * spawn(process.execPath, ['dist/cli.js', 'sidecar'], { env: { PATH: process.env.PATH, ...sidecarEnv(emulator, { tokenFile, tokenDir, identityHeader }) } });
 */
export function sidecarEnv(emulator: EmulatorIdentity, o: SidecarEnvOptions): Record<string, string> {
  const env: Record<string, string> = {
    NODE_EXTRA_CA_CERTS: emulator.caFile,
    [SIDECAR_ENV.clientId]: emulator.clientId,
    [SIDECAR_ENV.tenantId]: emulator.tenantId,
    [SIDECAR_ENV.federatedTokenFile]: o.tokenFile,
    [SIDECAR_ENV.authorityHost]: emulator.url,
    [SIDECAR_ENV.tokenDir]: o.tokenDir,
    [SIDECAR_ENV.listen]: endpointListen(o.port ?? 0),
    [SIDECAR_ENV.healthListen]: o.healthOnAllInterfaces ? healthListen(o.healthPort ?? 0) : `127.0.0.1:${o.healthPort ?? 0}`,
    [SIDECAR_ENV.identityHeader]: o.identityHeader,
    [SIDECAR_ENV.logLevel]: o.logLevel ?? 'info',
    [SIDECAR_ENV.nodeOptions]: SIDECAR_NODE_OPTIONS,
  };
  if (o.tokens) env[SIDECAR_ENV.tokens] = o.tokens;
  return env;
}
