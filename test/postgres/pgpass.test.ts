/**
 * Real clients read the rendered files: a real PostgreSQL server whose login role's password the
 * test sets to each token the emulator issues (standing in for Azure's Entra check), a sidecar run
 * as the webhook injects it for a pod whose app runs as uid 10001, and psql and node-postgres
 * connecting through PGPASSFILE as that app user — first, and again after each of several token
 * refreshes, without restarting anything. A real dotenv library reads the dotenv file.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, type Emulator } from '../../src/emulator/index.js';
import { mutatePod } from '../../src/webhook/mutate.js';
import type { Container, Pod } from '../../src/webhook/pod.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { startSidecarProcess, type SidecarProcess } from '../helpers/sidecar.js';
import { byName, CLIENT_ID, env, secretSequence, settings, TENANT_ID } from '../webhook/pod-checks.js';
import { asUser, ensurePostgres, startPostgres, type PostgresServer } from './server.js';

const require = createRequire(import.meta.url);
const PG_RESOURCE = 'https://ossrdbms-aad.database.windows.net';
/** the app container's user, as its pod spec says */
const APP_UID = 10001;
/** a login role whose name needs libpq's escaping in a password file (`:` and `\`) */
const ROLE = 'entra:app\\user';
/** token lifetime: refreshed about every 7.5 s (a quarter of it; see refresh-policy.ts) */
const LIFETIME_S = 30;
const REFRESHES = 3;

const skip = ensurePostgres();
if (skip) console.warn(`test/postgres skipped: ${skip}`);

/** The pod a user would write: a pgpass file and a dotenv file for the pg target; the app runs as 10001. */
function podSpec(port: number): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'orders',
      namespace: 'apps',
      annotations: {
        'entra-sidecar.io/inject': 'true',
        'entra-sidecar.io/client-id': CLIENT_ID,
        'entra-sidecar.io/tenant-id': TENANT_ID,
        'entra-sidecar.io/tokens': `pg=${PG_RESOURCE}/.default`,
        'entra-sidecar.io/file.pgpass': `pgpass target=pg host=127.0.0.1 port=${port} database=* user=${ROLE}`,
        'entra-sidecar.io/file.app.env': 'dotenv PGPASSWORD=pg.token PGPASSWORD_EXPIRES_ON=pg.expires_on PGPASSWORD_EXPIRES_AT=pg.expires_at',
      },
    },
    spec: { containers: [{ name: 'app', image: 'example/orders:1', securityContext: { runAsUser: APP_UID, runAsGroup: APP_UID } }] },
  };
}

interface ClientResult {
  ok: boolean;
  out: string;
  err: string;
}

