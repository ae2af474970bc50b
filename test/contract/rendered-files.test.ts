import { describe, expect, it } from 'vitest';
import {
  checkFileName,
  fileAnnotations,
  formatFilesSetting,
  MAX_FILES,
  parseFileSpec,
  parseFileSpecs,
  parseFilesSetting,
  targetsUsed,
  type FileSpec,
} from '../../src/contract/rendered-files.js';

const TARGETS = ['pg', 'kv', 'pg.replica'];
const ok = (name: string, text: string): FileSpec => {
  const r = parseFileSpec(name, text, TARGETS);
  if (!r.ok) throw new Error(`expected ${text} to parse: ${r.problem}`);
  return r.value;
};
const problem = (name: string, text: string, targets = TARGETS): string => {
  const r = parseFileSpec(name, text, targets);
  if (r.ok) throw new Error(`expected ${text} to be refused`);
  return r.problem;
};

describe('pgpass specs', () => {
  it('reads the fields, defaults port and database to *', () => {
    expect(ok('pgpass', 'pgpass target=pg host=db.postgres.database.azure.com port=5432 database=orders user=app@contoso.com')).toEqual({
      name: 'pgpass',
      kind: 'pgpass',
      target: 'pg',
      host: 'db.postgres.database.azure.com',
      port: '5432',
      database: 'orders',
      user: 'app@contoso.com',
    });
    expect(ok('pgpass', 'pgpass target=pg host=* user=app')).toMatchObject({ port: '*', database: '*', host: '*' });
  });

  it('takes quoted values with spaces, \\" and \\\\, and keeps : and \\ for the renderer to escape', () => {
    expect(ok('p', 'PGPASS  target=pg\n host=h user="DB Admins \\"x\\" a:b\\\\c"')).toMatchObject({ user: 'DB Admins "x" a:b\\c' });
    expect(ok('p', 'pgpass target=pg host=h user=a:b\\c')).toMatchObject({ user: 'a:b\\c' });
  });

  it('refuses what libpq could not use, naming the fix', () => {
    expect(problem('p', 'pgpass target=pg host=h')).toMatch(/needs user= .*e\.g\. pgpass target=pg/);
    expect(problem('p', 'pgpass host=h user=u')).toMatch(/needs target=/);
    expect(problem('p', 'pgpass target=pg host=h user=u port=99999')).toMatch(/port "99999": use a port number from 1 to 65535, or \*/);
    expect(problem('p', 'pgpass target=pg host=h user=u port=0')).toMatch(/port "0"/);
    expect(problem('p', 'pgpass target=pg host=h user=u dbname=x')).toMatch(
      /unknown field "dbname": a pgpass file takes target, host, port, database and user/,
    );
    expect(problem('p', 'pgpass target=pg host=h user=u user=v')).toMatch(/sets user twice/);
    expect(problem('p', 'pgpass target=pg host= user=u')).toMatch(/empty host: give a value, or \*/);
    expect(problem('p', 'pgpass target=pg host=h user="a\tb"')).toMatch(/control character, tab or line break in user/);
    expect(problem('p', 'pgpass target=pg host=h user="unclosed')).toMatch(/unclosed quote in the value of user/);
    expect(problem('p', 'pgpass target=pg host=h user=a"b"')).toMatch(/quote inside the value of user/);
    expect(problem('p', 'pgpass target=pg host=h user="a"b')).toMatch(/right after the closing quote/);
    expect(problem('p', 'pgpass target=sql host=h user=u')).toMatch(
      /target "sql", which is not a token target \(the token targets are pg, kv, pg.replica\): add sql=<scope>/,
    );
    expect(problem('p', 'pgpass target=pg host=h user=u', [])).toMatch(/there are no token targets/);
    expect(problem('p', 'pgpass target=pg host h')).toMatch(/each field must be key=value/);
  });
});

describe('dotenv specs', () => {
  it('reads NAME=<target>.<field> pairs, target names with dots included', () => {
    expect(ok('app.env', 'dotenv PGPASSWORD=pg.token\n  PG_EXPIRES_ON=pg.expires_on PG_EXPIRES_AT=pg.expires_at R=pg.replica.scope')).toEqual({
      name: 'app.env',
      kind: 'dotenv',
      entries: [
        { variable: 'PGPASSWORD', ref: { target: 'pg', field: 'token' } },
        { variable: 'PG_EXPIRES_ON', ref: { target: 'pg', field: 'expires_on' } },
        { variable: 'PG_EXPIRES_AT', ref: { target: 'pg', field: 'expires_at' } },
        { variable: 'R', ref: { target: 'pg.replica', field: 'scope' } },
      ],
    });
  });

  it('refuses bad names, unknown fields and targets', () => {
    expect(problem('e', 'dotenv')).toMatch(/names no variables: write NAME=<target>.<field> pairs/);
    expect(problem('e', 'dotenv 1X=pg.token')).toMatch(/variable name "1X": use letters, digits and _/);
    expect(problem('e', 'dotenv A=pg.token A=kv.token')).toMatch(/sets A twice/);
    expect(problem('e', 'dotenv A=pg.password')).toMatch(/"pg.password": a reference is <target>.<field> with field token, expires_on, expires_at and scope/);
    expect(problem('e', 'dotenv A=sql.token')).toMatch(/target "sql", which is not a token target.*\(in A\)/);
  });
});

