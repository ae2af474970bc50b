import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, Observable, type RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { ConfigError } from '../config/errors.js';

/** Why a Kubernetes API call failed, as a bounded label. */
export type KubeErrorReason = 'not_found' | 'conflict' | 'forbidden' | 'unauthorized' | 'throttled' | 'timeout' | 'server_error' | 'network' | 'other';

/**
 * The Kubernetes client configuration: `KUBECONFIG` (its first file) when set, else the in-cluster
 * service account, else `~/.kube/config`. Anything else is a ConfigError.
 *
 * @example
 * const kc = loadKubeConfig(process.env);
 */
export function loadKubeConfig(env: NodeJS.ProcessEnv): KubeConfig {
  const kc = new KubeConfig();
  const fromEnv = env.KUBECONFIG?.split(':').find((p) => p.trim() !== '');
  try {
    if (fromEnv) kc.loadFromFile(fromEnv);
    else if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) kc.loadFromCluster();
    else if (existsSync(join(homedir(), '.kube', 'config'))) kc.loadFromFile(join(homedir(), '.kube', 'config'));
    else throw new ConfigError('KUBECONFIG', 'is not set and the webhook is not running in a cluster: set KUBECONFIG to a kubeconfig file');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(fromEnv ? `KUBECONFIG (${fromEnv})` : 'the in-cluster Kubernetes configuration', `could not be loaded: ${message}`);
  }
  if (!kc.getCurrentCluster()) throw new ConfigError(fromEnv ? `KUBECONFIG (${fromEnv})` : 'KUBECONFIG', 'has no current cluster: set current-context');
  return kc;
}

/**
 * Per-call options that abort a client-node request after `ms` milliseconds.
 *
 * @example
 * await api.readNamespacedServiceAccount({ name, namespace }, requestTimeoutOptions(1500));
 */
export function requestTimeoutOptions(ms: number) {
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          ctx.setSignal(AbortSignal.timeout(ms));
          return new Observable(Promise.resolve(ctx));
        },
        post: (ctx: ResponseContext) => new Observable(Promise.resolve(ctx)),
      },
    ],
    middlewareMergeStrategy: 'append' as const,
  };
}

/** The HTTP status of a failed client-node call, if it got one. */
export function httpStatusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Maps a client-node failure to a reason. */
export function kubeErrorReason(err: unknown): KubeErrorReason {
  const status = httpStatusOf(err);
  if (status !== undefined) {
    if (status === 404) return 'not_found';
    if (status === 409) return 'conflict';
    if (status === 401) return 'unauthorized';
    if (status === 403) return 'forbidden';
    if (status === 429) return 'throttled';
    if (status >= 500) return 'server_error';
    return 'other';
  }
  const e = err as { name?: string; type?: string } | null;
  if (e?.name === 'AbortError' || e?.type === 'aborted' || e?.name === 'TimeoutError') return 'timeout';
  if (e?.name === 'FetchError' || e?.type === 'system') return 'network';
  return 'other';
}
