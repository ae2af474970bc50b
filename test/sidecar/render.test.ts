import dotenv from 'dotenv';
import { describe, expect, it } from 'vitest';
import { parseFileSpec, type FileSpec } from '../../src/contract/rendered-files.js';
import { dotenvValue, renderFile, type TokenFacts } from '../../src/sidecar/render.js';

const TARGETS = ['pg', 'kv'];
const spec = (text: string, name = 'f'): FileSpec => {
  const r = parseFileSpec(name, text, TARGETS);
  if (!r.ok) throw new Error(r.problem);
  return r.value;
};
const EXP = Date.UTC(2026, 11, 3, 13, 12, 0, 999);
const tokens = (pg: string, kv = 'kv-token'): Map<string, TokenFacts> =>
  new Map([
    ['pg', { token: pg, expiresOnMs: EXP, scope: 'https://ossrdbms-aad.database.windows.net/.default' }],
    ['kv', { token: kv, expiresOnMs: EXP + 60_000, scope: 'https://vault.azure.net/.default' }],
  ]);
const render = (text: string, pg = 'eyJ0.pg.sig'): string => {
  const r = renderFile(spec(text), tokens(pg));
  if (!r.ok) throw new Error(r.problem);
  return r.content;
};

describe('libpq password file', () => {
  it('one line host:port:database:user:password, * kept as the wildcard', () => {
    expect(render('pgpass target=pg host=db.example.com port=5432 user=app')).toBe('db.example.com:5432:*:app:eyJ0.pg.sig\n');
  });

  it('escapes : and \\ in every field and in the password', () => {
    expect(render('pgpass target=pg host=h port=5432 database=a:b user=ent\\ra:app', 'p:w\\d')).toBe('h:5432:a\\:b:ent\\\\ra\\:app:p\\:w\\\\d\n');
  });

  it('refuses a token with a line break, without quoting it', () => {
    const r = renderFile(spec('pgpass target=pg host=h user=u'), tokens('SECRET-PART\nmore'));
    expect(r).toEqual({ ok: false, problem: 'cannot hold the token of target pg: it has a line break, and a password file entry is one line' });
  });
});

describe('dotenv', () => {
  it('single-quoted values: tokens, unix and RFC 3339 expiry (whole seconds, UTC), scope', () => {
    expect(render('dotenv PGPASSWORD=pg.token ON=pg.expires_on AT=pg.expires_at S=kv.scope')).toBe(
      "PGPASSWORD='eyJ0.pg.sig'\nON='1796303520'\nAT='2026-12-03T13:12:00Z'\nS='https://vault.azure.net/.default'\n",
    );
  });

  it('quotes, #, spaces, = and line breaks stay inside the single quotes, and the real dotenv library reads them back', () => {
    expect(dotenvValue('a "b" #c\nd')).toBe(`'a "b" #c\nd'`);
    const value = 'x "quoted" #not-a-comment a=b\nsecond line\ttab';
    const content = render('dotenv PGPASSWORD=pg.token PG_SCOPE=kv.scope', value);
    expect(dotenv.parse(content)).toEqual({ PGPASSWORD: value, PG_SCOPE: 'https://vault.azure.net/.default' });
  });

  it("refuses ', \\, $ and control characters, naming the variable but not the value", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${HOME}, which the renderer must refuse
    for (const bad of ["it's", 'a\\n', '${HOME}', 'a\rb', 'a\u0000b']) {
      const r = renderFile(spec('dotenv PGPASSWORD=pg.token'), tokens(`SECRET${bad}`));
      expect(r.ok).toBe(false);
      expect(!r.ok && r.problem).toMatch(/^cannot write PGPASSWORD: the token of target pg has a ', \\, \$ or control character/);
      expect(!r.ok && r.problem).not.toContain('SECRET');
    }
  });
});

describe('templates', () => {
  it('fills placeholders and applies filters', () => {
    expect(
      render(
        'template {"password": {{ pg.token | json }}, "until": {{pg.expires_on}}}\nurl=postgres://app:{{ pg.token | url }}@h/db?s={{ kv.scope | url }}\n',
        'a"b/c',
      ),
    ).toBe('{"password": "a\\"b/c", "until": 1796303520}\nurl=postgres://app:a%22b%2Fc@h/db?s=https%3A%2F%2Fvault.azure.net%2F.default\n');
  });

  it('bounds the output', () => {
    const r = renderFile(spec(`template ${'{{pg.token}}'.repeat(100)}`), tokens('x'.repeat(1000)));
    expect(r).toEqual({ ok: false, problem: 'renders to more than 65536 bytes' });
  });

  it('says which target has no token yet', () => {
    expect(renderFile(spec('template {{kv.token}}'), new Map())).toEqual({ ok: false, problem: 'has no token of target kv yet' });
  });
});
