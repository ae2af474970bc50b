import {
  ANNOTATION,
  INJECTED_LABEL,
  isOptedIn,
  parseAppOptions,
  parseInjectionOptions,
  STATUS_INJECTED,
  type AppOptions,
  type InjectionMode,
  type ServiceAccountRef,
} from './annotations.js';
import { parseTokenExpiration } from '../contract/token-expiration.js';
import { addEnvIfAbsent, appEnv, type AppAccess, type AppEnvValues } from './inject/app-env.js';
import { buildOnceInitContainer, ONCE_INIT_CONTAINER_NAME } from './inject/once-init-container.js';
import { SIDECAR_ENV } from './inject/sidecar-common.js';
import { buildSidecarContainer, SIDECAR_CONTAINER_NAME } from './inject/sidecar-container.js';
import { addAppMount, addMissingVolumes, injectedVolumes, reservedVolumeNamesInUse } from './inject/volumes.js';
import type { Container, Pod } from './pod.js';
import type { MutationSettings } from './settings.js';
import { parseFileSpecs } from '../contract/rendered-files.js';
import { passwordFileOwner } from './rendered-files.js';

/** What the webhook decided for one pod. A `mutated` pod may equal the input (nothing to add). */
export type MutationOutcome =
  | { kind: 'skipped'; reason: string }
  | { kind: 'denied'; message: string }
  | { kind: 'mutated'; pod: Pod; warnings: string[] };

/** The webhook's containers already in a pod, and the mode they reveal. */
interface ExistingInjection {
  mode: InjectionMode;
  /** the sidecar, or the `--once` container in init-only mode: its env is the source of truth */
  source: Container;
}

const OWN_CONTAINERS = new Set([SIDECAR_CONTAINER_NAME, ONCE_INIT_CONTAINER_NAME]);

/**
 * Finds the webhook's containers from an earlier pass (reinvocation), if any.
 *
 * @example
 * findExistingInjection(pod)?.mode // 'native'
 */
export function findExistingInjection(pod: Pod): ExistingInjection | undefined {
  const inits = pod.spec.initContainers ?? [];
  const nativeSidecar = inits.find((c) => c.name === SIDECAR_CONTAINER_NAME);
  if (nativeSidecar) return { mode: 'native', source: nativeSidecar };
  const sidecar = pod.spec.containers.find((c) => c.name === SIDECAR_CONTAINER_NAME);
  if (sidecar) return { mode: 'container', source: sidecar };
  const once = inits.find((c) => c.name === ONCE_INIT_CONTAINER_NAME);
  if (once) return { mode: 'init-only', source: once };
  return undefined;
}

/** True when the pod needs its ServiceAccount read: it opted in and has not been injected yet. */
export function needsServiceAccount(pod: Pod): boolean {
  return isOptedIn(pod.metadata?.annotations) && pod.spec.hostNetwork !== true && findExistingInjection(pod) === undefined;
}

/**
 * The pure mutation: decides whether and how to inject the sidecar into a pod and returns the
 * mutated copy (the input is never modified). On reinvocation (the webhook's containers are already
 * there) it only tops up containers added since and keeps the sidecar and `IDENTITY_HEADER`.
 *
 * @example
 * const out = mutatePod(pod, { namespace: 'apps', name: 'api', annotations }, settings, () => randomBytes(32).toString('hex'));
 * if (out.kind === 'mutated') patch = createJsonPatch(pod, out.pod);
 */
export function mutatePod(pod: Pod, serviceAccount: ServiceAccountRef | undefined, settings: MutationSettings, newSecret: () => string): MutationOutcome {
  const annotations = pod.metadata?.annotations ?? {};
  if (!isOptedIn(annotations)) return { kind: 'skipped', reason: `no ${ANNOTATION.inject}: "true" annotation` };
  if (pod.spec.hostNetwork === true) {
    return {
      kind: 'denied',
      message: `pods with hostNetwork: true cannot use entra-sidecar: its endpoint on 127.0.0.1 would be the node's loopback, shared with every host-network pod. Remove hostNetwork or the ${ANNOTATION.inject} annotation`,
    };
  }
  const existing = findExistingInjection(pod);
  return existing ? topUp(pod, existing, annotations, settings) : injectFresh(pod, serviceAccount, annotations, settings, newSecret);
}

