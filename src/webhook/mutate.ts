import {
  ANNOTATION,
  INJECTED_LABEL,
  isOptedIn,
  parseInjectionOptions,
  STATUS_INJECTED,
  type AppOptions,
  type InjectionMode,
  type ServiceAccountRef,
} from './annotations.js';
import { addEnvIfAbsent, appEnv, type AppAccess, type AppEnvValues } from './inject/app-env.js';
import { buildOnceInitContainer, ONCE_INIT_CONTAINER_NAME } from './inject/once-init-container.js';
import { SIDECAR_ENV, SIDECAR_UID } from './inject/sidecar-common.js';
import { buildSidecarContainer, SIDECAR_CONTAINER_NAME } from './inject/sidecar-container.js';
import {
  addAppMount,
  addMissingVolumes,
  allContainers,
  injectedVolumes,
  INJECTED_VOLUME_NAMES,
  reservedMountProblems,
  reservedVolumeNamesInUse,
} from './inject/volumes.js';
import type { Container, Pod } from './pod.js';
import { escapePointerSegment, PatchRecorder, withKnownJson, type JsonPatchOperation } from './patch.js';
import { specDifferences, withoutApiServerAdditions } from './spec-differences.js';
import type { MutationSettings } from './settings.js';
import { parseFileSpecs } from '../contract/rendered-files.js';
import { passwordFileOwner, runAsUserOf } from './rendered-files.js';
import type { InjectionOptions } from './annotations.js';

/** What the webhook decided for one pod. A `mutated` pod may equal the input (nothing to add). */
export type MutationOutcome =
  | { kind: 'skipped'; reason: string }
  | { kind: 'denied'; message: string }
  | {
      kind: 'mutated';
      pod: Pod;
      /** the JSONPatch that turns the input into `pod`, recorded as it was made (empty: nothing to add) */
      patch: JsonPatchOperation[];
      warnings: string[];
    };

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

/**
 * True when the pod needs its ServiceAccount read: it opted in. A reinvocation reads it too, since
 * the webhook's earlier work is checked against what it would inject now (a pod author can write
 * a container named entra-sidecar; only the comparison tells the webhook's own from a forgery).
 */
export function needsServiceAccount(pod: Pod): boolean {
  return isOptedIn(pod.metadata?.annotations) && pod.spec.hostNetwork !== true;
}

/** The identity-header secrets the webhook generates (newIdentityHeader: 32 random bytes, hex). */
const IDENTITY_HEADER_SHAPE = /^[0-9a-f]{64}$/;

const RESERVED_NAMES_HINT = `the names ${[...OWN_CONTAINERS, ...INJECTED_VOLUME_NAMES].join(', ')}, the label ${INJECTED_LABEL} and the annotation ${ANNOTATION.status} are reserved for the webhook`;

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
  if (!isOptedIn(annotations)) {
    const marks = webhookMarks(pod);
    if (marks.length > 0)
      return deny([
        `it does not opt in (${ANNOTATION.inject}: "true") but carries ${marks.join(', ')}, which only the webhook writes: remove them (${RESERVED_NAMES_HINT})`,
      ]);
    return { kind: 'skipped', reason: `no ${ANNOTATION.inject}: "true" annotation` };
  }
  if (pod.spec.hostNetwork === true) {
    return {
      kind: 'denied',
      message: `pods with hostNetwork: true cannot use entra-sidecar: its endpoint on 127.0.0.1 would be the node's loopback, shared with every host-network pod. Remove hostNetwork or the ${ANNOTATION.inject} annotation`,
    };
  }
  const existing = findExistingInjection(pod);
  return existing ? topUp(pod, existing, annotations, serviceAccount, settings) : injectFresh(pod, serviceAccount, annotations, settings, newSecret);
}

