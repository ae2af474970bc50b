import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createLogger } from '../../src/log.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFileSpecs } from '../../src/contract/rendered-files.js';
import type { Emulator } from '../../src/emulator/index.js';
import type { AccessToken } from '../../src/identity/access-token.js';
import { SidecarMetrics } from '../../src/sidecar/metrics.js';
import { RenderedFiles } from '../../src/sidecar/rendered-files.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { startSidecarProcess, type SidecarProcess } from '../helpers/sidecar.js';

const PG = 'https://ossrdbms-aad.database.windows.net/.default';
const KV = 'https://vault.azure.net/.default';
const SPECS = {
  pgpass: 'pgpass target=pg host=db.example.com port=5432 database=* user="entra:app"',
  'app.env': 'dotenv PGPASSWORD=pg.token PG_EXPIRES_ON=pg.expires_on KV_TOKEN=kv.token',
  'conf.json': 'template {"pg": {{ pg.token | json }}, "until": "{{ pg.expires_at }}"}\n',
};
const token = (t: string, i: number): AccessToken => ({ token: t, scope: PG, obtainedAtMs: 0, expiresOnMs: Date.now() + 60_000 + i, extExpiresOnMs: 0 });

describe('RenderedFiles: writes, failures and readiness', () => {
  const setup = () => {
    const dir = mkdtempSync(join(tmpdir(), 'rendered-'));
    const files = parseFileSpecs(SPECS, ['pg', 'kv']);
    if (!files.ok) throw new Error(files.problem);
    const lines: string[] = [];
    const metrics = new SidecarMetrics();
    const r = new RenderedFiles({
      dir,
      files: files.value,
      fileMode: 0o644,
      metrics,
      log: createLogger('debug', 'sidecar', { write: (l: string) => void lines.push(l) }),
    });
    return { dir, r, lines, metrics };
  };

  it("a file waits for every target it reads; the password file is 0600, the others take the token files' mode", async () => {
    const { dir, r } = setup();
    await r.tokenChanged('pg', token('eyJ.pg-1.sig', 1));
    expect(readdirSync(dir).sort()).toEqual(['conf.json', 'pgpass']);
    expect(r.readiness(Date.now()).map((f) => [f.name, f.ready])).toEqual([
      ['app.env', false],
      ['conf.json', true],
      ['pgpass', true],
    ]);
    await r.tokenChanged('kv', token('eyJ.kv-1.sig', 2));
    expect(readdirSync(dir).sort()).toEqual(['app.env', 'conf.json', 'pgpass']);
    expect(readFileSync(join(dir, 'pgpass'), 'utf8')).toBe('db.example.com:5432:*:entra\\:app:eyJ.pg-1.sig\n');
    expect(readFileSync(join(dir, 'app.env'), 'utf8')).toMatch(/^PGPASSWORD='eyJ.pg-1.sig'\nPG_EXPIRES_ON='\d+'\nKV_TOKEN='eyJ.kv-1.sig'\n$/);
    expect(statSync(join(dir, 'pgpass')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'app.env')).mode & 0o777).toBe(0o644);
    expect(r.readiness(Date.now()).every((f) => f.ready)).toBe(true);
    expect(r.failures()).toEqual([]);
  });

  it('a render failure keeps the previous file whole, is counted, and is logged without the token', async () => {
    const { dir, r, lines, metrics } = setup();
    await r.tokenChanged('kv', token('eyJ.kv-1.sig', 1));
    await r.tokenChanged('pg', token('eyJ.pg-1.sig', 1));
    const kept = (): string[][] => ['pgpass', 'app.env'].map((f) => [f, readFileSync(join(dir, f), 'utf8')]);
    const before = kept();
    await r.tokenChanged('pg', token("SECRET-PART'\nSECRET-REST", 2));
    expect(kept()).toEqual(before);
    expect(readdirSync(dir).sort(), 'no temp file left').toEqual(['app.env', 'conf.json', 'pgpass']);
    const m = await metrics.registry.getSingleMetricAsString('entra_sidecar_render_failures_total');
    expect(m).toContain('entra_sidecar_render_failures_total{file="pgpass",reason="render"} 1');
    expect(m).toContain('entra_sidecar_render_failures_total{file="app.env",reason="render"} 1');
    const errors = lines.map((l) => JSON.parse(l) as { msg: string; file: string }).filter((l) => /cannot render/.test(l.msg));
    expect(errors.map((e) => e.file).sort()).toEqual(['app.env', 'pgpass']);
    expect(errors.find((e) => e.file === 'pgpass')?.msg).toBe(
      'cannot render pgpass: it cannot hold the token of target pg: it has a line break, and a password file entry is one line; the previous file stays as it was',
    );
    expect(lines.join('')).not.toContain('SECRET');
    // the file on disk still holds a valid token: still ready, and the problem is shown
    expect(r.readiness(Date.now()).find((f) => f.name === 'pgpass')).toMatchObject({ ready: true, lastError: expect.stringMatching(/line break/) });
    // the JSON template escapes what JSON needs; it was rewritten
    expect(JSON.parse(readFileSync(join(dir, 'conf.json'), 'utf8')).pg).toBe("SECRET-PART'\nSECRET-REST");
  });

  it('a write failure keeps the previous file and is counted as reason="write"', async () => {
    const { dir, r, metrics } = setup();
    await r.tokenChanged('pg', token('eyJ.pg-1.sig', 1));
    // a folder where the next temp file would go cannot be created: take the folder away
    const { rmSync } = await import('node:fs');
    rmSync(dir, { recursive: true });
    await r.tokenChanged('pg', token('eyJ.pg-2.sig', 2));
    expect(await metrics.registry.getSingleMetricAsString('entra_sidecar_render_failures_total')).toContain('{file="pgpass",reason="write"} 1');
    expect(r.readiness(Date.now()).find((f) => f.name === 'pgpass')?.lastError).toBe('cannot write it (ENOENT)');
  });
});

