import { VersionApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { kubeErrorReason, requestTimeoutOptions } from './kube-client.js';
import type { DefaultMode } from './settings.js';

/** First Kubernetes minor version whose whole kubelet skew supports native sidecars. */
export const NATIVE_SIDECAR_MIN_MINOR = 32;

/**
 * Major and minor from a `/version` answer; tolerates managed clusters' `"32+"` minors and falls
 * back to `gitVersion` (`v1.32.3-eks-…`). Undefined when neither is readable.
 *
 * @example
 * parseKubeVersion({ major: '1', minor: '32+', gitVersion: 'v1.32.1-gke.1' }) // { major: 1, minor: 32 }
 */
export function parseKubeVersion(info: { major?: string; minor?: string; gitVersion?: string }): { major: number; minor: number } | undefined {
  const major = Number.parseInt(info.major ?? '', 10);
  const minor = Number.parseInt(info.minor ?? '', 10);
  if (Number.isFinite(major) && Number.isFinite(minor)) return { major, minor };
  const m = /^v?(\d+)\.(\d+)/.exec(info.gitVersion ?? '');
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/** `native` on 1.32 or newer (every kubelet in the supported skew has native sidecars), else `container`. */
export function defaultModeForVersion(v: { major: number; minor: number }): DefaultMode {
  return v.major > 1 || (v.major === 1 && v.minor >= NATIVE_SIDECAR_MIN_MINOR) ? 'native' : 'container';
}

/**
 * Reads the API server version once (`VersionApi.getCode`, a few tries) and picks the default mode.
 * If it cannot be read, `container` — it works on every version — and a warning.
 */
export async function detectDefaultMode(kc: KubeConfig, log: Logger, attempts = 3): Promise<DefaultMode> {
  const api = kc.makeApiClient(VersionApi);
  for (let i = 1; i <= attempts; i++) {
    try {
      const info = await api.getCode(undefined, requestTimeoutOptions(5000));
      const v = parseKubeVersion(info);
      if (v) {
        const mode = defaultModeForVersion(v);
        log.info({ kubernetes: info.gitVersion, mode }, 'default injection mode chosen from the API server version');
        return mode;
      }
      log.warn({ version: info.gitVersion }, 'unreadable API server version');
      break;
    } catch (err) {
      log.warn({ attempt: i, reason: kubeErrorReason(err) }, 'could not read the API server version');
      if (i < attempts) await new Promise((r) => setTimeout(r, 500 * i));
    }
  }
  log.warn('default injection mode: container (the API server version is unknown; set --mode to choose)');
  return 'container';
}