describe.skipIf(skip !== undefined)('libpq password file with real PostgreSQL, psql and node-postgres across token refreshes', () => {
  let pg: PostgresServer;
  let emulator: Emulator;
  let sp: SidecarProcess;
  let sidecarUser: { uid: number; gid: number };
  let pgpassFile: string;
  const stops: Array<() => unknown> = [];

  /** the pg tokens the emulator issued, oldest first */
  const pgTokens = (): string[] => emulator.issuedSecrets().filter((s) => decodeJwt(s)?.payload.aud === PG_RESOURCE);
  const filesWritten = (): number => sp.logs.filter((l) => l.msg === 'files written' && l.target === 'pg').length;
  const setPassword = (token: string): void => {
    expect(token).toMatch(/^[\w.-]+$/); // a JWT: safe inside a SQL string literal
    pg.admin(`ALTER ROLE "${ROLE.replace(/"/g, '""')}" PASSWORD '${token}';`);
  };
  const asApp = (cmd: string[], extraEnv: Record<string, string> = {}): ClientResult => {
    const argv = [...asUser(APP_UID, APP_UID), ...cmd];
    const r = spawnSync(argv[0] as string, argv.slice(1), {
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env.PATH, HOME: '/nonexistent', PGCONNECT_TIMEOUT: '10', ...extraEnv },
    });
    return { ok: r.status === 0, out: (r.stdout ?? '').trim(), err: (r.stderr ?? '').trim() };
  };
  const psql = (passfile = pgpassFile): ClientResult =>
    asApp(['psql', '-X', '-w', '-At', '-h', '127.0.0.1', '-p', String(pg.port), '-U', ROLE, '-d', 'postgres', '-c', 'select current_user'], {
      PGPASSFILE: passfile,
    });
  const nodePostgres = (): ClientResult =>
    asApp(
      [
        process.execPath,
        '-e',
        `
      const { Client } = require(${JSON.stringify(require.resolve('pg'))});
      const c = new Client({ host: '127.0.0.1', port: ${pg.port}, user: ${JSON.stringify(ROLE)}, database: 'postgres' });
      c.connect().then(() => c.query('select current_user')).then((r) => { console.log(r.rows[0].current_user); return c.end(); })
        .catch((e) => { console.error(e.message); process.exit(1); });`,
      ],
      { PGPASSFILE: pgpassFile },
    );

  beforeAll(async () => {
    pg = await startPostgres();
    stops.push(() => pg.stop());
    pg.admin(`CREATE ROLE "${ROLE.replace(/"/g, '""')}" LOGIN;`);
    emulator = await startTestEmulator({ tokenLifetimeSec: LIFETIME_S });
    stops.push(() => emulator.close());

    // the sidecar exactly as the webhook injects it for this pod
    const out = mutatePod(podSpec(pg.port), undefined, settings(), secretSequence());
    if (out.kind !== 'mutated') throw new Error(`the webhook did not inject the pod: ${JSON.stringify(out)}`);
    const sidecar = byName(out.pod, 'entra-sidecar') as Container;
    const injected = env(sidecar);
    const sc = sidecar.securityContext as { runAsUser: number; runAsGroup: number };
    sidecarUser = { uid: sc.runAsUser, gid: sc.runAsGroup };

    // what the pod gives the sidecar: an emptyDir (0777), a projected token it can read, the CA
    const tokenDir = mkdtempSync(join(tmpdir(), 'entra-pg-tokens-'));
    chmodSync(tokenDir, 0o777);
    const saDir = mkdtempSync(join(tmpdir(), 'entra-pg-sa-'));
    chmodSync(saDir, 0o755);
    chmodSync(dirname(emulator.caFile), 0o755);
    const tokenFile = emulator.writeProjectedToken(saDir).path;
    pgpassFile = join(tokenDir, 'pgpass');
    sp = await startSidecarProcess({
      emulator,
      tokenDir,
      tokenFile,
      tokens: injected.ENTRA_SIDECAR_TOKENS,
      env: { ENTRA_SIDECAR_FILES: injected.ENTRA_SIDECAR_FILES, NODE_OPTIONS: injected.NODE_OPTIONS },
      wrapper: asUser(sidecarUser.uid, sidecarUser.gid),
    });
    stops.push(() => sp.stop());
    await sp.waitReady(30_000);
  }, 180_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it("the webhook runs the sidecar as the app's user, and the password file is 0600 and the app's", () => {
    expect(sidecarUser.uid).toBe(APP_UID);
    const st = spawnSync('stat', ['-c', '%a %u', pgpassFile], { encoding: 'utf8' }).stdout.trim();
    expect(st).toBe(`600 ${APP_UID}`);
    expect(pg.version).toMatch(/^\d+/);
  });

  it(`psql and node-postgres sign in with the current token from PGPASSFILE, first and after each of ${REFRESHES} refreshes, as uid ${APP_UID}`, async () => {
    const checked: string[] = [];
    let inconclusive = 0;
    while (checked.length < REFRESHES + 1) {
      // wait until the sidecar has written the files for every pg token issued so far
      const issued = pgTokens();
      if (filesWritten() < issued.length) {
        await sp.waitForLog(() => filesWritten() >= pgTokens().length, 30_000);
        continue;
      }
      const current = issued.at(-1) as string;
      if (checked.includes(current)) {
        // this token was checked: wait for the next refresh's files
        const seen = filesWritten();
        await sp.waitForLog(() => filesWritten() > seen, 30_000);
        continue;
      }
      expect(current.length, 'an Entra-sized token (over 1 KB)').toBeGreaterThan(1000);
      setPassword(current);
      const viaPsql = psql();
      const viaNode = nodePostgres();
      const dotenv = require('dotenv') as { parse(src: string): Record<string, string> };
      const parsed = dotenv.parse(readFileSync(join(sp.tokenDir, 'app.env'), 'utf8'));
      if (pgTokens().length !== issued.length) {
        // a refresh landed while the clients ran: the password no longer says which token is current
        inconclusive++;
        continue;
      }
      expect(viaPsql, `psql with PGPASSFILE after ${checked.length} refreshes: ${viaPsql.err}`).toMatchObject({ ok: true, out: ROLE });
      expect(viaNode, `node-postgres with PGPASSFILE after ${checked.length} refreshes: ${viaNode.err}`).toMatchObject({ ok: true, out: ROLE });
      expect(parsed.PGPASSWORD, 'dotenv reads the current token').toBe(current);
      const exp = decodeJwt(current)?.payload.exp as number;
      // the sidecar's expiry is its clock + expires_in (as in <name>.json): within a second or two of exp
      expect(Math.abs(Number(parsed.PGPASSWORD_EXPIRES_ON) - exp)).toBeLessThanOrEqual(2);
      expect(parsed.PGPASSWORD_EXPIRES_AT).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Date.parse(parsed.PGPASSWORD_EXPIRES_AT as string)).toBe(Number(parsed.PGPASSWORD_EXPIRES_ON) * 1000);
      checked.push(current);
    }
    expect(new Set(checked).size).toBe(REFRESHES + 1);
    expect(inconclusive).toBeLessThan(10);
    // the old token no longer signs in: the check is real
    const old = psql();
    expect(old.ok).toBe(true);
    setPassword(`${checked.at(-1)}x`);
    expect(psql()).toMatchObject({ ok: false, err: expect.stringMatching(/password authentication failed/) });
  }, 180_000);

  it("libpq's own rules, shown on copies of the file: readable by group or others it is ignored; owned by another user it is unreadable", () => {
    setPassword(pgTokens().at(-1) as string);
    const copies = mkdtempSync(join(tmpdir(), 'entra-pg-copies-'));
    chmodSync(copies, 0o755);
    const groupReadable = join(copies, 'group-readable');
    copyFileSync(pgpassFile, groupReadable);
    chownSync(groupReadable, APP_UID, APP_UID);
    chmodSync(groupReadable, 0o640);
    const r1 = psql(groupReadable);
    expect(r1.ok).toBe(false);
    expect(r1.err).toMatch(/password file .* has group or world access; permissions should be u=rw \(0600\) or less/);
    const otherOwner = join(copies, 'sidecar-default-user');
    copyFileSync(pgpassFile, otherOwner);
    chownSync(otherOwner, 65532, 65532);
    chmodSync(otherOwner, 0o600);
    const r2 = psql(otherOwner);
    expect(r2.ok).toBe(false);
    expect(r2.err).toMatch(/no password supplied/);
  });
});
