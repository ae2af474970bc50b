import { execFileSync, spawnSync } from 'node:child_process';

import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** Repository root (tests run from it). */
export const ROOT = process.cwd();
export const CHART = join(ROOT, 'charts', 'entra-sidecar');

const inCi = process.env.CI === 'true';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * A tool the tests need and cannot do without: under CI=true its absence is a failure, never a
 * skip; elsewhere the test file is skipped with the reason printed.
 */
function unavailable(what: string, reason: string): undefined {
  const message = `${what} is not available: ${reason}`;
  if (inCi) throw new Error(`${message} (CI=true: a missing tool fails the run)`);
  console.warn(`SKIPPED: ${message}`);
  return undefined;
}

/** Paths of the real helm and kubectl, fetched into .cache/helm by scripts/fetch-helm.sh. */
export interface HelmTools {
  helm: string;
  kubectl: string;
}

let helmTools: HelmTools | undefined | null = null;

/** Fetches helm (once per process) or explains why it cannot; see `unavailable`. */
export function ensureHelm(): HelmTools | undefined {
  if (helmTools !== null) return helmTools;
  const run = spawnSync('bash', [join(ROOT, 'scripts', 'fetch-helm.sh')], { encoding: 'utf8', timeout: 300_000 });
  if (run.status !== 0) {
    helmTools = unavailable('helm', `scripts/fetch-helm.sh failed: ${(run.stderr || run.error?.message || '').trim().slice(0, 400)}`);
    return helmTools;
  }
  const dir = run.stdout.trim().split('\n').pop() as string;
  helmTools = { helm: join(dir, 'helm'), kubectl: join(dir, 'kubectl') };
  return helmTools;
}

/** Paths of prometheus and promtool (Debian's package). */
export interface PrometheusTools {
  prometheus: string;
  promtool: string;
}

function which(name: string): string | undefined {
  const r = spawnSync('bash', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

let promTools: PrometheusTools | undefined | null = null;

/** Finds Prometheus, installing it with scripts/install-prometheus.sh when running as root. */
export function ensurePrometheus(): PrometheusTools | undefined {
  if (promTools !== null) return promTools;
  let prometheus = which('prometheus');
  let promtool = which('promtool');
  if ((!prometheus || !promtool) && isRoot) {
    const run = spawnSync('bash', [join(ROOT, 'scripts', 'install-prometheus.sh')], { encoding: 'utf8', timeout: 900_000 });
    if (run.status !== 0) {
      promTools = unavailable('prometheus', `scripts/install-prometheus.sh failed: ${(run.stderr || '').trim().slice(-400)}`);
      return promTools;
    }
    prometheus = which('prometheus');
    promtool = which('promtool');
  }
  if (!prometheus || !promtool) {
    promTools = unavailable('prometheus', 'not on PATH and not root: run `sudo scripts/install-prometheus.sh`');
    return promTools;
  }
  promTools = { prometheus, promtool };
  return promTools;
}

/** A rendered Kubernetes object. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export const RELEASE = 'entra-sidecar';
export const NAMESPACE = 'entra-system';

/** Result of `helm template`: exit status, output, and the parsed objects when it succeeded. */
export interface Rendered {
  status: number;
  stdout: string;
  stderr: string;
  objects: KubeObject[];
}

/**
 * Runs the real `helm template` on the chart with `--set`-style values (JSON-encoded with
 * --set-json, so types are exact) and parses every document.
 */
export function helmTemplate(helm: string, values: Record<string, unknown> = {}, extraArgs: string[] = []): Rendered {
  const args = ['template', RELEASE, CHART, '--namespace', NAMESPACE, ...extraArgs];
  for (const [key, value] of Object.entries(values)) args.push('--set-json', `${key}=${JSON.stringify(value)}`);
  const run = spawnSync(helm, args, { encoding: 'utf8', timeout: 60_000 });
  const objects: KubeObject[] = [];
  if (run.status === 0) {
    for (const doc of parseAllDocuments(run.stdout)) {
      if (doc.errors.length > 0) throw new Error(`helm rendered invalid YAML: ${doc.errors[0]?.message}`);
      const value = doc.toJS() as KubeObject | null;
      if (value) objects.push(value);
    }
  }
  return { status: run.status ?? -1, stdout: run.stdout, stderr: run.stderr, objects };
}

/** The one object of a kind (and name, when given); throws when there is not exactly one. */
export function only<T = KubeObject>(objects: KubeObject[], kind: string, name?: string): T & KubeObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0] as T & KubeObject;
}

/** Runs a command and returns stdout; throws with stderr on failure. */
export function run(command: string, args: string[], options: { cwd?: string; input?: string } = {}): string {
  return execFileSync(command, args, { encoding: 'utf8', cwd: options.cwd, input: options.input, stdio: ['pipe', 'pipe', 'pipe'] });
}
