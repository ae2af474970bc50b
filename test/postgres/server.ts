import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real PostgreSQL server (Debian's `postgresql`) for one test file: initdb in a temporary folder,
 * started with pg_ctl on 127.0.0.1 and a free port, run as the `postgres` system user (initdb
 * refuses root), stopped by `stop()`. Superuser statements go through its Unix socket (in the
 * server's own 0700 folder, `trust`); TCP logins use the `password` method — the client sends the
 * password as it is, the way libpq signs in to Azure Database for PostgreSQL with an Entra token.
 */
export interface PostgresServer {
  port: number;
  version: string;
  /** runs SQL as the superuser, fed on stdin (never on a command line); throws with psql's stderr */
  admin(sql: string): string;
  stop(): void;
}

const inCi = process.env.CI === 'true';

/** The newest installed server's bin folder, or undefined. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

/**
 * Installs Debian's postgresql (server and psql) through the project's apt helper when missing and
 * running as root. Returns why it cannot run, or undefined when it can; with CI=true a missing
 * piece is an error instead.
 */
export function ensurePostgres(): string | undefined {
  const fail = (why: string): string => {
    if (inCi) throw new Error(`PostgreSQL tests cannot run in CI: ${why}`);
    return why;
  };
  if (process.getuid?.() !== 0) {
    return fail('these tests run the server, the sidecar and the clients as different users (setpriv), which needs root');
  }
  if (!postgresBin() || spawnSync('psql', ['--version']).status !== 0) {
    const r = spawnSync('bash', [join(process.cwd(), 'scripts', 'apt-install.sh'), '--no-start-services', 'postgresql'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (r.status !== 0) return fail(`scripts/apt-install.sh postgresql failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  if (!postgresBin()) return fail('postgresql is installed but no /usr/lib/postgresql/*/bin/initdb was found');
  if (spawnSync('setpriv', ['--version']).status !== 0) return fail('setpriv (util-linux) is missing');
  if (spawnSync('id', ['-u', 'postgres']).status !== 0) return fail("the postgres system user is missing (Debian's postgresql package creates it)");
  return undefined;
}

/** `setpriv` to a user: no supplementary groups, no new privileges. */
export function asUser(uid: number | string, gid: number | string): string[] {
  return ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBin() as string;
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const as = asUser(uid, gid);
  const dir = mkdtempSync(join(tmpdir(), 'entra-pg-'));
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const run = (cmd: string[], input?: string) =>
    spawnSync(as[0] as string, [...as.slice(1), ...cmd], { encoding: 'utf8', input, cwd: dir, env: { PATH: process.env.PATH, LANG: 'C.UTF-8' } });

  const init = run([join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=password', '-E', 'UTF8', '--locale=C.UTF-8']);
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    // no statement is ever logged: ALTER ROLE … PASSWORD carries a token
    const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c log_statement=none -c log_min_error_statement=panic -c shared_buffers=16MB -c max_connections=20`;
    const started = run([join(bin, 'pg_ctl'), '-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', options, 'start']);
    if (started.status === 0) break;
    if (attempt >= 3)
      throw new Error(
        `pg_ctl start failed: ${started.stderr} ${existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8').slice(-2000) : ''}`,
      );
  }
  const admin = (sql: string): string => {
    const r = run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', '-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-f', '-'], sql);
    if (r.status !== 0) throw new Error(`psql as the superuser failed: ${r.stderr.replace(/PASSWORD\s+'[^']*'/g, "PASSWORD '…'")}`);
    return r.stdout.trim();
  };
  const version = admin('SHOW server_version;');
  return {
    port,
    version,
    admin,
    stop() {
      run([join(bin, 'pg_ctl'), '-D', data, '-m', 'fast', '-w', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