function injectFresh(
  pod: Pod,
  serviceAccount: ServiceAccountRef | undefined,
  annotations: Record<string, string>,
  settings: MutationSettings,
  newSecret: () => string,
): MutationOutcome {
  const parsed = parseInjectionOptions(annotations, serviceAccount, settings, pod.spec.restartPolicy);
  if (!parsed.ok) return deny(parsed.problems);
  const problems: string[] = [];
  const files = parseFileSpecs(parsed.value.files, parsed.value.tokens.map((t) => t.name));
  const owner = passwordFileOwner(pod, files.ok ? files.value : [], parsed.value.app.skipContainers, OWN_CONTAINERS);
  if (!owner.ok) problems.push(owner.problem);
  const options = owner.ok && owner.uid !== undefined ? { ...parsed.value, runAsUser: owner.uid } : parsed.value;

  const takenNames = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => c.name).filter((n) => OWN_CONTAINERS.has(n));
  if (takenNames.length > 0) problems.push(`the container name(s) ${takenNames.join(', ')} are reserved for entra-sidecar: rename the container`);
  const reserved = reservedVolumeNamesInUse(pod);
  if (reserved.length > 0) problems.push(`the volume name(s) ${reserved.join(', ')} are reserved for entra-sidecar: rename the pod's volume`);
  if (options.mode !== 'init-only') {
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      for (const p of c.ports ?? []) {
        if (p.containerPort === options.port) problems.push(`container ${c.name} uses port ${options.port}, the sidecar's endpoint port: set ${ANNOTATION.port} to a free port`);
        if (p.containerPort === settings.healthPort) problems.push(`container ${c.name} uses port ${settings.healthPort}, the sidecar's health port: free it (the webhook's --sidecar-health-port sets it)`);
      }
    }
  }
  if (problems.length > 0) return deny(problems);

  const out = copyForMutation(pod);
  const identityHeader = options.mode === 'init-only' ? undefined : newSecret();
  addMissingVolumes(out, injectedVolumes(options.tokenExpirationSeconds));
  const inits = out.spec.initContainers ?? [];
  if (options.mode === 'native') {
    out.spec.initContainers = [buildSidecarContainer(options, settings, identityHeader as string, 'native'), ...inits];
  } else {
    if (options.tokens.length > 0) out.spec.initContainers = [buildOnceInitContainer(options, settings), ...inits];
    if (options.mode === 'container') out.spec.containers = [buildSidecarContainer(options, settings, identityHeader as string, 'container'), ...out.spec.containers];
  }

  const values: AppEnvValues = { clientId: options.clientId, port: options.port, mountPath: options.mountPath, identityHeader, app: options.app };
  const mountProblems = applyToAppContainers(out, options.mode, values);
  if (mountProblems.length > 0) return deny(mountProblems);
  markInjected(out);

  const warnings = skipWarnings(pod, options.app);
  if (options.mode === 'container' && pod.spec.restartPolicy !== undefined && pod.spec.restartPolicy !== 'Always') {
    warnings.push(
      `${ANNOTATION.mode}: container on a pod with restartPolicy ${pod.spec.restartPolicy}: the sidecar keeps running, so the pod never completes; use native or init-only`,
    );
  }
  return { kind: 'mutated', pod: out, warnings };
}

