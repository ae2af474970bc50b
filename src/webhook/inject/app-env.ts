import { identityEndpointUrl } from '../../contract/endpoint.js';
import { APP_ENV } from '../../contract/sidecar-env.js';
import type { AppOptions } from '../annotations.js';
import type { Container, EnvVar } from '../pod.js';
import type { PatchAt } from '../patch.js';

export { APP_ENV };

/**
 * What a container can reach when it starts: the endpoint (the sidecar runs before it), only the
 * files (written by the `--once` init container before it), or nothing yet.
 */
export type AppAccess = 'endpoint' | 'files' | 'none';

/** Values the app environment is built from. */
export interface AppEnvValues {
  clientId: string;
  port: number;
  mountPath: string;
  /** absent when nothing serves the endpoint (init-only) */
  identityHeader?: string;
  app: AppOptions;
}

/**
 * The variables for one container, in the order they are added.
 *
 * @example
 * appEnv(values, 'endpoint') // IDENTITY_ENDPOINT, IDENTITY_HEADER, AZURE_CLIENT_ID, ENTRA_TOKEN_DIR
 */
export function appEnv(values: AppEnvValues, access: AppAccess): EnvVar[] {
  if (access === 'none') return [];
  const tokenDir: EnvVar = { name: APP_ENV.tokenDir, value: values.mountPath };
  if (!values.app.injectEnv) return [tokenDir];
  const clientId: EnvVar[] = values.clientId ? [{ name: APP_ENV.clientId, value: values.clientId }] : [];
  if (access === 'files' || values.identityHeader === undefined) return [...clientId, tokenDir];
  const url = identityEndpointUrl(values.port);
  const env: EnvVar[] = [{ name: APP_ENV.identityEndpoint, value: url }, { name: APP_ENV.identityHeader, value: values.identityHeader }, ...clientId, tokenDir];
  if (values.app.msiEndpoint) env.push({ name: APP_ENV.msiEndpoint, value: url });
  return env;
}

/**
 * Appends the variables a container does not already set; an existing variable is never
 * overwritten. (A variable set only through `envFrom` cannot be seen here, and `env` wins over
 * `envFrom` in Kubernetes; use `entra-sidecar.io/inject-env: "false"` for such containers.)
 * With `at`, what is added is recorded there (the container's path).
 */
export function addEnvIfAbsent(container: Container, vars: EnvVar[], at?: PatchAt): void {
  const existing = container.env;
  const missing = existing ? vars.filter((v) => !existing.some((e) => e.name === v.name)) : vars;
  if (missing.length === 0) return;
  at?.ops.append(`${at.path}/env`, existing, missing);
  container.env = existing ? [...existing, ...missing] : [...missing];
}
