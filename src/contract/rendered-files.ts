/**
 * Rendered files: token files in the shape a tool already reads — a libpq password file, a dotenv
 * file, or a free template. A pod asks for one with the annotation `entra-sidecar.io/file.<name>`;
 * the webhook hands all of them to the sidecar in `ENTRA_SIDECAR_FILES` (a JSON object
 * `{"<name>": "<spec>"}`), and both sides read them with `parseFileSpecs`, so a pod is admitted
 * only with files its sidecar will render.
 *
 * A spec is a kind word, then the kind's body:
 *
 *     pgpass target=pg host=db.postgres.database.azure.com port=5432 database=* user=app
 *     dotenv PGPASSWORD=pg.token PGPASSWORD_EXPIRES_ON=pg.expires_on
 *     template <text with {{ pg.token }}, {{ pg.expires_at }}, {{ pg.scope | url }}>
 *
 * `pgpass` and `dotenv` bodies are `key=value` fields separated by whitespace; a value with spaces
 * is double-quoted (`user="DB Admins"`, with `\"` and `\\` inside). A template's body is the text
 * after the single space or line break that follows `template`, kept verbatim. Placeholders name a
 * token target and a field; nothing else can be reached (no code, no files, no environment).
 */

/** The annotation prefix; the rest of the key is the file name. */
export const FILE_ANNOTATION_PREFIX = 'entra-sidecar.io/file.';

export const FILE_KINDS = ['pgpass', 'dotenv', 'template'] as const;
export type FileKind = (typeof FILE_KINDS)[number];

/**
 * What a placeholder can read from a target's token: the token itself, its expiry as unix seconds
 * (`expires_on`, as in the `<name>.json` file) and as RFC 3339 UTC (`expires_at`), and its scope.
 */
export const TOKEN_FIELDS = ['token', 'expires_on', 'expires_at', 'scope'] as const;
export type TokenField = (typeof TOKEN_FIELDS)[number];

/** Template filters: `json` (a JSON string, quotes included) and `url` (percent-encoded). */
export const TEMPLATE_FILTERS = ['json', 'url'] as const;
export type TemplateFilter = (typeof TEMPLATE_FILTERS)[number];

/** Most rendered files per pod (each is rewritten on every refresh of its targets). */
export const MAX_FILES = 8;
/** Longest spec (annotation value), in characters. */
export const MAX_SPEC_CHARS = 16 * 1024;
/** Most placeholders in one template, and most variables in one dotenv file. */
export const MAX_PLACEHOLDERS = 128;
/** Largest rendered file, in bytes (the token folder is a 1 MiB in-memory volume). */
export const MAX_RENDERED_BYTES = 64 * 1024;
/** libpq ignores a password file that group or others can read: always `0600`. */
export const PASSWORD_FILE_MODE = 0o600;

/** A reference to one field of one target's token. */
export interface TokenRef {
  target: string;
  field: TokenField;
}

export type TemplatePart = { text: string } | { ref: TokenRef; filters: TemplateFilter[] };

/** One libpq password file entry (`hostname:port:database:username:password`); `*` matches any. */
export interface PgpassSpec {
  name: string;
  kind: 'pgpass';
  target: string;
  host: string;
  port: string;
  database: string;
  user: string;
}

export interface DotenvSpec {
  name: string;
  kind: 'dotenv';
  entries: { variable: string; ref: TokenRef }[];
}

export interface TemplateSpec {
  name: string;
  kind: 'template';
  parts: TemplatePart[];
}

export type FileSpec = PgpassSpec | DotenvSpec | TemplateSpec;

type Result<T> = { ok: true; value: T } | { ok: false; problem: string };

