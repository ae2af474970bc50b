import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/errors.js';
import { truncate } from '../config/options.js';
import { VERSION } from '../version.js';
import { ANNOTATION, AZURE_WORKLOAD_IDENTITY, type ServiceAccountRef } from './annotations.js';
import { newIdentityHeader } from './admit.js';
import { mutatePod } from './mutate.js';
import { createJsonPatch } from './patch.js';
import { checkPodShape, serviceAccountNameOf, type Container, type Pod } from './pod.js';
import { DEFAULT_SIDECAR_SETTINGS, type MutationSettings } from './settings.js';

export const WEBHOOK_DEMO_HELP = `Usage: entra-sidecar demo webhook [pod.yaml|pod.json] [--mode native|container] [--json]

Shows a pod spec before and after the webhook's mutation, and the JSONPatch it would return.
No cluster needed: the pod's ServiceAccount is assumed to carry Azure Workload Identity's
client-id and tenant-id annotations, and the webhook runs with its default settings.
Without a file, a sample Deployment pod is used. A Deployment, StatefulSet, DaemonSet,
ReplicaSet, Job or CronJob file works too (its pod template is used).

Options:
  --mode <native|container>  the webhook's default mode (default: native, as on Kubernetes >= 1.32)
  --json                     print JSON instead of YAML
  --help                     show this help`;

/** The ServiceAccount annotations the demo assumes. */
export const DEMO_CLIENT_ID = '11111111-2222-3333-4444-555555555555';
export const DEMO_TENANT_ID = '66666666-7777-8888-9999-000000000000';

/** A Deployment's pod as the API server would send it: generateName, no name, one init container. */
export function samplePod(): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'api-7d9f8b6c5d-',
      namespace: 'shop',
      labels: { app: 'api', 'pod-template-hash': '7d9f8b6c5d' },
      annotations: {
        [ANNOTATION.inject]: 'true',
        [ANNOTATION.tokens]: 'storage=https://storage.azure.com/.default,pg=https://ossrdbms-aad.database.windows.net/.default',
      },
    },
    spec: {
      serviceAccountName: 'api',
      initContainers: [{ name: 'migrate', image: 'ghcr.io/example/api:2.3.1', args: ['migrate'] }],
      containers: [
        {
          name: 'api',
          image: 'ghcr.io/example/api:2.3.1',
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          env: [{ name: 'LOG_LEVEL', value: 'info' }],
        },
      ],
      restartPolicy: 'Always',
    },
  };
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'ReplicationController']);

/** Turns a Pod, or a workload's pod template, into the Pod the API server would admit. */
export function podFromManifest(doc: unknown): Pod {
  // biome-ignore lint/suspicious/noExplicitAny: a manifest of any kind, read field by field with ?.
  const obj = (doc ?? {}) as Record<string, any>;
  const kind = obj.kind;
  // biome-ignore lint/suspicious/noExplicitAny: the pod template of that manifest
  let template: Record<string, any> | undefined;
  if (kind === 'Pod' || (kind === undefined && obj.spec?.containers)) return { apiVersion: 'v1', kind: 'Pod', ...obj } as Pod;
  if (WORKLOADS.has(kind)) template = obj.spec?.template;
  else if (kind === 'CronJob') template = obj.spec?.jobTemplate?.spec?.template;
  if (!template) throw new ConfigError('the pod file', `must hold a Pod or a workload with a pod template, got kind ${truncate(String(kind))}`);
  const name = obj.metadata?.name ?? 'workload';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...(template.metadata ?? {}), generateName: `${name}-`, namespace: obj.metadata?.namespace ?? 'default' },
    spec: { ...(template.spec ?? {}) },
  } as Pod;
}

type YamlModule = typeof import('yaml');

/** The optional `yaml` package (its CJS build may arrive under `default` once bundled). */
async function loadYaml(): Promise<YamlModule | undefined> {
  try {
    const mod = (await import('yaml')) as YamlModule & { default?: YamlModule };
    return typeof mod.parseAllDocuments === 'function' ? mod : mod.default;
  } catch {
    return undefined;
  }
}

async function parseManifest(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`the pod file ${truncate(path)}`, `could not be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    // not JSON: YAML below
  }
  const yaml = await loadYaml();
  if (!yaml) throw new ConfigError(`the pod file ${truncate(path)}`, 'is not JSON, and YAML support (the "yaml" package) is not installed: give a JSON file');
  try {
    const docs = yaml.parseAllDocuments(text).map((d) => d.toJS() as unknown);
    return docs.find((d) => d && typeof d === 'object' && 'spec' in (d as object)) ?? docs[0];
  } catch (err) {
    throw new ConfigError(`the pod file ${truncate(path)}`, `is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
}

async function render(value: unknown, json: boolean): Promise<string> {
  const yaml = json ? undefined : await loadYaml();
  if (yaml) return yaml.stringify(value, { lineWidth: 0 });
  return `${JSON.stringify(value, null, 2)}\n`;
}

