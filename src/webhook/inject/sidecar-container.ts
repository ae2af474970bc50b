import type { InjectionOptions } from '../annotations.js';
import type { Container } from '../pod.js';
import type { MutationSettings } from '../settings.js';
import { endpointListen, healthListen } from '../../contract/endpoint.js';
import { SIDECAR_NODE_OPTIONS } from '../../contract/runtime.js';
import { SIDECAR_COMMAND, SIDECAR_ENV } from '../../contract/sidecar-env.js';
import { exchangeEnv, sidecarResources, sidecarSecurityContext } from './sidecar-common.js';
import { sidecarVolumeMounts } from './volumes.js';

export const SIDECAR_CONTAINER_NAME = 'entra-sidecar';
/** Name of the health and metrics port (a PodMonitor scrapes it). */
export const METRICS_PORT_NAME = 'entra-metrics';

/**
 * Shell-free command for the `postStart` hook of a regular-container sidecar: polls `/readyz` on
 * the health port until it answers 200 (exit 0) or two minutes pass (exit 1, and kubelet restarts
 * the container). kubelet starts the next container only after the hook returns, so the app finds
 * its tokens from its first line.
 */
export function waitUntilReadyCommand(healthPort: number, timeoutSeconds = 120): string[] {
  const script =
    `const h=require('http'),end=Date.now()+${timeoutSeconds * 1000};` +
    `function retry(){Date.now()>end?process.exit(1):setTimeout(probe,250)}` +
    `function probe(){h.get({host:'127.0.0.1',port:${healthPort},path:'/readyz',timeout:2000},r=>{r.resume();r.statusCode===200?process.exit(0):retry()}).on('timeout',function(){this.destroy()}).on('error',retry)}` +
    `probe()`;
  return ['node', '-e', script];
}

/**
 * The sidecar container. `native`: meant for `initContainers[0]` with `restartPolicy: Always` and a
 * startup probe, so later init containers and the app start once the tokens are written.
 * `container`: meant for `containers[0]` with a `postStart` wait.
 *
 * @example
 * pod.spec.initContainers.unshift(buildSidecarContainer(options, settings, header, 'native'));
 */
export function buildSidecarContainer(
  options: InjectionOptions,
  settings: MutationSettings,
  identityHeader: string,
  placement: 'native' | 'container',
): Container {
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: METRICS_PORT_NAME },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold,
  });
  const native = placement === 'native';
  const container: Container = {
    name: SIDECAR_CONTAINER_NAME,
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy,
    ...(native ? { restartPolicy: 'Always' } : {}),
    args: [SIDECAR_COMMAND],
    env: [
      ...exchangeEnv(options, settings),
      { name: SIDECAR_ENV.listen, value: endpointListen(options.port) },
      { name: SIDECAR_ENV.healthListen, value: healthListen(settings.healthPort) },
      { name: SIDECAR_ENV.identityHeader, value: identityHeader },
      { name: SIDECAR_ENV.nodeOptions, value: SIDECAR_NODE_OPTIONS },
    ],
    ports: [{ name: METRICS_PORT_NAME, containerPort: settings.healthPort, protocol: 'TCP' }],
    resources: sidecarResources(options),
    securityContext: sidecarSecurityContext(options.runAsUser),
    volumeMounts: sidecarVolumeMounts(options.mountPath, options.clientCredential),
    ...(native ? { startupProbe: { ...probe('/readyz', 1, 120), timeoutSeconds: 1 } } : {}),
    livenessProbe: probe('/healthz', 10, 3),
    readinessProbe: probe('/readyz', 5, 2),
    ...(native ? {} : { lifecycle: { postStart: { exec: { command: waitUntilReadyCommand(settings.healthPort) } } } }),
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  return container;
}
