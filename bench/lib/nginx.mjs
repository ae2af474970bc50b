// nginx from Debian as row 1's native floor: one process (master_process off) on loopback,
// serving the same JSON as a static file, config/pid/logs in a temporary folder.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { startProcess, sleep } from './proc.mjs';
import { scratchDir } from './paths.mjs';

const NGINX_PATHS = ['/usr/sbin/nginx', '/usr/bin/nginx'];

function findNginx() {
  for (const p of NGINX_PATHS) {
    if (spawnSync(p, ['-v']).status === 0) return p;
  }
  return undefined;
}

/** nginx's version line, or undefined when it is not installed. */
export function nginxVersion(bin) {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return (r.stderr || r.stdout).trim().replace(/^nginx version: /, '');
}

/**
 * The nginx binary; when missing and running as root, installs Debian's `nginx` (apt-get, retried
 * while another process holds the dpkg lock). Returns { bin } or { skipped: reason }.
 */
export async function ensureNginx(log) {
  const found = findNginx();
  if (found) return { bin: found };
  if (process.getuid?.() !== 0) return { skipped: 'nginx is not installed and the bench is not root (apt-get install nginx to include the native floor)' };
  log('installing nginx from Debian (scripts/apt-install.sh) for the native floor of row 1…');
  const install = spawnSync('bash', [new URL('../../scripts/apt-install.sh', import.meta.url).pathname, '--no-start-services', 'nginx'], { encoding: 'utf8' });
  if (install.status === 0 && findNginx()) return { bin: findNginx() };
  return { skipped: 'nginx could not be installed with apt-get' };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts nginx serving `body` at GET /msi/token with the given content type; returns { url, stop }. */
export async function startNginx(bin, body, contentType) {
  const dir = mkdtempSync(join(scratchDir(), 'nginx-'));
  chmodSync(dir, 0o755);
  for (const d of ['logs', 'tmp']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'token.json'), body);
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 5s;
  types { }
  server {
    listen 127.0.0.1:${port};
    location = /msi/token {
      default_type "${contentType}";
      add_header cache-control no-store;
      etag off;
      alias ${dir}/token.json;
    }
  }
}
`,
  );
  const p = startProcess('nginx', bin, ['-p', dir, '-e', `${dir}/logs/error.log`, '-c', join(dir, 'nginx.conf')], { logDir: dir });
  const url = `http://127.0.0.1:${port}/msi/token`;
  const until = Date.now() + 10_000;
  for (;;) {
    const r = await fetch(url).catch(() => undefined);
    if (r?.status === 200 && (await r.text()) === body) break;
    if (Date.now() > until || p.proc.exitCode !== null) {
      await p.stop();
      throw new Error(`nginx did not serve the token file (see ${dir}/logs/error.log)`);
    }
    await sleep(50);
  }
  return { url, pid: p.pid, stop: () => p.stop() };
}