function summarize(before: Pod, after: Pod): string[] {
  const lines: string[] = [];
  const names = (list: Container[] | undefined) => new Set((list ?? []).map((c) => c.name));
  const beforeInit = names(before.spec.initContainers);
  const beforeApp = names(before.spec.containers);
  for (const c of after.spec.initContainers ?? []) {
    if (!beforeInit.has(c.name)) lines.push(`+ init container ${c.name} (${c.restartPolicy === 'Always' ? 'native sidecar' : (c.args ?? []).join(' ')})`);
  }
  for (const c of after.spec.containers) if (!beforeApp.has(c.name)) lines.push(`+ container ${c.name} (sidecar)`);
  const beforeVolumes = new Set((before.spec.volumes ?? []).map((v) => v.name));
  for (const v of after.spec.volumes ?? [])
    if (!beforeVolumes.has(v.name))
      lines.push(
        `+ volume ${v.name} (${Object.keys(v)
          .filter((k) => k !== 'name')
          .join(', ')})`,
      );
  const all = (p: Pod) => [...(p.spec.initContainers ?? []), ...p.spec.containers];
  const old = new Map(all(before).map((c) => [c.name, c]));
  for (const c of all(after)) {
    const prev = old.get(c.name);
    if (!prev) continue;
    const env = (c.env ?? []).map((e) => e.name).filter((n) => !(prev.env ?? []).some((e) => e.name === n));
    const mounts = (c.volumeMounts ?? []).filter((m) => !(prev.volumeMounts ?? []).some((p) => p.name === m.name && p.mountPath === m.mountPath));
    if (env.length || mounts.length) {
      lines.push(
        `~ ${c.name}: ${[...env.map((n) => `+env ${n}`), ...mounts.map((m) => `+mount ${m.mountPath}${m.readOnly ? ' (read-only)' : ''}`)].join(', ')}`,
      );
    }
  }
  return lines;
}

/**
 * `entra-sidecar demo webhook [pod.yaml]`: prints a pod before and after mutation, a summary and
 * the JSONPatch. A denial is printed with its message and sets exit code 1; a bad file is a
 * ConfigError (exit 2).
 *
 * @example
 * await runWebhookDemo([]);                      // the sample pod
 * await runWebhookDemo(['deploy/example.yaml']); // a Deployment's pod template
 */
export async function runWebhookDemo(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { mode: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new ConfigError('demo webhook', `has an invalid argument: ${(err as Error).message.split('\n')[0]}. Run with --help`);
  }
  if (parsed.values.help) {
    process.stdout.write(`${WEBHOOK_DEMO_HELP}\n`);
    return;
  }
  if (parsed.positionals.length > 1) throw new ConfigError('demo webhook', 'takes at most one pod file');
  const modeRaw = parsed.values.mode ?? 'native';
  if (modeRaw !== 'native' && modeRaw !== 'container') throw new ConfigError('--mode', `must be native or container, got "${truncate(modeRaw)}"`);
  const json = parsed.values.json === true;
  const file = parsed.positionals[0];
  const pod = file ? podFromManifest(await parseManifest(file)) : samplePod();
  const problem = checkPodShape(pod);
  if (problem) throw new ConfigError(`the pod ${file ? `in ${truncate(file)}` : ''}`.trim(), `is not a valid Pod: ${problem}`);

  const namespace = pod.metadata?.namespace ?? 'default';
  const serviceAccount: ServiceAccountRef = {
    namespace,
    name: serviceAccountNameOf(pod),
    annotations: { [AZURE_WORKLOAD_IDENTITY.clientId]: DEMO_CLIENT_ID, [AZURE_WORKLOAD_IDENTITY.tenantId]: DEMO_TENANT_ID },
  };
  const settings: MutationSettings = { ...DEFAULT_SIDECAR_SETTINGS, image: `entra-sidecar:${VERSION}`, mode: modeRaw };
  const out = process.stdout;
  out.write(`# ServiceAccount ${namespace}/${serviceAccount.name} (assumed) annotations:\n`);
  for (const [k, v] of Object.entries(serviceAccount.annotations)) out.write(`#   ${k}: ${v}\n`);
  out.write(`# webhook: default mode ${settings.mode}, sidecar image ${settings.image}, token dir ${settings.tokenDir}\n\n`);
  out.write(`# ---- before ----\n${await render(pod, json)}\n`);

  const outcome = mutatePod(pod, serviceAccount, settings, newIdentityHeader);
  if (outcome.kind === 'skipped') {
    out.write(`# ---- result: not injected ----\n# ${outcome.reason}: add the annotation ${ANNOTATION.inject}: "true" to opt this pod in.\n`);
    return;
  }
  if (outcome.kind === 'denied') {
    out.write(`# ---- result: denied ----\n# ${outcome.message}\n`);
    process.exitCode = 1;
    return;
  }
  const patch = createJsonPatch(pod, outcome.pod);
  out.write(`# ---- after ----\n${await render(outcome.pod, json)}\n`);
  out.write(
    `# ---- what changed ----\n${summarize(pod, outcome.pod)
      .map((l) => `# ${l}`)
      .join('\n')}\n`,
  );
  for (const w of outcome.warnings) out.write(`# warning: ${w}\n`);
  out.write(`\n# ---- JSONPatch returned to the API server (${patch.length} operations) ----\n`);
  for (const op of patch) out.write(`${JSON.stringify(op)}\n`);
}
