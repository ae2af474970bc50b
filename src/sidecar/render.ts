import {
  MAX_RENDERED_BYTES,
  targetsUsed,
  type DotenvSpec,
  type FileSpec,
  type PgpassSpec,
  type TemplateFilter,
  type TemplateSpec,
  type TokenRef,
} from '../contract/rendered-files.js';

/** What a rendered file can read of a target's current token. */
export interface TokenFacts {
  token: string;
  expiresOnMs: number;
  scope: string;
}

/** The file's content, or what keeps it from being rendered (never quoting a token). */
export type Rendered = { ok: true; content: string } | { ok: false; problem: string };

/**
 * Renders one file from the current tokens of its targets. Pure: the same spec and tokens give the
 * same bytes. A problem never contains a token, only which target and field it concerns.
 *
 * @example
 * renderFile(spec, new Map([['pg', { token, expiresOnMs, scope }]]))
 * // { ok: true, content: 'db.example.com:5432:*:app:eyJ0…\n' }
 */
export function renderFile(spec: FileSpec, tokens: ReadonlyMap<string, TokenFacts>): Rendered {
  const missing = targetsUsed(spec).find((t) => !tokens.has(t));
  if (missing !== undefined) return { ok: false, problem: `has no token of target ${missing} yet` };
  const r = spec.kind === 'pgpass' ? renderPgpass(spec, tokens) : spec.kind === 'dotenv' ? renderDotenv(spec, tokens) : renderTemplate(spec, tokens);
  if (r.ok && Buffer.byteLength(r.content, 'utf8') > MAX_RENDERED_BYTES) {
    return { ok: false, problem: `renders to ${Buffer.byteLength(r.content, 'utf8')} bytes; at most ${MAX_RENDERED_BYTES} are allowed` };
  }
  return r;
}

/** A target's token facts; renderFile checked that every target the spec reads is there. */
function facts(tokens: ReadonlyMap<string, TokenFacts>, target: string): TokenFacts {
  return tokens.get(target) as TokenFacts;
}

/** A field's text: the token, expiry as unix seconds or RFC 3339 UTC (whole seconds), the scope. */
function valueFor(ref: TokenRef, tokens: ReadonlyMap<string, TokenFacts>): string {
  const t = facts(tokens, ref.target);
  const seconds = Math.floor(t.expiresOnMs / 1000);
  switch (ref.field) {
    case 'token':
      return t.token;
    case 'expires_on':
      return String(seconds);
    case 'expires_at':
      return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
    case 'scope':
      return t.scope;
  }
}

/**
 * A libpq password file field: `\` and `:` escaped with `\`. A field that is exactly `*` is
 * libpq's wildcard and stays as it is.
 */
export function escapePgpassField(value: string, wildcard: boolean): string {
  if (wildcard && value === '*') return '*';
  return value.replace(/[\\:]/g, (c) => `\\${c}`);
}

function renderPgpass(spec: PgpassSpec, tokens: ReadonlyMap<string, TokenFacts>): Rendered {
  const password = facts(tokens, spec.target).token;
  if (/[\r\n]/.test(password))
    return { ok: false, problem: `cannot hold the token of target ${spec.target}: it has a line break, and a password file entry is one line` };
  const fields = [spec.host, spec.port, spec.database, spec.user].map((f) => escapePgpassField(f, true));
  return { ok: true, content: `${[...fields, escapePgpassField(password, false)].join(':')}\n` };
}

/**
 * A dotenv value in single quotes: the one quoting that dotenv readers (Node's dotenv,
 * python-dotenv, godotenv, Docker Compose) read back the same, literally — `"`, `#`, spaces and
 * line breaks included. A value with `'`, `\` or `$` (which some readers unescape or expand) or a
 * control character cannot be written so that all of them agree, and is refused.
 */
export function dotenvValue(value: string): string | undefined {
  if (/['\\$]/.test(value) || /[\u0000-\u0008\u000b-\u001f\u007f]/.test(value)) return undefined;
  return `'${value}'`;
}

function renderDotenv(spec: DotenvSpec, tokens: ReadonlyMap<string, TokenFacts>): Rendered {
  const lines: string[] = [];
  for (const e of spec.entries) {
    const quoted = dotenvValue(valueFor(e.ref, tokens));
    if (quoted === undefined)
      return {
        ok: false,
        problem: `cannot write ${e.variable}: the ${e.ref.field} of target ${e.ref.target} has a ', \\, $ or control character, which dotenv readers do not read back alike`,
      };
    lines.push(`${e.variable}=${quoted}\n`);
  }
  return { ok: true, content: lines.join('') };
}

function applyFilter(value: string, filter: TemplateFilter): string {
  return filter === 'json' ? JSON.stringify(value) : encodeURIComponent(value);
}

function renderTemplate(spec: TemplateSpec, tokens: ReadonlyMap<string, TokenFacts>): Rendered {
  let out = '';
  for (const part of spec.parts) {
    if ('text' in part) out += part.text;
    else out += part.filters.reduce(applyFilter, valueFor(part.ref, tokens));
    if (out.length > MAX_RENDERED_BYTES) return { ok: false, problem: `renders to more than ${MAX_RENDERED_BYTES} bytes` };
  }
  return { ok: true, content: out };
}
