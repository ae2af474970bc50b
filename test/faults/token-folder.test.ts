/**
 * Fault matrix, token folder rows: the folder turns read-only or fills up. The endpoint keeps
 * serving fresh tokens, every failed write is counted and logged naming the folder and the
 * errno, the old files are never truncated (a reader always finds the last complete token), no
 * temp file is left, /readyz turns false once the token on disk has expired, and the files are
 * written again once the folder is fixed.
 *
 * Read-only is tested as a folder without write permission (as root, the sidecar runs without
 * CAP_DAC_OVERRIDE so permissions apply) and, where mounting is allowed, as a read-only tmpfs
 * (EROFS, what a readOnly volume gives). Full is a 64 KiB tmpfs filled up (ENOSPC) where
 * mounting is allowed; the file-size limit (RLIMIT_FSIZE → EFBIG) runs everywhere as the
 * closest substitute.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SidecarProcess } from '../helpers/sidecar.js';
import { alive, metricsText, metricValue, permissionsApply, pollEndpoint, readyz, sleep, startPair, waitForFreshToken, waitUntil } from './harness.js';

const permissions = permissionsApply();
const mounts: string[] = [];

/** A fresh tmpfs of `size`, or undefined when this process may not mount. */
function tryTmpfs(size: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'entra-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir], { stdio: 'ignore' });
    mounts.push(dir);
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

afterAll(() => {
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      rmSync(m, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
});

function probeMount(): boolean {
  const dir = tryTmpfs('16k');
  if (!dir) return false;
  execFileSync('umount', [dir]);
  mounts.splice(mounts.indexOf(dir), 1);
  rmSync(dir, { recursive: true, force: true });
  return true;
}
const canMount = probeMount();

interface Row {
  name: string;
  code: string;
  /** the token folder to use (default a new temp folder) */
  tokenDir?: () => string;
  wrapper?: string[];
  breakIt(sp: SidecarProcess): () => void;
}

function fill(dir: string): () => void {
  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return () => rmSync(filler);
}

const rows: Row[] = [
  {
    name: 'file size limit (RLIMIT_FSIZE → EFBIG)',
    code: 'EFBIG',
    breakIt: (sp) => {
      // soft limit only, so it can be lifted again without CAP_SYS_RESOURCE; node ignores SIGXFSZ
      execFileSync('prlimit', [`--pid=${sp.proc.pid}`, '--fsize=64:']);
      return () => execFileSync('prlimit', [`--pid=${sp.proc.pid}`, '--fsize=unlimited:']);
    },
  },
];
if ('wrapper' in permissions) {
  rows.unshift({
    name: 'read-only folder (no write permission)',
    code: 'EACCES',
    wrapper: permissions.wrapper,
    breakIt: (sp) => {
      chmodSync(sp.tokenDir, 0o555);
      return () => chmodSync(sp.tokenDir, 0o755);
    },
  });
}
if (canMount) {
  rows.push(
    {
      name: 'read-only mount (EROFS)',
      code: 'EROFS',
      tokenDir: () => tryTmpfs('256k') as string,
      breakIt: (sp) => {
        execFileSync('mount', ['-o', 'remount,ro', sp.tokenDir]);
        return () => execFileSync('mount', ['-o', 'remount,rw', sp.tokenDir]);
      },
    },
    {
      name: 'full folder (a 64 KiB tmpfs, ENOSPC)',
      code: 'ENOSPC',
      tokenDir: () => tryTmpfs('64k') as string,
      breakIt: (sp) => fill(sp.tokenDir),
    },
  );
}

/** Both files of a target, parsed: every read must be a whole token. */
function readFiles(dir: string): { raw: string; json: { access_token: string; expires_on: number } } {
  const raw = readFileSync(join(dir, 'storage'), 'utf8');
  const json = JSON.parse(readFileSync(join(dir, 'storage.json'), 'utf8')) as { access_token: string; expires_on: number };
  return { raw, json };
}

/**
 * Both files from the same refresh: the two files are replaced one after the other, so while
 * refreshes go on a read may see the new raw file and the old JSON; read again until they agree.
 */
async function readMatchingFiles(dir: string): Promise<{ raw: string; json: { access_token: string; expires_on: number } }> {
  return waitUntil(
    () => {
      const f = readFiles(dir);
      return f.json.access_token === f.raw ? f : undefined;
    },
    'token and JSON files from the same refresh',
    10_000,
    20,
  );
}

describe.concurrent('token folder faults', () => {
  for (const row of rows) {
    it(`${row.name}: endpoint keeps serving, write error counted and logged, old files intact, recovers`, async () => {
      const pair = await startPair({ lifetimeSec: 8, sidecar: { wrapper: row.wrapper, tokenDir: row.tokenDir?.() } });
      const { sidecar } = pair;
      try {
        const initial = await readMatchingFiles(sidecar.tokenDir);
        expect(initial.raw).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
        const fix = row.breakIt(sidecar);
        const poll = pollEndpoint(sidecar);

        const line = await sidecar.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('cannot write token files'), 20_000);
        expect(line.msg).toBe(
          `cannot write token files for storage in ${sidecar.tokenDir} (${row.code}): the endpoint keeps serving; the old files stay as they were`,
        );
        expect(line).toMatchObject({ level: 'error', target: 'storage', code: row.code });
        // a second failed write: from here on nothing can land (a refresh whose writes straddled
        // the break may have replaced the raw file and failed on the JSON one)
        await waitUntil(
          async () => (metricValue(await metricsText(sidecar), 'entra_sidecar_token_file_write_errors_total', { target: 'storage' }) ?? 0) >= 2,
          'a second failed write',
          20_000,
        );
        // the last files written before the folder broke: each one whole
        const before = readFiles(sidecar.tokenDir);
        expect(before.raw).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
        expect(before.json.access_token).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);

        // until the token on disk expires: ready, and the old files are whole
        do {
          const now = readFiles(sidecar.tokenDir);
          expect(now.raw).toBe(before.raw);
          expect(now.json).toEqual(before.json);
          await sleep(100);
        } while (Date.now() < before.json.expires_on * 1000 - 500);
        // then not ready: the files hold an expired token
        const notReady = await waitUntil(
          async () => {
            const r = await readyz(sidecar);
            return r.status === 503 ? r : undefined;
          },
          'readyz false once the token on disk expired',
          10_000,
        );
        expect(notReady.body.targets[0]).toMatchObject({ name: 'storage', fileWritten: false });
        expect(readFiles(sidecar.tokenDir).raw, 'old files never truncated').toBe(before.raw);
        // refreshes go on failing, each with its own short-lived temp file: none may be left behind
        await waitUntil(() => readdirSync(sidecar.tokenDir).every((n) => !n.includes('.tmp-')), 'no temp file left', 10_000, 20);

        fix();
        await waitForFreshToken(pair, before.raw, 20_000);
        await sidecar.waitReady(20_000);
        const seen = await poll.stop();
        expect(seen.failures, 'the endpoint served throughout').toEqual([]);
        expect(seen.tokens.size, 'fresh tokens were served while the files could not be written').toBeGreaterThan(1);
        const after = await readMatchingFiles(sidecar.tokenDir);
        expect(after.raw).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
        expect(readdirSync(sidecar.tokenDir).filter((n) => n.includes('.tmp-'))).toEqual([]);
        expect(metricValue(await metricsText(sidecar), 'entra_sidecar_token_file_write_errors_total', { target: 'storage' })).toBeGreaterThanOrEqual(2);
        expect(alive(sidecar)).toBe(true);
      } finally {
        await pair.close();
        try {
          chmodSync(sidecar.tokenDir, 0o755);
        } catch {
          // a read-only mount: unmounted after the file
        }
      }
    });
  }

  if (!canMount) {
    it.skip('read-only mount (EROFS) and full folder (ENOSPC): this process may not mount a tmpfs; the permission and RLIMIT_FSIZE rows above cover the same code path', () =>
      undefined);
  }

  if ('skip' in permissions) it.skip(`read-only folder (no write permission): ${permissions.skip}`, () => undefined);

  it.skipIf('skip' in permissions)('read-only from the start: the endpoint serves, /readyz says the files are not written', async () => {
    const wrapper = 'wrapper' in permissions ? permissions.wrapper : [];
    const tokenDir = mkdtempSync(join(tmpdir(), 'entra-ro-'));
    chmodSync(tokenDir, 0o555);
    const pair = await startPair({ lifetimeSec: 30, ready: false, sidecar: { tokenDir, wrapper } });
    const { sidecar } = pair;
    try {
      const line = await sidecar.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('cannot write token files'), 20_000);
      expect(line.msg).toContain(`in ${tokenDir} (EACCES)`);
      const answer = await fetch(`${sidecar.endpoint}/msi/token?api-version=2019-08-01&resource=https://storage.azure.com/`, {
        headers: { 'X-IDENTITY-HEADER': sidecar.identityHeader },
      });
      expect(answer.status).toBe(200);
      const r = await readyz(sidecar);
      expect(r.status).toBe(503);
      expect(r.body.targets[0]).toMatchObject({ name: 'storage', fileWritten: false });
      expect(readdirSync(tokenDir)).toEqual([]);
      expect(alive(sidecar)).toBe(true);
    } finally {
      await pair.close();
      chmodSync(tokenDir, 0o755);
    }
  });
});