describe('the sidecar process renders files before it is ready, and on every refresh', () => {
  let emulator: Emulator;
  let sp: SidecarProcess;
  beforeAll(async () => {
    emulator = await startTestEmulator({ tokenLifetimeSec: 8 });
    sp = await startSidecarProcess({ emulator, tokens: `pg=${PG},kv=${KV}`, env: { ENTRA_SIDECAR_FILES: JSON.stringify(SPECS) } });
  });
  afterAll(async () => {
    expect(await sp.stop()).toBe(0);
    await emulator.close();
  });

  it('ready means every rendered file is there with the current token', async () => {
    await sp.waitReady();
    const raw = readFileSync(join(sp.tokenDir, 'pg'), 'utf8');
    const ready = (await (await fetch(`${sp.health}/readyz`)).json()) as { files: { name: string; ready: boolean }[] };
    expect(ready.files.map((f) => [f.name, f.ready])).toEqual([
      ['app.env', true],
      ['conf.json', true],
      ['pgpass', true],
    ]);
    expect(emulator.issuedSecrets()).toContain(raw);
    // (a refresh may land between the two reads: the pgpass then holds the newer token)
    const pgpass = readFileSync(join(sp.tokenDir, 'pgpass'), 'utf8');
    expect(pgpass).toMatch(/^db\.example\.com:5432:\*:entra\\:app:eyJ[\w.-]+\n$/);
    expect(emulator.issuedSecrets()).toContain(pgpass.trim().split(':').at(-1));
  });

  it('each refresh of pg rewrites the files that read it, with the new token', async () => {
    const seen = new Set<string>();
    for (let i = 1; i <= 3; i++) {
      const count = sp.logs.filter((l) => l.msg === 'files written' && l.target === 'pg').length;
      await sp.waitForLog(
        (l) => l.msg === 'files written' && l.target === 'pg' && sp.logs.filter((x) => x.msg === 'files written' && x.target === 'pg').indexOf(l) >= count,
        30_000,
      );
      const pgpassToken = readFileSync(join(sp.tokenDir, 'pgpass'), 'utf8').trim().split(':').at(-1) as string;
      const env = readFileSync(join(sp.tokenDir, 'app.env'), 'utf8');
      const json = JSON.parse(readFileSync(join(sp.tokenDir, 'conf.json'), 'utf8')) as { pg: string };
      expect(emulator.issuedSecrets()).toContain(pgpassToken);
      seen.add(pgpassToken);
      expect(env).toContain(`PGPASSWORD='${pgpassToken}'`);
      expect(json.pg).toBe(pgpassToken);
    }
    expect(seen.size).toBeGreaterThanOrEqual(2);
    const metrics = await (await fetch(`${sp.health}/metrics`)).text();
    expect(metrics).not.toMatch(/entra_sidecar_render_failures_total\{[^}]*\} [1-9]/);
  });
});

describe('sidecar --once (init containers)', () => {
  it('writes the rendered files with the token files before it exits', async () => {
    const emulator = await startTestEmulator();
    try {
      const sp = await startSidecarProcess({
        emulator,
        tokens: `pg=${PG},kv=${KV}`,
        args: ['--once'],
        env: { ENTRA_SIDECAR_FILES: JSON.stringify(SPECS) },
        noWait: true,
      });
      expect(await sp.exited).toBe(0);
      expect(readdirSync(sp.tokenDir).sort()).toEqual(['app.env', 'conf.json', 'kv', 'kv.json', 'pg', 'pg.json', 'pgpass']);
      const raw = readFileSync(join(sp.tokenDir, 'pg'), 'utf8');
      expect(readFileSync(join(sp.tokenDir, 'pgpass'), 'utf8')).toBe(`db.example.com:5432:*:entra\\:app:${raw}\n`);
    } finally {
      await emulator.close();
    }
  });
});

describe('configuration', () => {
  it('a bad ENTRA_SIDECAR_FILES stops the sidecar at start with a message naming the setting and the fix', async () => {
    const emulator = await startTestEmulator();
    try {
      const sp = await startSidecarProcess({
        emulator,
        tokens: `pg=${PG}`,
        env: { ENTRA_SIDECAR_FILES: '{"pgpass":"pgpass target=sql host=h user=u"}' },
        noWait: true,
      });
      expect(await sp.exited).not.toBe(0);
      expect(sp.stderr.join('\n')).toMatch(
        /ENTRA_SIDECAR_FILES .*file "pgpass" names target "sql", which is not a token target \(the token targets are pg\): add sql=<scope>/,
      );
    } finally {
      await emulator.close();
    }
  });
});
