/**
 * Azure Storage's own emulator, Azurite (blob service), over HTTPS with `--oauth basic`: it
 * accepts a bearer token only when its issuer is Entra's (`https://sts.windows.net/…`), its
 * audience a storage audience and it is within nbf/exp (no signature check). Telemetry is off: the
 * test's traffic stays on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createCertificateAuthority, createServerCertificate } from '../../src/emulator/certs.js';
import { generateRsaKeyPair } from '../../src/emulator/keys.js';
import { auditLog } from '../helpers/audit.js';

/** Azurite's well-known development account. */
export const ACCOUNT = 'devstoreaccount1';

export interface Azurite {
  /** `https://127.0.0.1:PORT/devstoreaccount1`, the account URL the SDKs take */
  accountUrl: string;
  /** the CA that signed Azurite's TLS certificate (PEM file) */
  caFile: string;
  caPem: string;
  stop(): Promise<void>;
}

/** Starts `azurite-blob` from the installed storage component (see scripts/install-interop-clients.sh). */
export async function startAzurite(storageDir: string): Promise<Azurite> {
  const dir = mkdtempSync(join(tmpdir(), 'azurite-'));
  const [caPair, serverPair] = await Promise.all([generateRsaKeyPair(), generateRsaKeyPair()]);
  const ca = createCertificateAuthority(caPair, 'entra-sidecar test Azurite CA');
  const server = createServerCertificate(ca, serverPair, ['127.0.0.1']);
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.certPem);
  writeFileSync(join(dir, 'cert.pem'), server.certPem);
  writeFileSync(join(dir, 'key.pem'), server.keyPem);
  const bin = join(storageDir, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js');
  const proc: ChildProcess = spawn(
    process.execPath,
    [
      bin,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--oauth',
      'basic',
      '--cert',
      join(dir, 'cert.pem'),
      '--key',
      join(dir, 'key.pem'),
      '--inMemoryPersistence',
      '--disableTelemetry',
      '--skipApiVersionCheck',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } },
  );
  const audit = auditLog('azurite');
  let output = '';
  proc.stderr!.on('data', (c: Buffer) => {
    audit?.write(c);
    output = (output + c.toString('utf8')).slice(-2000);
  });
  const exited = new Promise<void>((resolve) =>
    proc.on('exit', () => {
      audit?.end();
      resolve();
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('Azurite did not say where it listens within 60 s')), 60_000);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      audit?.write(`${line}\n`);
      output = (output + line + '\n').slice(-2000);
      const m = /successfully listens on https:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    void exited.then(() => {
      clearTimeout(t);
      reject(new Error(`Azurite exited before listening: ${output}`));
    });
  });
  return {
    accountUrl: `https://127.0.0.1:${port}/${ACCOUNT}`,
    caFile,
    caPem: ca.certPem,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 8_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Lists containers with a raw bearer token: Azurite's answer (status, and why authentication failed). */
export function listContainers(a: Azurite, token: string): Promise<{ status: number; body: string; authError?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${a.accountUrl}?comp=list`, { ca: a.caPem, headers: { authorization: `Bearer ${token}`, 'x-ms-version': '2021-12-02' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, authError: /<AuthenticationErrorDetail>([^<]*)/.exec(body)?.[1] ?? /<Message>([^<\n]*)/.exec(body)?.[1] }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}