const FILE_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9._-]{0,56}[a-zA-Z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** control characters other than tab and line feed (those only where a kind allows them) */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

function quote(value: string): string {
  const clean = value.replace(/[\r\n\t]/g, ' ');
  return `"${clean.length > 60 ? `${clean.slice(0, 60)}…` : clean}"`;
}

const list = (items: readonly string[]): string => (items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`);

/** The targets a file reads, once each. */
export function targetsUsed(spec: FileSpec): string[] {
  if (spec.kind === 'pgpass') return [spec.target];
  const refs = spec.kind === 'dotenv' ? spec.entries.map((e) => e.ref) : spec.parts.flatMap((p) => ('ref' in p ? [p.ref] : []));
  return [...new Set(refs.map((r) => r.target))];
}

/** The mode a file is written with: `0600` for a password file, else the token files' mode. */
export function fileModeOf(spec: FileSpec, tokenFileMode: number): number {
  return spec.kind === 'pgpass' ? PASSWORD_FILE_MODE : tokenFileMode;
}

/**
 * Checks a rendered file's name: a plain file name of 1–58 characters (the annotation key's name
 * part holds at most 63, `file.` included), not a token file's name.
 *
 * @example
 * checkFileName('pgpass', ['pg']) // undefined (fine)
 * checkFileName('pg.json', ['pg']) // 'is the name of a token file …'
 */
export function checkFileName(name: string, targets: readonly string[]): string | undefined {
  if (!FILE_NAME.test(name)) return `has file name ${quote(name)}: use 1–58 letters, digits, '.', '_' or '-', starting and ending with a letter or digit`;
  if (/\.tmp-[0-9a-f]{12}$/.test(name)) return `has file name ${quote(name)}, which looks like the sidecar's temporary files: pick another name`;
  const clash = targets.find((t) => name === t || name === `${t}.json`);
  if (clash !== undefined) return `has file name "${name}", which is the name of token target ${clash}'s own file: pick another name`;
  return undefined;
}

/**
 * Splits `key=value key="value with spaces"` into pairs. Inside double quotes `\"` is a quote and
 * `\\` a backslash; outside, a value ends at whitespace.
 */
function splitFields(body: string): Result<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  let i = 0;
  const n = body.length;
  while (i < n) {
    while (i < n && /\s/.test(body[i] as string)) i++;
    if (i >= n) break;
    const keyStart = i;
    while (i < n && body[i] !== '=' && !/\s/.test(body[i] as string)) i++;
    const key = body.slice(keyStart, i);
    if (body[i] !== '=' || key === '')
      return { ok: false, problem: `has ${quote(body.slice(keyStart, keyStart + 40))}: each field must be key=value (quote a value with spaces: key="a b")` };
    i++;
    let value = '';
    if (body[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const c = body[i] as string;
        if (c === '\\' && (body[i + 1] === '"' || body[i + 1] === '\\')) {
          value += body[i + 1];
          i += 2;
        } else if (c === '"') {
          closed = true;
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) return { ok: false, problem: `has an unclosed quote in the value of ${key}: end it with "` };
      if (i < n && !/\s/.test(body[i] as string))
        return { ok: false, problem: `has text right after the closing quote of ${key}: separate fields with a space` };
    } else {
      const start = i;
      while (i < n && !/\s/.test(body[i] as string)) i++;
      value = body.slice(start, i);
      if (value.includes('"')) return { ok: false, problem: `has a quote inside the value of ${key}: quote the whole value, key="…", with \\" for a quote` };
    }
    out.push([key, value]);
  }
  return { ok: true, value: out };
}

/** Parses `target.field` (the target name may itself hold dots: the field is after the last one). */
function parseRef(text: string, targets: readonly string[]): Result<TokenRef> {
  const dot = text.lastIndexOf('.');
  const target = dot > 0 ? text.slice(0, dot) : '';
  const field = dot > 0 ? text.slice(dot + 1) : '';
  if (!target || !(TOKEN_FIELDS as readonly string[]).includes(field)) {
    return { ok: false, problem: `has ${quote(text)}: a reference is <target>.<field> with field ${list(TOKEN_FIELDS)}, e.g. pg.token` };
  }
  if (!targets.includes(target)) return { ok: false, problem: unknownTarget(target, targets) };
  return { ok: true, value: { target, field: field as TokenField } };
}

function unknownTarget(target: string, targets: readonly string[]): string {
  const known = targets.length > 0 ? `the token targets are ${targets.join(', ')}` : 'there are no token targets';
  return `names target ${quote(target)}, which is not a token target (${known}): add ${target}=<scope> to the tokens, or name one of them`;
}

const PGPASS_FIELDS = ['target', 'host', 'port', 'database', 'user'] as const;

function parsePgpass(name: string, body: string, targets: readonly string[]): Result<PgpassSpec> {
  const example = 'e.g. pgpass target=pg host=db.postgres.database.azure.com port=5432 database=* user=app';
  const fields = splitFields(body);
  if (!fields.ok) return fields;
  const got: Partial<Record<(typeof PGPASS_FIELDS)[number], string>> = {};
  for (const [key, value] of fields.value) {
    if (!(PGPASS_FIELDS as readonly string[]).includes(key))
      return { ok: false, problem: `has the unknown field ${quote(key)}: a pgpass file takes ${list(PGPASS_FIELDS)}` };
    const k = key as (typeof PGPASS_FIELDS)[number];
    if (got[k] !== undefined) return { ok: false, problem: `sets ${k} twice` };
    if (value === '') return { ok: false, problem: `has an empty ${k}: give a value, or * to match any` };
    if (CONTROL.test(value) || /[\n\t]/.test(value)) return { ok: false, problem: `has a control character, tab or line break in ${k}` };
    got[k] = value;
  }
  const missing = (['target', 'host', 'user'] as const).filter((k) => got[k] === undefined);
  if (missing.length > 0) return { ok: false, problem: `needs ${list(missing.map((m) => `${m}=`))} (port= and database= default to *), ${example}` };
  const port = got.port ?? '*';
  if (port !== '*' && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535))
    return { ok: false, problem: `has port ${quote(port)}: use a port number from 1 to 65535, or * to match any` };
  const target = got.target as string;
  if (!targets.includes(target)) return { ok: false, problem: unknownTarget(target, targets) };
  return { ok: true, value: { name, kind: 'pgpass', target, host: got.host as string, port, database: got.database ?? '*', user: got.user as string } };
}

