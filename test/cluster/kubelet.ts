import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { ProjectedVolumeWriter } from '../../src/emulator/projected-volume.js';
import { watchChild } from '../helpers/process.js';
import { CLI } from '../helpers/sidecar.js';
import type { ControlPlane } from './control-plane.js';
import type { Container, PodShape } from './pods.js';

/**
 * Kubelet's part, played by the test for a pod the API server admitted (there is no kubelet or
 * container engine here): the pod's volumes as host folders (projected service-account tokens
 * through the real TokenRequest API, bound to the pod, in kubelet's projected-volume layout;
 * emptyDirs), and a container run as a process with exactly its command, args and env, its
 * volumeMounts bind-mounted at their paths in a private mount namespace, as its runAsUser.
 */

/** The image's ENTRYPOINT and ENV (Dockerfile): what a container without `command` runs. */
export const IMAGE = { entrypoint: [process.execPath, CLI], env: { NODE_ENV: 'production' } };
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Why containers cannot be run here (not root, or no unshare), or undefined when they can. */
export function containerRuntimeProblem(): string | undefined {
  if (process.getuid?.() !== 0) return 'running a container needs root (a private mount namespace with bind mounts, and setpriv to its user)';
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) return `unshare --mount does not work here: ${(probe.stderr || probe.error?.message || '').trim()}`;
  return undefined;
}

export interface PodVolumes {
  /** host folder of each volume, by name */
  dirs: Map<string, string>;
  /** the service-account tokens written (TokenRequest answers), by volume name */
  tokens: Map<string, string>;
}

/**
 * Materialises a pod's volumes under a fresh folder: for each projected volume, one TokenRequest per
 * `serviceAccountToken` source with its audience and expirationSeconds, bound to the pod (name and
 * uid), written the way kubelet writes projected volumes; each emptyDir an empty folder (0777, as kubelet makes it).
 */
export async function preparePodVolumes(cp: ControlPlane, pod: PodShape, parent: string): Promise<PodVolumes> {
  const root = mkdtempSync(join(parent, 'pod-'));
  chmodSync(root, 0o755);
  const dirs = new Map<string, string>();
  const tokens = new Map<string, string>();
  const writer = new ProjectedVolumeWriter();
  for (const volume of pod.spec.volumes ?? []) {
    const dir = join(root, volume.name);
    if (volume.projected) {
      const files: Record<string, string> = {};
      for (const source of volume.projected.sources) {
        if (source.configMap) {
          // kube-root-ca.crt: what kube-controller-manager's root-ca publisher would hold
          if (source.configMap.name !== 'kube-root-ca.crt') throw new Error(`volume ${volume.name}: configMap ${source.configMap.name} not played here`);
          for (const item of source.configMap.items ?? [{ key: 'ca.crt', path: 'ca.crt' }]) files[item.path] = cp.caPem;
          continue;
        }
        if (source.downwardAPI) {
          for (const item of source.downwardAPI.items) files[item.path] = resolveField(item.fieldRef?.fieldPath, pod, volume.name);
          continue;
        }
        const sat = source.serviceAccountToken;
        if (!sat) throw new Error(`volume ${volume.name}: projection ${JSON.stringify(source)} not played here`);
        const { token } = await cp.createToken(pod.metadata.namespace as string, pod.spec.serviceAccountName ?? 'default', {
          audiences: sat.audience ? [sat.audience] : [],
          expirationSeconds: sat.expirationSeconds ?? 3600,
          boundPod: { name: pod.metadata.name, uid: pod.metadata.uid as string },
        });
        files[sat.path] = token;
        if (!tokens.has(volume.name)) tokens.set(volume.name, token);
      }
      writer.write(dir, files, 0o644);
    } else if (volume.emptyDir !== undefined) {
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o777);
    } else {
      throw new Error(`volume ${volume.name}: kind not played here`);
    }
    dirs.set(volume.name, dir);
  }
  return { dirs, tokens };
}

