import { ONCE_FLAG, SIDECAR_COMMAND } from '../../contract/sidecar-env.js';
import type { InjectionOptions } from '../annotations.js';
import type { Container } from '../pod.js';
import type { MutationSettings } from '../settings.js';
import { exchangeEnv, sidecarResources, sidecarSecurityContext } from './sidecar-common.js';
import { sidecarVolumeMounts } from './volumes.js';

export const ONCE_INIT_CONTAINER_NAME = 'entra-sidecar-init';

/**
 * The `sidecar --once` init container: fetches every target, writes the files and exits, so the
 * init containers after it (and, in `init-only` mode, the app) find the tokens. Placed first.
 *
 * @example
 * pod.spec.initContainers.unshift(buildOnceInitContainer(options, settings));
 */
export function buildOnceInitContainer(options: InjectionOptions, settings: MutationSettings): Container {
  return {
    name: ONCE_INIT_CONTAINER_NAME,
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy,
    args: [SIDECAR_COMMAND, ONCE_FLAG],
    env: exchangeEnv(options, settings),
    resources: sidecarResources(options),
    securityContext: sidecarSecurityContext(options.runAsUser),
    volumeMounts: sidecarVolumeMounts(options.mountPath),
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}