function topUp(pod: Pod, existing: ExistingInjection, annotations: Record<string, string>, settings: MutationSettings): MutationOutcome {
  const app = parseAppOptions(annotations);
  if (!app.ok) return deny(app.problems);
  const env = new Map((existing.source.env ?? []).map((e) => [e.name, e.value]));
  const listenPort = /:(\d{1,5})$/.exec(env.get(SIDECAR_ENV.listen) ?? '')?.[1];
  const values: AppEnvValues = {
    clientId: env.get(SIDECAR_ENV.clientId) ?? '',
    port: listenPort ? Number(listenPort) : settings.port,
    mountPath: env.get(SIDECAR_ENV.tokenDir) ?? settings.tokenDir,
    identityHeader: existing.mode === 'init-only' ? undefined : env.get(SIDECAR_ENV.identityHeader),
    app: app.value,
  };
  const out = copyForMutation(pod);
  addMissingVolumes(out, injectedVolumes(expirationFrom(annotations, settings)));
  const mountProblems = applyToAppContainers(out, existing.mode, values);
  if (mountProblems.length > 0) return deny(mountProblems);
  markInjected(out);
  return { kind: 'mutated', pod: out, warnings: [] };
}

/**
 * Gives every app and init container the read-only token mount and, where something serves it
 * when the container starts, the environment. Returns mount clashes.
 */
function applyToAppContainers(pod: Pod, mode: InjectionMode, values: AppEnvValues): string[] {
  const problems: string[] = [];
  const skip = values.app.skipContainers;
  const apply = (c: Container, access: AppAccess) => {
    if (OWN_CONTAINERS.has(c.name) || skip.has(c.name)) return;
    const problem = addAppMount(c, values.mountPath);
    if (problem) {
      problems.push(`${problem}, where entra-sidecar mounts the token files: set ${ANNOTATION.mountPath} to another path, or list ${c.name} in ${ANNOTATION.skipContainers}`);
      return;
    }
    addEnvIfAbsent(c, appEnv(values, access));
  };
  const inits = pod.spec.initContainers ?? [];
  const anchor = inits.findIndex((c) => c.name === (mode === 'native' ? SIDECAR_CONTAINER_NAME : ONCE_INIT_CONTAINER_NAME));
  const afterAnchor: AppAccess = mode === 'native' ? 'endpoint' : 'files';
  inits.forEach((c, i) => apply(c, anchor >= 0 && i > anchor ? afterAnchor : 'none'));
  const appAccess: AppAccess = mode === 'init-only' ? 'files' : 'endpoint';
  for (const c of pod.spec.containers) apply(c, appAccess);
  return problems;
}

/**
 * Copy-on-write: copies only the objects the mutation replaces (pod, metadata, spec, each
 * container); everything else is shared with the input, which is never written to. Shared
 * subtrees also make the patch diff cheap (identical references are skipped at once).
 */
function copyForMutation(pod: Pod): Pod {
  const spec = { ...pod.spec, containers: pod.spec.containers.map((c) => ({ ...c })) };
  if (pod.spec.initContainers) spec.initContainers = pod.spec.initContainers.map((c) => ({ ...c }));
  return { ...pod, metadata: { ...(pod.metadata ?? {}) }, spec };
}

function markInjected(pod: Pod): void {
  const meta = (pod.metadata ??= {});
  if (meta.labels?.[INJECTED_LABEL] !== 'true') meta.labels = { ...(meta.labels ?? {}), [INJECTED_LABEL]: 'true' };
  if (meta.annotations?.[ANNOTATION.status] !== STATUS_INJECTED) meta.annotations = { ...(meta.annotations ?? {}), [ANNOTATION.status]: STATUS_INJECTED };
}

function expirationFrom(annotations: Record<string, string>, settings: MutationSettings): number {
  const raw = annotations[ANNOTATION.tokenExpiration];
  const parsed = raw === undefined ? undefined : parseTokenExpiration(raw);
  return parsed !== undefined && 'seconds' in parsed ? parsed.seconds : settings.tokenExpirationSeconds;
}

function skipWarnings(pod: Pod, app: AppOptions): string[] {
  const names = new Set([...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => c.name));
  const unknown = [...app.skipContainers].filter((n) => !names.has(n));
  return unknown.length > 0 ? [`${ANNOTATION.skipContainers} names ${unknown.join(', ')}, which this pod does not have`] : [];
}

function deny(problems: string[]): MutationOutcome {
  return { kind: 'denied', message: `entra-sidecar cannot inject this pod: ${problems.join('; ')}` };
}