function parseDotenv(name: string, body: string, targets: readonly string[]): Result<DotenvSpec> {
  const fields = splitFields(body);
  if (!fields.ok) return fields;
  if (fields.value.length === 0) return { ok: false, problem: 'names no variables: write NAME=<target>.<field> pairs, e.g. dotenv PGPASSWORD=pg.token' };
  if (fields.value.length > MAX_PLACEHOLDERS) return { ok: false, problem: `has ${fields.value.length} variables; at most ${MAX_PLACEHOLDERS} are allowed` };
  const entries: DotenvSpec['entries'] = [];
  for (const [variable, value] of fields.value) {
    if (!ENV_NAME.test(variable)) return { ok: false, problem: `has variable name ${quote(variable)}: use letters, digits and _, not starting with a digit` };
    if (entries.some((e) => e.variable === variable)) return { ok: false, problem: `sets ${variable} twice` };
    const ref = parseRef(value, targets);
    if (!ref.ok) return { ok: false, problem: `${ref.problem} (in ${variable})` };
    entries.push({ variable, ref: ref.value });
  }
  return { ok: true, value: { name, kind: 'dotenv', entries } };
}

const PLACEHOLDER_HELP = `a placeholder is {{ <target>.<field> }} (fields ${list(TOKEN_FIELDS)}), optionally with | json or | url, or {{ "text" }} for literal text such as {{ "{{" }}`;

function parseTemplate(name: string, body: string, targets: readonly string[]): Result<TemplateSpec> {
  if (body === '') return { ok: false, problem: 'has an empty template: write the text after "template " (a space or a line break)' };
  if (body.includes('\u0000')) return { ok: false, problem: 'has a NUL character in the template' };
  const parts: TemplatePart[] = [];
  let placeholders = 0;
  let i = 0;
  const addText = (text: string): void => {
    if (text === '') return;
    const last = parts.at(-1);
    if (last && 'text' in last) last.text += text;
    else parts.push({ text });
  };
  while (i < body.length) {
    const open = body.indexOf('{{', i);
    if (open < 0) {
      addText(body.slice(i));
      break;
    }
    addText(body.slice(i, open));
    const close = body.indexOf('}}', open + 2);
    const line = body.slice(0, open).split('\n').length;
    if (close < 0) return { ok: false, problem: `has {{ without a closing }} on line ${line}: ${PLACEHOLDER_HELP}` };
    if (++placeholders > MAX_PLACEHOLDERS) return { ok: false, problem: `has more than ${MAX_PLACEHOLDERS} placeholders` };
    const inner = body.slice(open + 2, close).trim();
    const literal = /^"([^"]*)"$/.exec(inner);
    if (literal) {
      addText(literal[1] as string);
    } else {
      const [refText = '', ...filterTexts] = inner.split('|').map((s) => s.trim());
      if (refText === '' || /\s/.test(refText)) return { ok: false, problem: `has the placeholder ${quote(inner)} on line ${line}: ${PLACEHOLDER_HELP}` };
      const ref = parseRef(refText, targets);
      if (!ref.ok) return { ok: false, problem: `${ref.problem} (on line ${line})` };
      const filters: TemplateFilter[] = [];
      for (const f of filterTexts) {
        if (!(TEMPLATE_FILTERS as readonly string[]).includes(f))
          return { ok: false, problem: `has the unknown filter ${quote(f)} on line ${line}: filters are ${list(TEMPLATE_FILTERS)}` };
        filters.push(f as TemplateFilter);
      }
      parts.push({ ref: ref.value, filters });
    }
    i = close + 2;
  }
  if (placeholders === 0) return { ok: false, problem: `has no placeholder: ${PLACEHOLDER_HELP}` };
  return { ok: true, value: { name, kind: 'template', parts } };
}