/** What in a pod claims the webhook's work: its label, its status annotation, its container and volume names. */
function webhookMarks(pod: Pod): string[] {
  const marks: string[] = [];
  if (pod.metadata?.labels?.[INJECTED_LABEL] !== undefined) marks.push(`the label ${INJECTED_LABEL}`);
  if (pod.metadata?.annotations?.[ANNOTATION.status] !== undefined) marks.push(`the annotation ${ANNOTATION.status}`);
  const containers = [
    ...new Set(
      allContainers(pod)
        .map((c) => c.name)
        .filter((n) => OWN_CONTAINERS.has(n)),
    ),
  ];
  if (containers.length > 0) marks.push(`container(s) ${containers.join(', ')}`);
  const volumes = reservedVolumeNamesInUse(pod);
  if (volumes.length > 0) marks.push(`volume(s) ${volumes.join(', ')}`);
  const mounts = [
    ...new Set(
      allContainers(pod)
        .flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name))
        .filter((n) => INJECTED_VOLUME_NAMES.includes(n)),
    ),
  ];
  if (mounts.length > 0) marks.push(`mounts of ${mounts.join(', ')}`);
  return marks;
}

/** Problems every pass checks, fresh or top-up: the sidecar's ports free, the reserved volumes mounted only as the webhook mounts them. */
function podProblems(pod: Pod, options: InjectionOptions, settings: MutationSettings, tokenFilesPath: string | undefined): string[] {
  const problems = reservedMountProblems(pod, OWN_CONTAINERS, tokenFilesPath);
  if (options.mode !== 'init-only') {
    for (const c of allContainers(pod)) {
      if (OWN_CONTAINERS.has(c.name)) continue;
      for (const p of c.ports ?? []) {
        if (p.containerPort === options.port)
          problems.push(`container ${c.name} uses port ${options.port}, the sidecar's endpoint port: set ${ANNOTATION.port} to a free port`);
        if (p.containerPort === settings.healthPort)
          problems.push(
            `container ${c.name} uses port ${settings.healthPort}, the sidecar's health port: free it (the webhook's --sidecar-health-port sets it)`,
          );
      }
    }
  }
  return problems;
}

/**
 * The options a fresh injection derives for this pod, with the user the sidecar runs as: its own,
 * or the app containers' when a password file is asked for (see rendered-files.ts).
 */
function optionsFor(
  pod: Pod,
  serviceAccount: ServiceAccountRef | undefined,
  annotations: Record<string, string>,
  settings: MutationSettings,
): { ok: true; options: InjectionOptions; shared: boolean; passwordFile: boolean; ownerProblem?: string } | { ok: false; problems: readonly string[] } {
  const parsed = parseOptionsOnce(annotations, serviceAccount, settings, pod.spec.restartPolicy);
  if (!parsed.ok) return parsed;
  const files = parseFileSpecs(
    parsed.value.files,
    parsed.value.tokens.map((t) => t.name),
  );
  const passwordFile = files.ok && files.value.some((f) => f.kind === 'pgpass');
  const owner = passwordFileOwner(pod, files.ok ? files.value : [], parsed.value.app.skipContainers, OWN_CONTAINERS);
  if (!owner.ok) return { ok: true, options: parsed.value, shared: true, passwordFile, ownerProblem: owner.problem };
  if (owner.uid !== undefined) return { ok: true, options: { ...parsed.value, runAsUser: owner.uid }, shared: false, passwordFile };
  return { ok: true, options: parsed.value, shared: true, passwordFile };
}

/** Options parsed before, per settings, by everything they are parsed from (frozen: shared by every pod they are for). */
const parsedOptions = new WeakMap<MutationSettings, Map<string, ReturnType<typeof parseInjectionOptions>>>();
const MAX_PARSED_OPTIONS = 256;

/**
 * parseInjectionOptions, once for the same inputs (a pure function of them): the pods of one
 * template, or of templates annotated alike, share the parsed options and what is built from them
 * (sidecarJson). Keyed by the whole annotation map, the ServiceAccount and the restart policy;
 * bounded (the oldest go first).
 */
