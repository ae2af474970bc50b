import { FILE_ANNOTATION_PREFIX, fileAnnotations, MAX_FILES, parseFileSpec, type FileSpec } from '../contract/rendered-files.js';
import type { Container, Pod } from './pod.js';

/** The pod's rendered files: the specs as written (for the sidecar) and as parsed. */
export interface RenderedFilesOptions {
  /** file name → spec text, handed to the sidecar in ENTRA_SIDECAR_FILES */
  specs: Record<string, string>;
  files: FileSpec[];
}

/**
 * Reads the `entra-sidecar.io/file.<name>` annotations with the sidecar's own parser, against the
 * pod's token targets. Every problem names its annotation.
 *
 * @example
 * parseFileAnnotations({ 'entra-sidecar.io/file.pgpass': 'pgpass target=pg host=db user=app' }, ['pg'])
 * // { ok: true, value: { specs: { pgpass: '…' }, files: [ … ] } }
 */
export function parseFileAnnotations(
  annotations: Record<string, string>,
  targets: readonly string[],
): { ok: true; value: RenderedFilesOptions } | { ok: false; problems: string[] } {
  const specs = fileAnnotations(annotations);
  const names = Object.keys(specs).sort();
  if (names.length > MAX_FILES)
    return {
      ok: false,
      problems: [`the pod asks for ${names.length} rendered files (${FILE_ANNOTATION_PREFIX}<name> annotations); at most ${MAX_FILES} are allowed`],
    };
  const problems: string[] = [];
  const files: FileSpec[] = [];
  for (const name of names) {
    const r = parseFileSpec(name, specs[name] as string, targets);
    if (r.ok) files.push(r.value);
    else problems.push(`annotation ${FILE_ANNOTATION_PREFIX}${name} ${r.problem}`);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: { specs, files } };
}

/** The user a container runs as, when the pod spec says: its own runAsUser, else the pod's. */
export function runAsUserOf(pod: Pod, c: Container): number | undefined {
  const own = (c.securityContext as { runAsUser?: unknown } | undefined)?.runAsUser;
  const podLevel = (pod.spec.securityContext as { runAsUser?: unknown } | undefined)?.runAsUser;
  const uid = own ?? podLevel;
  return typeof uid === 'number' && Number.isInteger(uid) && uid >= 0 ? uid : undefined;
}

/**
 * The user the sidecar must run as so that libpq in the app containers accepts a password file.
 * libpq ignores a password file that group or others can read (it must be `0600`), so the app must
 * own it, and only the file's writer can own it without CAP_CHOWN: the sidecar runs as the app
 * containers' runAsUser. Containers running as root (uid 0) read it anyway and are not counted.
 * `uid` is undefined when no password file is asked for, or when every app container is root.
 *
 * @example
 * passwordFileOwner(pod, files, new Set()) // { ok: true, uid: 1000 }
 */
export function passwordFileOwner(
  pod: Pod,
  files: readonly FileSpec[],
  skip: ReadonlySet<string>,
  ownContainers: ReadonlySet<string>,
): { ok: true; uid?: number } | { ok: false; problem: string } {
  const pgpass = files.filter((f) => f.kind === 'pgpass').map((f) => `${FILE_ANNOTATION_PREFIX}${f.name}`);
  if (pgpass.length === 0) return { ok: true };
  const apps = pod.spec.containers.filter((c) => !ownContainers.has(c.name) && !skip.has(c.name));
  const unknown = apps.filter((c) => runAsUserOf(pod, c) === undefined).map((c) => c.name);
  const why = `libpq reads a password file only when it is mode 0600 and owned by the user it runs as, so the sidecar writes ${pgpass.join(', ')} as the app's user`;
  if (unknown.length > 0) {
    return {
      ok: false,
      problem: `${why}, and container(s) ${unknown.join(', ')} have no runAsUser: set securityContext.runAsUser on the pod or on those containers, or list them in entra-sidecar.io/skip-containers`,
    };
  }
  const uids = [...new Set(apps.map((c) => runAsUserOf(pod, c) as number).filter((u) => u !== 0))];
  if (uids.length > 1) {
    const who = apps.map((c) => `${c.name} (${runAsUserOf(pod, c)})`).join(', ');
    return {
      ok: false,
      problem: `${why}, and the containers run as different users: ${who}. Run them as one user, or list the others in entra-sidecar.io/skip-containers`,
    };
  }
  return { ok: true, uid: uids[0] };
}
