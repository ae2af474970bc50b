/**
 * Token targets: `name=scope` pairs, each written by the sidecar as the files `<name>` and
 * `<name>.json`. The webhook reads them from the `entra-sidecar.io/tokens` annotation and hands
 * them to the sidecar in `ENTRA_SIDECAR_TOKENS`, both through `parseTargets`.
 */

/** One token target: a file name and the scope it holds. */
export interface Target {
  name: string;
  scope: string;
}

/** Most targets one sidecar holds (each is a refresh loop and two files). */
export const MAX_TARGETS = 32;

const TARGET_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;
const SCOPE = /^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$|^[0-9a-fA-F-]{36}(\/\.default)?$/;

function quote(value: string): string {
  const clean = value.replace(/[\r\n\t]/g, ' ');
  return `"${clean.length > 60 ? `${clean.slice(0, 60)}…` : clean}"`;
}

/**
 * Checks a scope and adds `/.default` when it is missing (a resource URI becomes its `.default`).
 *
 * @example
 * normaliseScope('https://storage.azure.com') // { scope: 'https://storage.azure.com/.default' }
 */
export function normaliseScope(scope: string): { scope: string } | { problem: string } {
  if (!scope) return { problem: 'has an empty scope' };
  if (/\s/.test(scope) || !SCOPE.test(scope)) {
    return { problem: `has scope ${quote(scope)}: a scope is a resource URI followed by /.default, e.g. https://storage.azure.com/.default` };
  }
  return { scope: scope.endsWith('/.default') ? scope : `${scope.replace(/\/+$/, '')}/.default` };
}

/**
 * Parses `name=scope,...`. Names become file names (letters, digits, `.`, `_`, `-`; not ending in
 * `.json`); whitespace around entries is ignored; an empty text means no targets.
 *
 * @example
 * parseTargets('storage=https://storage.azure.com/.default') // { targets: [{ name: 'storage', scope: 'https://storage.azure.com/.default' }] }
 */
export function parseTargets(text: string): { targets: Target[] } | { problem: string } {
  const targets: Target[] = [];
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { problem: `has ${quote(part)}: each target must be name=scope, e.g. storage=https://storage.azure.com/.default` };
    const name = part.slice(0, eq).trim();
    const scope = normaliseScope(part.slice(eq + 1).trim());
    if ('problem' in scope) return scope;
    if (!TARGET_NAME.test(name) || name.endsWith('.json'))
      return { problem: `has target name ${quote(name)}: use letters, digits, '.', '_' or '-' (it becomes a file name)` };
    if (targets.some((t) => t.name === name)) return { problem: `names target "${name}" twice` };
    targets.push({ name, scope: scope.scope });
  }
  if (targets.length > MAX_TARGETS) return { problem: `has ${targets.length} targets; at most ${MAX_TARGETS} are allowed` };
  return { targets };
}

/**
 * Renders targets in the `ENTRA_SIDECAR_TOKENS` form that `parseTargets` reads back.
 *
 * @example
 * formatTargets([{ name: 'pg', scope: 'https://ossrdbms-aad.database.windows.net/.default' }]) // 'pg=https://ossrdbms-aad.database.windows.net/.default'
 */
export function formatTargets(targets: readonly Target[]): string {
  return targets.map((t) => `${t.name}=${t.scope}`).join(',');
}