/**
 * Parses one spec (an annotation value) for the file `name`, against the pod's token targets.
 *
 * @example
 * parseFileSpec('pgpass', 'pgpass target=pg host=db port=5432 user=app', ['pg'])
 * // { ok: true, value: { name: 'pgpass', kind: 'pgpass', target: 'pg', host: 'db', port: '5432', database: '*', user: 'app' } }
 */
export function parseFileSpec(name: string, text: string, targets: readonly string[]): Result<FileSpec> {
  const badName = checkFileName(name, targets);
  if (badName) return { ok: false, problem: badName };
  if (text.length > MAX_SPEC_CHARS) return { ok: false, problem: `is ${text.length} characters long; at most ${MAX_SPEC_CHARS} are allowed` };
  const m = /^\s*([A-Za-z]+)(?:[ \t]|\r?\n|$)/.exec(text);
  const kind = m?.[1]?.toLowerCase();
  if (!m || !(FILE_KINDS as readonly string[]).includes(kind as string)) {
    return {
      ok: false,
      problem: `must start with the file kind, ${list(FILE_KINDS)}, then its fields, e.g. "pgpass target=pg host=db.example.com port=5432 database=* user=app"`,
    };
  }
  const body = text.slice(m[0].length);
  if (kind === 'pgpass') return parsePgpass(name, body, targets);
  if (kind === 'dotenv') return parseDotenv(name, body, targets);
  return parseTemplate(name, body, targets);
}

/**
 * Parses every file of a pod, `{name: spec}`, against its token targets: at most `MAX_FILES`.
 * The problem names the file.
 *
 * @example
 * parseFileSpecs({ pgpass: 'pgpass target=pg host=db user=app' }, ['pg']) // { ok: true, value: [ … ] }
 */
export function parseFileSpecs(specs: Readonly<Record<string, string>>, targets: readonly string[]): Result<FileSpec[]> {
  const names = Object.keys(specs);
  if (names.length > MAX_FILES) return { ok: false, problem: `asks for ${names.length} files; at most ${MAX_FILES} are allowed` };
  const out: FileSpec[] = [];
  for (const name of names.sort()) {
    const r = parseFileSpec(name, specs[name] as string, targets);
    if (!r.ok) return { ok: false, problem: `file ${quote(name)} ${r.problem}` };
    out.push(r.value);
  }
  return { ok: true, value: out };
}

/**
 * Reads the sidecar's `ENTRA_SIDECAR_FILES` value: a JSON object of file name → spec. An empty
 * text means no files.
 *
 * @example
 * parseFilesSetting('{"pgpass":"pgpass target=pg host=db user=app"}', ['pg'])
 */
export function parseFilesSetting(text: string, targets: readonly string[]): Result<FileSpec[]> {
  if (text.trim() === '') return { ok: true, value: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'must be a JSON object of file name to spec, e.g. {"pgpass":"pgpass target=pg host=db.example.com user=app"}' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== 'string')) {
    return { ok: false, problem: 'must be a JSON object whose values are strings, e.g. {"pgpass":"pgpass target=pg host=db.example.com user=app"}' };
  }
  return parseFileSpecs(raw as Record<string, string>, targets);
}

/**
 * The `ENTRA_SIDECAR_FILES` value for specs the webhook accepted (sorted by name).
 *
 * @example
 * formatFilesSetting({ pgpass: 'pgpass target=pg host=db user=app' }) // '{"pgpass":"pgpass target=pg host=db user=app"}'
 */
export function formatFilesSetting(specs: Readonly<Record<string, string>>): string {
  return JSON.stringify(
    Object.fromEntries(
      Object.keys(specs)
        .sort()
        .map((k) => [k, specs[k]]),
    ),
  );
}

/**
 * The file specs among a pod's annotations, by file name (`entra-sidecar.io/file.<name>`).
 *
 * @example
 * fileAnnotations({ 'entra-sidecar.io/file.pgpass': 'pgpass …' }) // { pgpass: 'pgpass …' }
 */
export function fileAnnotations(annotations: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(annotations)) {
    if (key.startsWith(FILE_ANNOTATION_PREFIX)) out[key.slice(FILE_ANNOTATION_PREFIX.length)] = value;
  }
  return out;
}
