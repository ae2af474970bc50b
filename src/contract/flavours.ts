/**
 * The managed-identity protocol flavours the sidecar's endpoint speaks, by their setting names
 * (`ENTRA_SIDECAR_FLAVOURS=app-service,imds,msi`).
 */

/** Setting name → flavour id. Adding a flavour here is a compile error until every table has it. */
export const FLAVOUR_BY_NAME = { 'app-service': 'app_service', imds: 'imds', msi: 'msi' } as const;
export type FlavourName = keyof typeof FLAVOUR_BY_NAME;
export type Flavour = (typeof FLAVOUR_BY_NAME)[FlavourName];
export const FLAVOUR_NAMES = Object.keys(FLAVOUR_BY_NAME) as FlavourName[];
export const FLAVOURS = Object.values(FLAVOUR_BY_NAME) as Flavour[];
/** Every flavour, as the setting's default text. */
export const ALL_FLAVOURS_TEXT = FLAVOUR_NAMES.join(',');

/**
 * Parses a comma-separated list of flavour names (case-insensitive, duplicates ignored).
 *
 * @example
 * parseFlavours('imds, app-service') // { flavours: ['imds', 'app_service'] }
 */
export function parseFlavours(text: string): { flavours: Flavour[] } | { problem: string } {
  const out = new Set<Flavour>();
  const accepted = `${FLAVOUR_NAMES.slice(0, -1).join(', ')} and ${FLAVOUR_NAMES.at(-1)}`;
  for (const name of text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)) {
    if (!Object.hasOwn(FLAVOUR_BY_NAME, name)) return { problem: `has "${name.slice(0, 60)}": accepted flavours are ${accepted}` };
    out.add(FLAVOUR_BY_NAME[name as FlavourName]);
  }
  if (out.size === 0) return { problem: `must name at least one flavour: ${FLAVOUR_NAMES.join(', ')}` };
  return { flavours: [...out] };
}