function parseOptionsOnce(
  annotations: Record<string, string>,
  serviceAccount: ServiceAccountRef | undefined,
  settings: MutationSettings,
  restartPolicy: string | undefined,
): ReturnType<typeof parseInjectionOptions> {
  let known = parsedOptions.get(settings);
  if (!known) {
    known = new Map();
    parsedOptions.set(settings, known);
  }
  const key = JSON.stringify([restartPolicy, annotations, serviceAccount ? [serviceAccount.namespace, serviceAccount.name, serviceAccount.annotations] : null]);
  let parsed = known.get(key);
  if (!parsed) {
    parsed = deepFreeze(parseInjectionOptions(annotations, serviceAccount, settings, restartPolicy));
    known.set(key, parsed);
    if (known.size > MAX_PARSED_OPTIONS) known.delete(known.keys().next().value as string);
  }
  return parsed;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value) && !(value instanceof Set)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** The sidecar's JSON around its identity header, per settings, shared options and placement. */
const sidecarJsonParts = new WeakMap<MutationSettings, WeakMap<InjectionOptions, Map<string, readonly [string, string] | null>>>();
const HEADER_MARK = 'entra-sidecar-identity-header-mark';

/**
 * The sidecar container for this pod, its JSON known to serializePatch: for options shared by
 * many pods (parseOptionsOnce), the JSON is built once around the identity header and this pod's
 * header spliced in.
 */
function sidecarFor(
  options: InjectionOptions,
  shared: boolean,
  settings: MutationSettings,
  identityHeader: string,
  placement: 'native' | 'container',
): Container {
  const container = buildSidecarContainer(options, settings, identityHeader, placement);
  if (!shared) return container;
  let bySettings = sidecarJsonParts.get(settings);
  if (!bySettings) {
    bySettings = new WeakMap();
    sidecarJsonParts.set(settings, bySettings);
  }
  let byPlacement = bySettings.get(options);
  if (!byPlacement) {
    byPlacement = new Map();
    bySettings.set(options, byPlacement);
  }
  let parts = byPlacement.get(placement);
  if (parts === undefined) {
    const split = JSON.stringify(buildSidecarContainer(options, settings, HEADER_MARK, placement)).split(HEADER_MARK);
    parts = split.length === 2 ? [split[0] as string, split[1] as string] : null;
    byPlacement.set(placement, parts);
  }
  if (parts === null) return container;
  return withKnownJson(container, `${parts[0]}${JSON.stringify(identityHeader).slice(1, -1)}${parts[1]}`);
}

function injectFresh(
  pod: Pod,
  serviceAccount: ServiceAccountRef | undefined,
  annotations: Record<string, string>,
  settings: MutationSettings,
  newSecret: () => string,
): MutationOutcome {
  const derived = optionsFor(pod, serviceAccount, annotations, settings);
  if (!derived.ok) return deny(derived.problems);
  const { options } = derived;
  const problems: string[] = derived.ownerProblem ? [derived.ownerProblem] : [];
  // ephemeral containers cannot be set on create, but a name in any list is reserved
  const takenNames = allContainers(pod)
    .map((c) => c.name)
    .filter((n) => OWN_CONTAINERS.has(n));
  if (takenNames.length > 0) problems.push(`the container name(s) ${takenNames.join(', ')} are reserved for entra-sidecar: rename the container`);
  const reserved = reservedVolumeNamesInUse(pod);
  if (reserved.length > 0) problems.push(`the volume name(s) ${reserved.join(', ')} are reserved for entra-sidecar: rename the pod's volume`);
  problems.push(...podProblems(pod, options, settings, undefined));
  if (problems.length > 0) return deny(problems);

  const ops = new PatchRecorder();
  const out = copyForMutation(pod);
  const identityHeader = options.mode === 'init-only' ? undefined : newSecret();
  addMissingVolumes(out, injectedVolumes(options.tokenExpirationSeconds, options.clientCredential, fsGroupOf(pod)), ops);
  const inits = out.spec.initContainers;
  const prependInit = (c: Container) => {
    ops.prepend('/spec/initContainers', inits, c);
    out.spec.initContainers = inits ? [c, ...inits] : [c];
  };
  if (options.mode === 'native') {
    prependInit(sidecarFor(options, derived.shared, settings, identityHeader as string, 'native'));
  } else {
    if (options.tokens.length > 0) prependInit(buildOnceInitContainer(options, settings));
    if (options.mode === 'container') {
      const sidecar = sidecarFor(options, derived.shared, settings, identityHeader as string, 'container');
      ops.prepend('/spec/containers', out.spec.containers, sidecar);
      out.spec.containers = [sidecar, ...out.spec.containers];
    }
  }

  const values: AppEnvValues = { clientId: options.clientId, port: options.port, mountPath: options.mountPath, identityHeader, app: options.app };
  const mountProblems = applyToAppContainers(out, options.mode, values, ops);
  if (mountProblems.length > 0) return deny(mountProblems);
  markInjected(out, ops);

  const warnings = [...skipWarnings(pod, options.app), ...processNamespaceWarnings(pod, options)];
  if (options.mode === 'container' && pod.spec.restartPolicy !== undefined && pod.spec.restartPolicy !== 'Always') {
    warnings.push(
      `${ANNOTATION.mode}: container on a pod with restartPolicy ${pod.spec.restartPolicy}: the sidecar keeps running, so the pod never completes; use native or init-only`,
    );
  }
  return { kind: 'mutated', pod: out, patch: ops.ops, warnings };
}