/** A container's env with downward-API fieldRefs resolved from the stored pod. Throws on a kind not played here. */
export function resolveEnv(container: Container, pod: PodShape): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) {
      out[e.name] = e.value;
      continue;
    }
    out[e.name] = resolveField((e.valueFrom as { fieldRef?: { fieldPath: string } } | undefined)?.fieldRef?.fieldPath, pod, `env ${e.name}`);
  }
  return out;
}

/** A downward-API field of the stored pod. Throws on a field not played here. */
function resolveField(field: string | undefined, pod: PodShape, where: string): string {
  const fields: Record<string, string | undefined> = {
    'metadata.name': pod.metadata.name,
    'metadata.namespace': pod.metadata.namespace,
    'metadata.uid': pod.metadata.uid,
    'spec.serviceAccountName': pod.spec.serviceAccountName,
  };
  const value = field === undefined ? undefined : fields[field];
  if (value === undefined) throw new Error(`${where}: downward-API field ${field} not played here`);
  return value;
}

export interface RunningContainer {
  proc: ChildProcess;
  lines: string[];
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
  waitForLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<number | null>;
}

/**
 * Runs a container of an admitted pod as a process: `command` (else the image's entrypoint) and
 * `args`, exactly its env (plus PATH, HOSTNAME and the image's ENV, as a runtime adds them, and
 * `runtimeEnv` for what stands in for the image itself), its volumeMounts bind-mounted at their
 * paths, read-only where it says so, as its securityContext's runAsUser/runAsGroup (else `defaultUser`).
 */
export function runContainer(
  pod: PodShape,
  container: Container & { securityContext?: { runAsUser?: number; runAsGroup?: number } },
  volumes: PodVolumes,
  options: { runtimeEnv?: Record<string, string>; command?: string[]; defaultUser?: number; name?: string; fd3?: boolean } = {},
): RunningContainer {
  const command = options.command ?? container.command ?? IMAGE.entrypoint;
  const argv = [...command, ...(options.command ? [] : (container.args ?? []))];
  const env = { PATH: DEFAULT_PATH, HOSTNAME: pod.metadata.name, ...IMAGE.env, ...resolveEnv(container, pod), ...(options.runtimeEnv ?? {}) };
  // A private mount namespace: a tmpfs over /run (where /var/run/... points), then each volumeMount
  // bind-mounted at its path; then the container's user, and the command. Positional parameters
  // carry the paths: "${1}" "${2}" is the first host folder and its mount path, and so on.
  const lines: string[] = ['set -e', 'mount -t tmpfs -o size=4m,mode=755 tmpfs /run'];
  const pairs: string[] = [];
  for (const m of container.volumeMounts ?? []) {
    const host = volumes.dirs.get(m.name);
    if (!host) throw new Error(`container ${container.name} mounts ${m.name}, which the pod does not have`);
    if (!/^\/(var\/)?run\//.test(m.mountPath)) throw new Error(`mount path ${m.mountPath}: only paths under /run (/var/run) are played here`);
    pairs.push(host, m.mountPath.replace(/^\/var\/run\//, '/run/'));
    const [src, dst] = [`"\${${pairs.length - 1}}"`, `"\${${pairs.length}}"`];
    lines.push(`mkdir -p ${dst}`, `mount --bind ${src} ${dst}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${dst}`);
  }
  const uid = container.securityContext?.runAsUser ?? options.defaultUser ?? 0;
  const gid = container.securityContext?.runAsGroup ?? uid;
  lines.push(`shift ${pairs.length}`, `exec setpriv --reuid ${uid} --regid ${gid} --clear-groups --no-new-privs --pdeathsig SIGKILL -- "$@"`);
  const shArgs = ['-c', lines.join('\n'), 'container', ...pairs, ...argv];
  const proc = spawn('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', ...shArgs], {
    env,
    stdio: options.fd3 ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
  });
  const child = watchChild(proc, { name: options.name ?? container.name, json: 'both', tailLines: 10 });
  return {
    proc,
    lines: child.lines,
    logs: child.logs,
    exited: child.exited,
    waitForLog: (pred, timeoutMs = 30_000) => child.waitForLog(pred, timeoutMs),
    stop: () => child.stop({ graceMs: 8_000 }),
  };
}
