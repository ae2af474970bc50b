import { truncate } from '../config/options.js';
import { checkClientId, checkTenantId } from '../contract/identity.js';
import { MAX_TARGETS, parseTargets, type Target } from '../contract/targets.js';
import { parseTokenExpiration, TOKEN_EXPIRATION_MAX, TOKEN_EXPIRATION_MIN } from '../contract/token-expiration.js';
import { CLIENT_CREDENTIAL_ANNOTATION, parseClientCredential, type ClientCredentialRef } from './client-credential.js';
import { parseQuantity } from './quantity.js';
import { parseFileAnnotations } from './rendered-files.js';
import { FILE_ANNOTATION_PREFIX, MAX_FILES } from '../contract/rendered-files.js';
import type { MutationSettings } from './settings.js';

/**
 * Every annotation and label the webhook reads or writes, with its default and parser. The README's
 * annotation table is `ANNOTATION_REFERENCE`.
 */
export const ANNOTATION = {
  inject: 'entra-sidecar.io/inject',
  clientId: 'entra-sidecar.io/client-id',
  tenantId: 'entra-sidecar.io/tenant-id',
  tokens: 'entra-sidecar.io/tokens',
  /** one annotation per rendered file: `entra-sidecar.io/file.<name>` */
  file: `${FILE_ANNOTATION_PREFIX}<name>`,
  tokenExpiration: 'entra-sidecar.io/token-expiration',
  skipContainers: 'entra-sidecar.io/skip-containers',
  mode: 'entra-sidecar.io/mode',
  port: 'entra-sidecar.io/port',
  mountPath: 'entra-sidecar.io/mount-path',
  cpuRequest: 'entra-sidecar.io/cpu-request',
  memoryRequest: 'entra-sidecar.io/memory-request',
  memoryLimit: 'entra-sidecar.io/memory-limit',
  injectEnv: 'entra-sidecar.io/inject-env',
  msiEndpoint: 'entra-sidecar.io/msi-endpoint',
  clientSecret: CLIENT_CREDENTIAL_ANNOTATION.clientSecret,
  clientCertificate: CLIENT_CREDENTIAL_ANNOTATION.clientCertificate,
  /** written by the webhook */
  status: 'entra-sidecar.io/status',
} as const;

/** Azure Workload Identity's ServiceAccount annotations, read as fallbacks. */
export const AZURE_WORKLOAD_IDENTITY = {
  clientId: 'azure.workload.identity/client-id',
  tenantId: 'azure.workload.identity/tenant-id',
} as const;

/** Pod label the webhook sets (a PodMonitor selects on it). */
export const INJECTED_LABEL = 'entra-sidecar.io/injected';
export const STATUS_INJECTED = 'injected';

/** How the sidecar is placed in one pod. */
export type InjectionMode = 'native' | 'container' | 'init-only';
export const INJECTION_MODES: readonly InjectionMode[] = ['native', 'container', 'init-only'];

/** One row of the annotation table: what users set on a pod (or its ServiceAccount). */
export interface AnnotationDoc {
  key: string;
  on: string;
  default: string;
  accepted: string;
  meaning: string;
}

/** What a record's parser may consult besides the value: the webhook's settings. */
export interface AnnotationContext {
  settings: MutationSettings;
}