/**
 * A pod that already has the webhook's containers: a reinvocation (another webhook changed the pod
 * after the first pass), or a pod spec copied from an injected pod. The webhook's containers and
 * volumes must be exactly what it would inject now for this pod (apart from the identity header,
 * which it cannot know again, and the defaults the API server adds); anything else is a pod author's
 * forgery or a stale copy, and is denied. Then every check of a fresh injection runs, and containers
 * added since get the environment and the mount.
 */
function topUp(
  pod: Pod,
  existing: ExistingInjection,
  annotations: Record<string, string>,
  serviceAccount: ServiceAccountRef | undefined,
  settings: MutationSettings,
): MutationOutcome {
  const derived = optionsFor(pod, serviceAccount, annotations, settings);
  if (!derived.ok) return deny(derived.problems);
  const env = new Map((existing.source.env ?? []).map((e) => [e.name, e.value]));
  const identityHeader = existing.mode === 'init-only' ? undefined : env.get(SIDECAR_ENV.identityHeader);
  const options = { ...derived.options, runAsUser: sidecarUserFor(pod, existing.source, derived.options, derived.passwordFile) };
  const differences = earlierInjectionDifferences(pod, existing.mode, options, settings, identityHeader);
  if (differences.length > 0) {
    return deny([
      `the pod already has entra-sidecar's containers or volumes, but they differ from what the webhook injects for it (${differences.join('; ')}): ${RESERVED_NAMES_HINT}. Remove them from the pod spec and let the webhook add them (a pod copied from an injected one is stale when the ServiceAccount or the webhook's settings changed since)`,
    ]);
  }
  const problems = podProblems(pod, options, settings, options.mountPath);
  if (problems.length > 0) return deny(problems);
  const values: AppEnvValues = { clientId: options.clientId, port: options.port, mountPath: options.mountPath, identityHeader, app: options.app };
  const ops = new PatchRecorder();
  const out = copyForMutation(pod);
  addMissingVolumes(out, injectedVolumes(options.tokenExpirationSeconds, options.clientCredential, fsGroupOf(pod)), ops);
  const mountProblems = applyToAppContainers(out, existing.mode, values, ops);
  if (mountProblems.length > 0) return deny(mountProblems);
  markInjected(out, ops);
  return { kind: 'mutated', pod: out, patch: ops.ops, warnings: [] };
}

/**
 * The user the existing sidecar may run as: its own (65532), or, when the pod asks for a password
 * file, one of the app containers' users (another webhook may have added a container since the
 * first pass, so the first pass's choice is not recomputed). Anything else: the fresh choice, which
 * the comparison then reports.
 */
