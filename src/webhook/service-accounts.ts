import { EntraSidecarError } from '../errors.js';
import { CoreV1Api, type KubeConfig, type V1ServiceAccount } from '@kubernetes/client-node';
import type { ServiceAccountRef } from './annotations.js';
import { requestTimeoutOptions, kubeErrorReason, type KubeErrorReason } from './kube-client.js';

/** Why a ServiceAccount could not be read (a bounded metric label). */
export type LookupErrorReason = KubeErrorReason | 'not_found';
export const LOOKUP_ERROR_REASONS: readonly LookupErrorReason[] = [
  'not_found',
  'forbidden',
  'unauthorized',
  'throttled',
  'timeout',
  'server_error',
  'network',
  'other',
];

/** The ServiceAccount could not be read for a reason other than "not found". */
export class ServiceAccountLookupError extends EntraSidecarError {
  readonly code = 'SERVICE_ACCOUNT_LOOKUP_FAILED' as const;
  constructor(
    readonly reason: LookupErrorReason,
    message: string,
  ) {
    super(message, 'ServiceAccountLookupError');
  }
}

/** One read of one ServiceAccount: null when it does not exist; throws ServiceAccountLookupError otherwise. */
export interface ServiceAccountReader {
  read(namespace: string, name: string): Promise<ServiceAccountRef | null>;
}

/** Reads ServiceAccounts with the cached, waiting semantics the webhook needs. */
export interface ServiceAccountLookup {
  /** The ServiceAccount, or null when it is still missing after the grace period. */
  get(namespace: string, name: string): Promise<ServiceAccountRef | null>;
}

/**
 * A reader on `CoreV1Api.readNamespacedServiceAccount`, one client for the process, each request
 * bounded by `requestTimeoutMs`.
 *
 * @example
 * const reader = kubeServiceAccountReader(kubeConfig);
 * await reader.read('apps', 'api'); // { namespace: 'apps', name: 'api', annotations: {...} } or null
 */
export function kubeServiceAccountReader(kc: KubeConfig, requestTimeoutMs = 1500): ServiceAccountReader {
  const api = kc.makeApiClient(CoreV1Api);
  return {
    async read(namespace, name) {
      let sa: V1ServiceAccount;
      try {
        sa = await api.readNamespacedServiceAccount({ name, namespace }, requestTimeoutOptions(requestTimeoutMs));
      } catch (err) {
        const reason = kubeErrorReason(err);
        if (reason === 'not_found') return null;
        throw new ServiceAccountLookupError(reason, `could not read ServiceAccount ${namespace}/${name}: ${describeReason(reason)}`);
      }
      return { namespace, name, annotations: { ...(sa.metadata?.annotations ?? {}) } };
    },
  };
}

function describeReason(reason: LookupErrorReason): string {
  switch (reason) {
    case 'forbidden':
      return 'the webhook is not allowed to get serviceaccounts (check its ClusterRole)';
    case 'unauthorized':
      return 'the API server rejected the webhook credentials';
    case 'throttled':
      return 'the API server is throttling requests';
    case 'timeout':
      return 'the API server did not answer in time';
    case 'server_error':
      return 'the API server returned an error';
    case 'network':
      return 'the API server could not be reached';
    default:
      return 'unexpected error';
  }
}

export interface LookupOptions {
  /** how long a found ServiceAccount is reused (default 5 s) */
  ttlMs?: number;
  /** how long to keep retrying a missing ServiceAccount or a transient error (default 2 s) */
  graceMs?: number;
  /** pause between retries (default 200 ms) */
  retryIntervalMs?: number;
  /** cache bound (default 1000) */
  maxEntries?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** called once per failed lookup (after retries), for metrics */
  onError?: (reason: LookupErrorReason) => void;
}

const TRANSIENT: ReadonlySet<LookupErrorReason> = new Set(['throttled', 'timeout', 'server_error', 'network']);

/**
 * Wraps a reader with a short cache (found ServiceAccounts only), single flight per name, and a
 * grace period: a ServiceAccount applied together with its Deployment may not exist yet when the
 * first pod arrives, so "not found" and transient errors are retried for up to `graceMs`.
 *
 * @example
 * const lookup = createServiceAccountLookup(kubeServiceAccountReader(kc), { onError: (r) => metrics.lookupErrors.inc({ reason: r }) });
 * const sa = await lookup.get('apps', 'api'); // null → deny, naming the ServiceAccount
 */
export function createServiceAccountLookup(reader: ServiceAccountReader, options: LookupOptions = {}): ServiceAccountLookup {
  const ttlMs = options.ttlMs ?? 5000;
  const graceMs = options.graceMs ?? 2000;
  const retryIntervalMs = options.retryIntervalMs ?? 200;
  const maxEntries = options.maxEntries ?? 1000;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const cache = new Map<string, { value: ServiceAccountRef; expires: number }>();
  const inflight = new Map<string, Promise<ServiceAccountRef | null>>();

  async function fetchWithGrace(namespace: string, name: string): Promise<ServiceAccountRef | null> {
    const deadline = now() + graceMs;
    for (;;) {
      try {
        const sa = await reader.read(namespace, name);
        if (sa) return sa;
        if (now() + retryIntervalMs > deadline) {
          options.onError?.('not_found');
          return null;
        }
      } catch (err) {
        const reason = err instanceof ServiceAccountLookupError ? err.reason : 'other';
        if (!TRANSIENT.has(reason) || now() + retryIntervalMs > deadline) {
          options.onError?.(reason);
          throw err instanceof ServiceAccountLookupError ? err : new ServiceAccountLookupError('other', `could not read ServiceAccount ${namespace}/${name}`);
        }
      }
      await sleep(retryIntervalMs);
    }
  }

  return {
    get(namespace, name) {
      const key = `${namespace}/${name}`;
      const hit = cache.get(key);
      if (hit && hit.expires > now()) return Promise.resolve(hit.value);
      const running = inflight.get(key);
      if (running) return running;
      const p = fetchWithGrace(namespace, name)
        .then((sa) => {
          if (sa) {
            cache.delete(key);
            cache.set(key, { value: sa, expires: now() + ttlMs });
            while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
          }
          return sa;
        })
        .finally(() => inflight.delete(key));
      inflight.set(key, p);
      return p;
    },
  };
}