describe('templates', () => {
  it('keeps the text verbatim after the separator and splits out placeholders', () => {
    const spec = ok('conf.ini', 'template\n[db]\npassword = {{ pg.token }}\nexpires={{pg.expires_at}} {{ "{{" }}x}}\nscope={{ kv.scope | url | json }}\n');
    expect(spec).toEqual({
      name: 'conf.ini',
      kind: 'template',
      parts: [
        { text: '[db]\npassword = ' },
        { ref: { target: 'pg', field: 'token' }, filters: [] },
        { text: '\nexpires=' },
        { ref: { target: 'pg', field: 'expires_at' }, filters: [] },
        { text: ' {{x}}\nscope=' },
        { ref: { target: 'kv', field: 'scope' }, filters: ['url', 'json'] },
        { text: '\n' },
      ],
    });
    expect(targetsUsed(spec)).toEqual(['pg', 'kv']);
    expect(ok('t', 'template {{pg.replica.token}}')).toMatchObject({ parts: [{ ref: { target: 'pg.replica', field: 'token' } }] });
  });

  it('refuses a template it could not render, with the line', () => {
    expect(problem('t', 'template')).toMatch(/empty template/);
    expect(problem('t', 'template a\nb {{ pg.token ')).toMatch(/\{\{ without a closing \}\} on line 2/);
    expect(problem('t', 'template {{ pg.token | upper }}')).toMatch(/unknown filter "upper" on line 1: filters are json and url/);
    expect(problem('t', 'template {{ }}')).toMatch(/a placeholder is \{\{ <target>.<field> \}\}/);
    expect(problem('t', 'template {{ env.HOME }}')).toMatch(/a reference is <target>.<field>/);
    expect(problem('t', 'template {{ pg.token pg.scope }}')).toMatch(/a placeholder is/);
    expect(problem('t', 'template no placeholders')).toMatch(/has no placeholder/);
    expect(problem('t', `template ${'{{pg.token}}'.repeat(129)}`)).toMatch(/more than 128 placeholders/);
    expect(problem('t', `template {{pg.token}}${'x'.repeat(16 * 1024)}`)).toMatch(/at most 16384 are allowed/);
  });
});

describe('file names and sets of files', () => {
  it('refuses names that are not plain file names or that are a token file', () => {
    expect(checkFileName('pgpass', TARGETS)).toBeUndefined();
    expect(checkFileName('pg', TARGETS)).toMatch(/token target pg's own file/);
    expect(checkFileName('kv.json', TARGETS)).toMatch(/token target kv's own file/);
    for (const bad of ['', '../x', 'a/b', '.env', 'x.', 'a b', 'x'.repeat(59)]) expect(checkFileName(bad, TARGETS)).toMatch(/use 1–58 letters/);
    expect(checkFileName('a.tmp-0123456789ab', TARGETS)).toMatch(/temporary files/);
    expect(problem('pg', 'pgpass target=pg host=h user=u')).toMatch(/own file/);
  });

  it('unknown kinds are refused with the list of kinds', () => {
    expect(problem('x', 'netrc machine=x')).toMatch(/must start with the file kind, pgpass, dotenv and template/);
  });

  it('reads the ENTRA_SIDECAR_FILES setting the webhook writes', () => {
    const specs = { 'b.env': 'dotenv A=pg.token', a: 'pgpass target=pg host=h user=u' };
    const text = formatFilesSetting(specs);
    expect(text).toBe('{"a":"pgpass target=pg host=h user=u","b.env":"dotenv A=pg.token"}');
    const r = parseFilesSetting(text, TARGETS);
    expect(r.ok && r.value.map((f) => f.name)).toEqual(['a', 'b.env']);
    expect(parseFilesSetting('', TARGETS)).toEqual({ ok: true, value: [] });
    expect(parseFilesSetting('pgpass target=pg', TARGETS)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/must be a JSON object of file name to spec/),
    });
    expect(parseFilesSetting('{"a":1}', TARGETS)).toMatchObject({ ok: false, problem: expect.stringMatching(/values are strings/) });
    expect(parseFilesSetting('{"a":"pgpass"}', TARGETS)).toMatchObject({ ok: false, problem: expect.stringMatching(/^file "a" needs target=/) });
  });

  it('at most MAX_FILES files', () => {
    const many = Object.fromEntries(Array.from({ length: MAX_FILES + 1 }, (_, i) => [`f${i}`, 'dotenv A=pg.token']));
    expect(parseFileSpecs(many, TARGETS)).toMatchObject({ ok: false, problem: `asks for ${MAX_FILES + 1} files; at most ${MAX_FILES} are allowed` });
  });

  it('finds the file annotations of a pod', () => {
    expect(fileAnnotations({ 'entra-sidecar.io/file.pgpass': 'x', 'entra-sidecar.io/tokens': 'y', 'other.io/file.z': 'z' })).toEqual({ pgpass: 'x' });
  });
});