/** A parsed annotation value, or the problem that follows "annotation <key> " in a denial. */
export type AnnotationParse<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * One annotation as one record: its key, its documentation (a row of the README's table) and, for
 * an annotation read on its own, the parser the webhook denies with. Annotations resolved from
 * several sources (client and tenant id: the pod, then the ServiceAccount) or parsed by their own
 * module (client credentials, rendered files) carry no parser here.
 */
export interface AnnotationRecord<T = unknown> extends AnnotationDoc {
  parse?: (raw: string, ctx: AnnotationContext) => AnnotationParse<T>;
}

/** A record that parses its value on its own. */
type WithParser<T> = { parse: (raw: string, ctx: AnnotationContext) => AnnotationParse<T> };

const quantityRecord = (example: string): WithParser<{ text: string; value: number }> => ({
  parse: (raw) => {
    const text = raw.trim();
    const value = parseQuantity(text);
    return value !== undefined && value > 0
      ? { ok: true, value: { text, value } }
      : { ok: false, problem: `must be a Kubernetes quantity above 0 such as ${example}, got ${quoted(raw)}` };
  },
});

const boolRecord: WithParser<boolean> = {
  parse: (raw) => {
    const v = raw.trim().toLowerCase();
    return v === 'true' || v === 'false' ? { ok: true, value: v === 'true' } : { ok: false, problem: `must be "true" or "false", got ${quoted(raw)}` };
  },
};

/** Every annotation's record, by the name its key has in ANNOTATION. */
export const ANNOTATION_RECORDS = {
  inject: {
    key: ANNOTATION.inject,
    on: 'pod',
    default: 'absent (no injection)',
    accepted: '`true` (case-insensitive); anything else means no',
    meaning: 'opt the pod in',
  },
  clientId: {
    key: ANNOTATION.clientId,
    on: 'pod, else ServiceAccount',
    default: "ServiceAccount's `azure.workload.identity/client-id`",
    accepted: 'a GUID',
    meaning: 'application (client) id of the Entra app or user-assigned managed identity; without one the pod is denied',
  },
  tenantId: {
    key: ANNOTATION.tenantId,
    on: 'pod, else ServiceAccount',
    default: "ServiceAccount's `azure.workload.identity/tenant-id`, else the webhook's `--default-tenant-id`",
    accepted: 'a GUID or a domain such as `contoso.onmicrosoft.com`',
    meaning: 'Entra tenant',
  },
  tokens: {
    key: ANNOTATION.tokens,
    // the sidecar's own parser: a pod is admitted only with targets its sidecar accepts
    parse: (raw: string): AnnotationParse<Target[]> => {
      const t = parseTargets(raw);
      return 'problem' in t ? { ok: false, problem: t.problem } : { ok: true, value: t.targets };
    },
    on: 'pod',
    default: 'empty (endpoint only)',
    accepted: `\`name=scope,...\` (name: letters, digits, \`.\`, \`_\`, \`-\`; at most ${MAX_TARGETS})`,
    meaning: 'tokens fetched at start and kept fresh as files `<mount-path>/<name>` and `<name>.json`',
  },
  file: {
    key: ANNOTATION.file,
    on: 'pod',
    default: 'none',
    accepted: `\`pgpass …\`, \`dotenv …\` or \`template …\` (see [Passwords for tools](#passwords-for-tools)); at most ${MAX_FILES} files`,
    meaning:
      "a file `<mount-path>/<name>` rendered from the tokens in the shape a tool reads (libpq password file, dotenv, free template), rewritten on every refresh; a `pgpass` file makes the sidecar run as the app containers' `runAsUser`",
  },
  tokenExpiration: {
    key: ANNOTATION.tokenExpiration,
    parse: (raw: string): AnnotationParse<number> => {
      const parsed = parseTokenExpiration(raw);
      return 'problem' in parsed ? { ok: false, problem: `${parsed.problem}, got ${quoted(raw)}` } : { ok: true, value: parsed.seconds };
    },
    on: 'pod',
    default: String(TOKEN_EXPIRATION_MIN),
    accepted: `whole seconds, ${TOKEN_EXPIRATION_MIN}–${TOKEN_EXPIRATION_MAX}`,
    meaning: '`expirationSeconds` of the projected service-account token the sidecar exchanges',
  },
  skipContainers: {
    key: ANNOTATION.skipContainers,
    parse: (raw: string): AnnotationParse<Set<string>> => ({ ok: true, value: parseSkipContainers(raw) }),
    on: 'pod',
    default: 'none',
    accepted: 'container names separated by `,` or `;`',
    meaning: 'containers (and init containers) that get neither the environment nor the token mount',
  },
  mode: {
    key: ANNOTATION.mode,
    parse: (raw: string): AnnotationParse<InjectionMode> => {
      const v = raw.trim().toLowerCase();
      return (INJECTION_MODES as readonly string[]).includes(v)
        ? { ok: true, value: v as InjectionMode }
        : { ok: false, problem: `must be one of ${INJECTION_MODES.join(', ')}, got ${quoted(raw)}` };
    },
    on: 'pod',
    default: '`native` on Kubernetes ≥ 1.32, else `container`; `init-only` instead of `container` when `restartPolicy` is not `Always` (Jobs)',
    accepted: '`native`, `container`, `init-only`',
    meaning:
      '`native`: first init container with `restartPolicy: Always` and a startup probe; `container`: first container with a postStart wait, plus a `sidecar --once` init container; `init-only`: one `sidecar --once` init container, files only',
  },
  port: {
    key: ANNOTATION.port,
    parse: (raw: string, { settings }: AnnotationContext): AnnotationParse<number> => {
      const v = raw.trim();
      const n = /^\d{1,5}$/.test(v) ? Number(v) : Number.NaN;
      if (!(n >= 1024 && n <= 65535)) return { ok: false, problem: `must be a port from 1024 to 65535, got ${quoted(raw)}` };
      if (n === settings.healthPort) return { ok: false, problem: `must differ from the sidecar health port ${settings.healthPort}` };
      return { ok: true, value: n };
    },
    on: 'pod',
    default: 'webhook `--sidecar-port` (42350)',
    accepted: '1024–65535, not the health port',
    meaning: 'loopback port of the token endpoint',
  },
  mountPath: {
    key: ANNOTATION.mountPath,
    parse: (raw: string): AnnotationParse<string> => {
      const v = raw.trim();
      const problem = checkMountPath(v);
      return problem ? { ok: false, problem: `${problem}, got ${quoted(raw)}` } : { ok: true, value: v.replace(/\/+$/, '') };
    },
    on: 'pod',
    default: 'webhook `--token-dir` (`/var/run/secrets/entra`)',
    accepted: 'an absolute path without `..`',
    meaning: 'where the token files are mounted (read-only) in app and init containers',
  },
  cpuRequest: {
    key: ANNOTATION.cpuRequest,
    ...quantityRecord('10m or 0.1'),
    on: 'pod',
    default: 'webhook `--sidecar-cpu-request` (10m)',
    accepted: 'a Kubernetes quantity above 0',
    meaning: "sidecar's CPU request",
  },
  memoryRequest: {
    key: ANNOTATION.memoryRequest,
    ...quantityRecord('48Mi or 128M'),
    on: 'pod',
    default: 'webhook `--sidecar-memory-request` (48Mi)',
    accepted: 'a quantity above 0, at most the memory limit',
    meaning: "sidecar's memory request",
  },
  memoryLimit: {
    key: ANNOTATION.memoryLimit,
    ...quantityRecord('48Mi or 128M'),
    on: 'pod',
    default: 'webhook `--sidecar-memory-limit` (96Mi)',
    accepted: 'a quantity, at least the memory request',
    meaning: "sidecar's memory limit",
  },
  injectEnv: {
    key: ANNOTATION.injectEnv,
    ...boolRecord,
    on: 'pod',
    default: 'true',
    accepted: '`true` or `false`',
    meaning: '`false`: app containers get only `ENTRA_TOKEN_DIR` (no `IDENTITY_ENDPOINT`, `IDENTITY_HEADER`, `AZURE_CLIENT_ID`); files only',
  },
  msiEndpoint: {
    key: ANNOTATION.msiEndpoint,
    ...boolRecord,
    on: 'pod',
    default: 'false',
    accepted: '`true` or `false`',
    meaning: '`true`: also set `MSI_ENDPOINT` (same URL), for the Azure CLI',
  },
  clientSecret: {
    key: ANNOTATION.clientSecret,
    on: 'pod',
    default: 'absent (federation)',
    accepted: "`<secret-name>[/<key>]`: a Secret in the pod's namespace; key default `client-secret`",
    meaning:
      'clusters without federation: the sidecar authenticates with the client secret in that key, mounted read-only into the sidecar only; no service-account token is mounted',
  },
  clientCertificate: {
    key: ANNOTATION.clientCertificate,
    on: 'pod',
    default: 'absent (federation)',
    accepted: '`<secret-name>` (a `kubernetes.io/tls` Secret) or `<secret-name>/<key>` (PEM with certificate and key, or PKCS#12 without password)',
    meaning:
      'clusters without federation: the sidecar authenticates with this certificate (SHA-256 thumbprint), mounted read-only into the sidecar only; not together with `client-secret` or `token-expiration`',
  },
  status: {
    key: ANNOTATION.status,
    on: 'pod (written)',
    default: '',
    accepted: '`injected`',
    meaning:
      "set by the webhook, with the label `entra-sidecar.io/injected=true`; a later pass checks the sidecar against what it would inject and only tops up containers added since. A pod that carries either without the webhook's work is denied",
  },
} as const satisfies { [K in keyof typeof ANNOTATION]: AnnotationRecord };

/** The annotation table, in README order. */
export const ANNOTATION_REFERENCE: readonly AnnotationDoc[] = Object.values(ANNOTATION_RECORDS);

/** Renders `ANNOTATION_REFERENCE` as a Markdown table. */
export function renderAnnotationTable(): string {
  const rows = ANNOTATION_REFERENCE.map((a) => `| \`${a.key}\` | ${a.on} | ${a.default} | ${a.accepted} | ${a.meaning} |`);
  return ['| annotation | on | default | accepted values | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** Resolved per-pod injection options. */
export interface InjectionOptions {
  clientId: string;
  tenantId: string;
  tokens: Target[];
  /** rendered files: name → spec as annotated (validated) */
  files: Record<string, string>;
  /** set by the mutation when a password file needs the sidecar to run as the app's user */
  runAsUser?: number;
  tokenExpirationSeconds: number;
  mode: InjectionMode;
  port: number;
  mountPath: string;
  cpuRequest: string;
  memoryRequest: string;
  memoryLimit: string;
  app: AppOptions;
  /** a client secret or certificate from a Secret instead of the projected service-account token */
  clientCredential?: ClientCredentialRef;
}

/** The options that decide what app containers get (also re-read on reinvocation). */
export interface AppOptions {
  skipContainers: Set<string>;
  injectEnv: boolean;
  msiEndpoint: boolean;
}

export interface ServiceAccountRef {
  namespace: string;
  name: string;
  annotations: Record<string, string>;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };

const RESERVED_PATHS = ['/var/run/secrets/kubernetes.io/serviceaccount', '/var/run/secrets/entra-sidecar'];

/** True when the pod opted in: `entra-sidecar.io/inject: "true"`, case-insensitive. */
export function isOptedIn(annotations: Record<string, string> | undefined): boolean {
  const v = annotations?.[ANNOTATION.inject];
  return typeof v === 'string' && v.trim().toLowerCase() === 'true';
}

function quoted(value: string): string {
  return `"${truncate(value)}"`;
}

/** Splits `a,b;c` into names; empty entries are ignored. */
export function parseSkipContainers(value: string | undefined): Set<string> {
  const names = new Set<string>();
  if (value === undefined) return names;
  for (const n of value.split(/[,;]/)) {
    const t = n.trim();
    if (t) names.add(t);
  }
  return names;
}

/** Parses the app-side options (`skip-containers`, `inject-env`, `msi-endpoint`). */
function parseAppOptions(annotations: Record<string, string>, ctx: AnnotationContext): Parsed<AppOptions> {
  const problems: string[] = [];
  const injectEnv = readAnnotation(annotations, ANNOTATION_RECORDS.injectEnv, ctx, true, problems);
  const msiEndpoint = readAnnotation(annotations, ANNOTATION_RECORDS.msiEndpoint, ctx, false, problems);
  const skipContainers = readAnnotation(annotations, ANNOTATION_RECORDS.skipContainers, ctx, new Set<string>(), problems);
  if (problems.length) return { ok: false, problems };
  return { ok: true, value: { skipContainers, injectEnv, msiEndpoint } };
}

/**
 * Reads one annotation through its record's parser: the default when the pod does not set it;
 * otherwise the parsed value, or the default and a problem naming the annotation.
 */
function readAnnotation<T>(pod: Record<string, string>, record: AnnotationDoc & WithParser<T>, ctx: AnnotationContext, dflt: T, problems: string[]): T {
  const raw = pod[record.key];
  if (raw === undefined) return dflt;
  const r = record.parse(raw, ctx);
  if (r.ok) return r.value;
  problems.push(`annotation ${record.key} ${r.problem}`);
  return dflt;
}

/** Checks a mount path: absolute, normalised, not `/`, not over or under a reserved path. */
export function checkMountPath(path: string): string | undefined {
  if (!path.startsWith('/') || path === '/') return 'must be an absolute path other than /';
  if (path.length > 256) return 'must be at most 256 characters';
  if (/[:\s\\]/.test(path) || path.split('/').some((seg, i, all) => seg === '..' || seg === '.' || (seg === '' && i > 0 && i < all.length - 1))) {
    return 'must be a plain absolute path (no "..", ".", "//", ":" or spaces)';
  }
  const p = path.replace(/\/+$/, '');
  for (const r of RESERVED_PATHS) {
    if (p === r || p.startsWith(`${r}/`) || r.startsWith(`${p}/`)) return `must not overlap ${r}`;
  }
  return undefined;
}

/**
 * Resolves a pod's injection options from its annotations, its ServiceAccount's annotations and
 * the webhook settings. Collects every problem, so one denial names them all.
 *
 * @example
 * const r = parseInjectionOptions({ 'entra-sidecar.io/inject': 'true' }, sa, settings, undefined);
 * if (!r.ok) deny(r.problems.join('; '));
 */
export function parseInjectionOptions(
  pod: Record<string, string>,
  serviceAccount: ServiceAccountRef | undefined,
  settings: MutationSettings,
  restartPolicy: string | undefined,
): Parsed<InjectionOptions> {
  const problems: string[] = [];
  const sa = serviceAccount?.annotations ?? {};
  const saName = serviceAccount ? `ServiceAccount ${serviceAccount.namespace}/${serviceAccount.name}` : 'the ServiceAccount';

  const pick = (sources: Array<[Record<string, string>, string, string]>): { value: string; where: string } | undefined => {
    for (const [map, key, where] of sources) {
      const v = map[key];
      if (v !== undefined && v.trim() !== '') return { value: v.trim(), where: `${where} annotation ${key}` };
    }
    return undefined;
  };

  const client = pick([
    [pod, ANNOTATION.clientId, 'pod'],
    [sa, ANNOTATION.clientId, saName],
    [sa, AZURE_WORKLOAD_IDENTITY.clientId, saName],
  ]);
  let clientId = '';
  if (!client) {
    problems.push(
      `no client id: set the pod annotation ${ANNOTATION.clientId}, or the annotation ${ANNOTATION.clientId} (or ${AZURE_WORKLOAD_IDENTITY.clientId}) on ${saName}, to the application (client) id of the Entra app or managed identity`,
    );
  } else {
    const checked = checkClientId(client.value);
    if (!checked.ok) problems.push(`${client.where} ${checked.problem}, got ${quoted(client.value)}`);
    else clientId = checked.value;
  }

  const tenant = pick([
    [pod, ANNOTATION.tenantId, 'pod'],
    [sa, ANNOTATION.tenantId, saName],
    [sa, AZURE_WORKLOAD_IDENTITY.tenantId, saName],
  ]);
  let tenantId = settings.defaultTenantId ?? '';
  if (tenant) {
    const checked = checkTenantId(tenant.value);
    if (!checked.ok) problems.push(`${tenant.where} ${checked.problem}, got ${quoted(tenant.value)}`);
    else tenantId = checked.value;
  } else if (!tenantId) {
    problems.push(
      `no tenant id: set the pod annotation ${ANNOTATION.tenantId}, or ${ANNOTATION.tenantId} (or ${AZURE_WORKLOAD_IDENTITY.tenantId}) on ${saName}, or install the webhook with a default tenant (--default-tenant-id)`,
    );
  }

  const ctx: AnnotationContext = { settings };
  const read = <T>(record: AnnotationDoc & WithParser<T>, dflt: T): T => readAnnotation(pod, record, ctx, dflt, problems);
  const tokens = read(ANNOTATION_RECORDS.tokens, []);

  let files: Record<string, string> = {};
  const filesParsed = parseFileAnnotations(
    pod,
    tokens.map((t) => t.name),
  );
  if (!filesParsed.ok) problems.push(...filesParsed.problems);
  else files = filesParsed.value.specs;

  const tokenExpirationSeconds = read(ANNOTATION_RECORDS.tokenExpiration, settings.tokenExpirationSeconds);
  // without the annotation, a Job's pod (restartPolicy not Always) gets init-only instead of container
  const defaultMode = settings.mode === 'container' && restartPolicy !== undefined && restartPolicy !== 'Always' ? 'init-only' : settings.mode;
  const mode = read<InjectionMode>(ANNOTATION_RECORDS.mode, defaultMode);
  if (mode === 'init-only' && tokens.length === 0 && !problems.some((p) => p.startsWith(`annotation ${ANNOTATION.tokens}`))) {
    const why =
      pod[ANNOTATION.mode] === undefined
        ? `this pod runs in init-only mode because its restartPolicy is ${restartPolicy} and the webhook's default mode is container (a sidecar container would keep a Job from completing); `
        : '';
    problems.push(
      `${why}init-only fetches only the targets named in ${ANNOTATION.tokens}, and there are none: add name=scope pairs to ${ANNOTATION.tokens}, or set ${ANNOTATION.mode} to native (Kubernetes 1.29+)`,
    );
  }

  const port = read(ANNOTATION_RECORDS.port, settings.port);
  const mountPath = read(ANNOTATION_RECORDS.mountPath, settings.tokenDir);
  // the webhook's defaults go through the same parser: the request is compared with the limit
  const quantity = (record: AnnotationDoc & WithParser<{ text: string; value: number }>, dflt: string) => {
    const raw = pod[record.key] ?? dflt;
    return readAnnotation({ [record.key]: raw }, record, ctx, { text: raw.trim(), value: Number.NaN }, problems);
  };
  const cpu = quantity(ANNOTATION_RECORDS.cpuRequest, settings.cpuRequest);
  const memReq = quantity(ANNOTATION_RECORDS.memoryRequest, settings.memoryRequest);
  const memLim = quantity(ANNOTATION_RECORDS.memoryLimit, settings.memoryLimit);
  if (memReq.value > memLim.value) {
    problems.push(
      `the sidecar memory request ${memReq.text} is above its limit ${memLim.text}: lower ${ANNOTATION.memoryRequest} or raise ${ANNOTATION.memoryLimit}`,
    );
  }

  const app = parseAppOptions(pod, ctx);
  if (!app.ok) problems.push(...app.problems);
  const credential = parseClientCredential(pod, [ANNOTATION.tokenExpiration]);
  if (!credential.ok) problems.push(...credential.problems);

  if (problems.length > 0 || !app.ok || !credential.ok) return { ok: false, problems };
  return {
    ok: true,
    value: {
      clientId,
      tenantId,
      tokens,
      files,
      tokenExpirationSeconds,
      mode,
      port,
      mountPath,
      cpuRequest: cpu.text,
      memoryRequest: memReq.text,
      memoryLimit: memLim.text,
      app: app.value,
      ...(credential.value ? { clientCredential: credential.value } : {}),
    },
  };
}