function sidecarUserFor(pod: Pod, source: Container, options: InjectionOptions, pgpass: boolean): number | undefined {
  const found = (source.securityContext as { runAsUser?: unknown } | undefined)?.runAsUser;
  if (found === SIDECAR_UID) return undefined;
  const appUsers = new Set(pod.spec.containers.filter((c) => !OWN_CONTAINERS.has(c.name)).map((c) => runAsUserOf(pod, c)));
  if (pgpass && typeof found === 'number' && found !== 0 && appUsers.has(found)) return found;
  return options.runAsUser;
}

/** Where the webhook's containers and volumes differ from what it would inject for this pod now (paths, never values). */
function earlierInjectionDifferences(
  pod: Pod,
  foundMode: InjectionMode,
  options: InjectionOptions,
  settings: MutationSettings,
  identityHeader: string | undefined,
): string[] {
  const out: string[] = [];
  if (foundMode !== options.mode) out.push(`the sidecar is placed as mode ${foundMode}, but the pod's annotations and settings give mode ${options.mode}`);
  if (identityHeader !== undefined && !IDENTITY_HEADER_SHAPE.test(identityHeader))
    out.push(`container ${SIDECAR_CONTAINER_NAME}: env ${SIDECAR_ENV.identityHeader} is not a secret the webhook generates`);
  const header = identityHeader ?? '';
  const expectedInits: Container[] = [];
  const expectedApps: Container[] = [];
  if (options.mode === 'native') expectedInits.push(buildSidecarContainer(options, settings, header, 'native'));
  else {
    if (options.tokens.length > 0) expectedInits.push(buildOnceInitContainer(options, settings));
    if (options.mode === 'container') expectedApps.push(buildSidecarContainer(options, settings, header, 'container'));
  }
  const lists: Array<[string, Container[], Container[]]> = [
    ['initContainers', pod.spec.initContainers ?? [], expectedInits],
    ['containers', pod.spec.containers, expectedApps],
    ['ephemeralContainers', Array.isArray(pod.spec.ephemeralContainers) ? (pod.spec.ephemeralContainers as Container[]) : [], []],
  ];
  for (const [list, found, expected] of lists) {
    for (const c of found.filter((f) => OWN_CONTAINERS.has(f.name))) {
      const want = expected.find((e) => e.name === c.name);
      if (!want) out.push(`${list} has a container ${c.name}, which the webhook does not inject there for this pod`);
      else for (const d of specDifferences(withoutApiServerAdditions(c), want)) out.push(`container ${c.name}: ${d}`);
    }
    for (const e of expected) if (!found.some((f) => f.name === e.name)) out.push(`${list} lacks the container ${e.name}`);
  }
  const expectedVolumes = injectedVolumes(options.tokenExpirationSeconds, options.clientCredential, fsGroupOf(pod));
  for (const v of pod.spec.volumes ?? []) {
    if (!INJECTED_VOLUME_NAMES.includes(v.name)) continue;
    const want = expectedVolumes.find((e) => e.name === v.name);
    if (!want) out.push(`volume ${v.name} is not one the webhook injects for this pod`);
    else for (const d of specDifferences(v, want)) out.push(`volume ${v.name}: ${d}`);
  }
  return out;
}

/**
 * Gives every app and init container the read-only token mount and, where something serves it
 * when the container starts, the environment. Returns mount clashes.
 */
