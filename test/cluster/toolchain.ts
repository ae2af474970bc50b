import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Paths of the control-plane binaries built from source by scripts/install-control-plane.sh. */
export interface ControlPlaneBinaries {
  kubeApiserver: string;
  etcd: string;
  kubectl: string;
}

const ROOT = process.cwd();
const INSTALL = join(ROOT, 'scripts', 'install-control-plane.sh');

let found: ControlPlaneBinaries | string | undefined;

/**
 * The binaries, or the reason they are not available. `ENTRA_SIDECAR_CONTROL_PLANE_BIN` (set by
 * scripts/test-cluster.sh) names the folder; otherwise the install script is run, which is instant
 * when the cache holds them and builds them (tens of minutes) when it does not.
 */
export function controlPlaneBinaries(): ControlPlaneBinaries | string {
  if (found !== undefined) return found;
  let dir = process.env.ENTRA_SIDECAR_CONTROL_PLANE_BIN;
  if (!dir) {
    const run = spawnSync('bash', [INSTALL], { encoding: 'utf8', timeout: 3_600_000 });
    if (run.status !== 0) {
      found = `scripts/install-control-plane.sh failed: ${(run.stderr || run.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`;
      return found;
    }
    dir = run.stdout.trim().split('\n').pop() as string;
  }
  const bins = { kubeApiserver: join(dir, 'kube-apiserver'), etcd: join(dir, 'etcd'), kubectl: join(dir, 'kubectl') };
  const missing = Object.values(bins).filter((p) => !existsSync(p));
  found = missing.length > 0 ? `missing ${missing.join(', ')} (run scripts/install-control-plane.sh)` : bins;
  return found;
}

/**
 * The binaries, or undefined with the reason printed (the test file then skips). With CI=true a
 * missing control plane throws: CI never skips the cluster suite.
 */
export function requireControlPlane(): ControlPlaneBinaries | undefined {
  const bins = controlPlaneBinaries();
  if (typeof bins !== 'string') return bins;
  const message = `the cluster suite needs kube-apiserver, etcd and kubectl built from source: ${bins}`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: a missing toolchain fails the run)`);
  console.warn(`SKIPPED: ${message}`);
  return undefined;
}
