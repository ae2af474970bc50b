/**
 * Property test of the rendered-file parser (`entra-sidecar.io/file.<name>` annotations and
 * `ENTRA_SIDECAR_FILES`) and of the renderer: random specs built from real fields, near misses
 * and garbage. Every spec is either accepted — and then renders to what its kind promises for any
 * token — or refused with one short line; never an exception. Seeded and bounded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FILE_KINDS, MAX_RENDERED_BYTES, parseFileSpec, parseFilesSetting, TOKEN_FIELDS, type FileSpec } from '../../src/contract/rendered-files.js';
import { renderFile, type TokenFacts } from '../../src/sidecar/render.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed8);
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const TARGETS = ['pg', 'kv', 'pg.replica'];

const garbage = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(
    '',
    ' ',
    '\t',
    '\n',
    '\r\n',
    '=',
    '"',
    '\\',
    '\\"',
    ':',
    '*',
    '{{',
    '}}',
    '{{ }}',
    '|',
    '\u0000',
    '\u2028',
    '😀',
    'a b',
    '"a b"',
    '"unclosed',
  ),
);
const ref = fc
  .oneof(fc.constantFrom(...TARGETS, 'sql', '', 'pg.'), garbage)
  .chain((t) => fc.oneof(fc.constantFrom(...TOKEN_FIELDS, 'password', ''), garbage).map((f) => `${t}.${f}`));
const value = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom('pg', 'kv', 'h', 'db.example.com', '5432', '0', '70000', '*', 'a:b\\c', '"DB Admins"', '"a\\"b"', 'app@contoso.com'),
  },
  { weight: 1, arbitrary: garbage },
);
const field = fc
  .tuple(fc.oneof(fc.constantFrom('target', 'host', 'port', 'database', 'user', 'PGPASSWORD', 'A_1', '1X', ''), garbage), fc.oneof(value, ref))
  .map(([k, v]) => `${k}=${v}`);
const sep = fc.constantFrom(' ', '  ', '\n', '\t', '');
const fieldsBody = fc.array(fc.tuple(field, sep), { maxLength: 7 }).map((fs) => fs.map(([f, s]) => f + s).join(''));
const placeholder = fc
  .tuple(ref, fc.array(fc.constantFrom('json', 'url', 'upper', ''), { maxLength: 2 }), sep)
  .map(([r, filters, s]) => `{{${s}${[r, ...filters].join(' | ')}${s}}}`);
const templateBody = fc.array(fc.oneof(placeholder, garbage, fc.constantFrom('{{ "{{" }}', 'text\n', '}}', '{{')), { maxLength: 8 }).map((ps) => ps.join(''));
const kindWord = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...FILE_KINDS, 'PGPASS') },
  { weight: 1, arbitrary: fc.oneof(garbage, fc.constantFrom('netrc', 'pgpas')) },
);
const randomSpec = fc.tuple(kindWord, sep, fc.oneof(fieldsBody, templateBody)).map(([k, s, b]) => `${k}${s === '' ? ' ' : s}${b}`);
/** Mostly valid specs, with one field replaced or added at random. */
const goodRef = fc.tuple(fc.constantFrom(...TARGETS), fc.constantFrom(...TOKEN_FIELDS)).map(([t, f]) => `${t}.${f}`);
const pgpassSpec = fc
  .tuple(fc.constantFrom(...TARGETS), value, value, value, value, fc.option(field, { nil: undefined }))
  .map(
    ([t, h, p, d, u, extra]) => `pgpass target=${t} host=${h} ${/^\d+$|^\*$/.test(p) ? `port=${p} ` : ''}database=${d} user=${u}${extra ? ` ${extra}` : ''}`,
  );
const dotenvSpec = fc
  .array(fc.tuple(fc.constantFrom('PGPASSWORD', 'A', '_B2', 'X'), goodRef), { minLength: 1, maxLength: 4 })
  .map((es) => `dotenv ${es.map(([n, r]) => `${n}=${r}`).join(' ')}`);
const spec = fc.oneof(randomSpec, pgpassSpec, dotenvSpec);
const fileName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('pgpass', 'app.env', 'conf.ini', 'pg', 'pg.json', 'x.tmp-0123456789ab') },
  { weight: 1, arbitrary: garbage },
);

/** Tokens with every character libpq, dotenv and templates must treat carefully. */
const token = fc.oneof(
  fc.string({ minLength: 1, maxLength: 200 }),
  fc.constantFrom('eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2ln', 'a:b', 'a\\b', '\\:', '*', "it's", '$HOME', 'a\nb', '"q"', '#c'),
);

/** libpq's reading of one password file line: fields split at unescaped `:`, `\x` is `x`. */
function libpqFields(line: string): string[] {
  const out = [''];
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '\\' && i + 1 < line.length) out[out.length - 1] += line[++i];
    else if (c === ':') out.push('');
    else out[out.length - 1] += c;
  }
  return out;
}

function checkRendered(s: FileSpec, facts: Map<string, TokenFacts>): void {
  const r = renderFile(s, facts);
  if (!r.ok) {
    expect(r.problem).not.toMatch(/[\r\n]/);
    for (const f of facts.values()) if (f.token.length >= 8) expect(r.problem, 'a problem never quotes a token').not.toContain(f.token);
    return;
  }
  expect(Buffer.byteLength(r.content)).toBeLessThanOrEqual(MAX_RENDERED_BYTES);
  if (s.kind === 'pgpass') {
    const tok = (facts.get(s.target) as TokenFacts).token;
    expect(r.content.endsWith('\n')).toBe(true);
    const line = r.content.slice(0, -1);
    expect(line).not.toMatch(/[\r\n]/);
    expect(libpqFields(line)).toEqual([s.host, s.port, s.database, s.user, tok]);
  } else if (s.kind === 'dotenv') {
    const lines = r.content.match(/^[A-Za-z_][A-Za-z0-9_]*='[^'\\$]*'$/gm) ?? [];
    expect(lines.length).toBe(s.entries.length);
  }
}

describe('rendered-file specs fuzz', () => {
  it(`random specs (seed ${SEED}, ${RUNS} runs): accepted and rendered as promised, or refused in one line; never an exception`, () => {
    const seen = { ok: new Map<string, number>(), refused: 0 };
    fc.assert(
      fc.property(fileName, spec, fc.array(token, { minLength: 3, maxLength: 3 }), (name, text, toks) => {
        const r = parseFileSpec(name, text, TARGETS);
        if (!r.ok) {
          seen.refused++;
          expect(r.problem, 'one line').not.toMatch(/[\r\n]/);
          expect(r.problem.length).toBeLessThan(600);
          return;
        }
        seen.ok.set(r.value.kind, (seen.ok.get(r.value.kind) ?? 0) + 1);
        expect(r.value.name).toBe(name);
        const facts = new Map(
          TARGETS.map((t, i): [string, TokenFacts] => [t, { token: toks[i] as string, expiresOnMs: 1_800_000_000_123, scope: `https://${t}/.default` }]),
        );
        checkRendered(r.value, facts);
        // the sidecar's setting reads what the webhook accepted, the same way
        const again = parseFilesSetting(JSON.stringify({ [name]: text }), TARGETS);
        expect(again).toEqual({ ok: true, value: [r.value] });
      }),
      { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: 20_000 },
    );
    // the generator reaches every kind, accepted, and refusals
    expect([...seen.ok.keys()].sort(), JSON.stringify([...seen.ok])).toEqual(['dotenv', 'pgpass', 'template']);
    expect(seen.refused).toBeGreaterThan(RUNS / 10);
  });
});