function applyToAppContainers(pod: Pod, mode: InjectionMode, values: AppEnvValues, ops: PatchRecorder): string[] {
  const problems: string[] = [];
  const skip = values.app.skipContainers;
  const apply = (c: Container, access: AppAccess, path: string) => {
    if (OWN_CONTAINERS.has(c.name) || skip.has(c.name)) return;
    const at = { ops, path };
    const problem = addAppMount(c, values.mountPath, at);
    if (problem) {
      problems.push(
        `${problem}, where entra-sidecar mounts the token files: set ${ANNOTATION.mountPath} to another path, or list ${c.name} in ${ANNOTATION.skipContainers}`,
      );
      return;
    }
    addEnvIfAbsent(c, appEnv(values, access), at);
  };
  const inits = pod.spec.initContainers ?? [];
  const anchor = inits.findIndex((c) => c.name === (mode === 'native' ? SIDECAR_CONTAINER_NAME : ONCE_INIT_CONTAINER_NAME));
  const afterAnchor: AppAccess = mode === 'native' ? 'endpoint' : 'files';
  inits.forEach((c, i) => apply(c, anchor >= 0 && i > anchor ? afterAnchor : 'none', `/spec/initContainers/${i}`));
  const appAccess: AppAccess = mode === 'init-only' ? 'files' : 'endpoint';
  pod.spec.containers.forEach((c, i) => apply(c, appAccess, `/spec/containers/${i}`));
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

const LABEL_PATH = `/metadata/labels/${escapePointerSegment(INJECTED_LABEL)}`;
const STATUS_PATH = `/metadata/annotations/${escapePointerSegment(ANNOTATION.status)}`;

/** Labels and annotates an injected pod (it has metadata: it opted in with an annotation). */
function markInjected(pod: Pod, ops: PatchRecorder): void {
  const meta = (pod.metadata ??= {});
  const labels = meta.labels;
  if (labels?.[INJECTED_LABEL] !== 'true') {
    if (labels) ops.set(LABEL_PATH, 'true', labels[INJECTED_LABEL] !== undefined);
    else ops.set('/metadata/labels', { [INJECTED_LABEL]: 'true' });
    // (Object.assign, then the member: much cheaper than a spread with a computed key for such keys)
    meta.labels = Object.assign({}, labels);
    meta.labels[INJECTED_LABEL] = 'true';
  }
  const annotations = meta.annotations;
  if (annotations?.[ANNOTATION.status] !== STATUS_INJECTED) {
    if (annotations) ops.set(STATUS_PATH, STATUS_INJECTED, annotations[ANNOTATION.status] !== undefined);
    else ops.set('/metadata/annotations', { [ANNOTATION.status]: STATUS_INJECTED });
    meta.annotations = Object.assign({}, annotations);
    meta.annotations[ANNOTATION.status] = STATUS_INJECTED;
  }
}

function fsGroupOf(pod: Pod): number | undefined {
  const g = (pod.spec.securityContext as { fsGroup?: unknown } | undefined)?.fsGroup;
  return typeof g === 'number' ? g : undefined;
}

function skipWarnings(pod: Pod, app: AppOptions): string[] {
  const names = new Set([...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => c.name));
  const unknown = [...app.skipContainers].filter((n) => !names.has(n));
  return unknown.length > 0 ? [`${ANNOTATION.skipContainers} names ${unknown.join(', ')}, which this pod does not have`] : [];
}

/**
 * hostPID and shareProcessNamespace pods are injected, with a warning: another process that sees
 * the sidecar's PID and runs as its user (or holds CAP_SYS_PTRACE) can read its environment (the
 * identity header) and its credential through /proc. Denying would break node agents that opt in on
 * purpose, and hostPID already requires the privileged Pod Security level (SECURITY.md).
 */
function processNamespaceWarnings(pod: Pod, options: InjectionOptions): string[] {
  const uid = options.runAsUser ?? SIDECAR_UID;
  const why = `processes that see the sidecar's PID and run as its user (${uid}) or hold CAP_SYS_PTRACE can read its environment (the identity header) and its credential through /proc`;
  const out: string[] = [];
  if (pod.spec.hostPID === true)
    out.push(`hostPID: true puts the sidecar in the node's PID namespace: ${why}, in any hostPID pod or node process; keep untrusted workloads off hostPID`);
  else if (pod.spec.shareProcessNamespace === true) out.push(`shareProcessNamespace: true: ${why}, in every container of this pod`);
  return out;
}

function deny(problems: readonly string[]): MutationOutcome {
  return { kind: 'denied', message: `entra-sidecar cannot inject this pod: ${problems.join('; ')}` };
}
