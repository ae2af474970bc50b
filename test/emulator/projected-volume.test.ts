import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { recordSecret } from '../helpers/audit.js';
import { jwtPart, postToken, tokenForm } from './helpers.js';

let emu: Emulator;
let root: string;

beforeAll(async () => {
  emu = await startEmulator();
  root = mkdtempSync(join(tmpdir(), 'emulator-projected-'));
});

afterAll(async () => {
  for (const s of emu.issuedSecrets()) recordSecret(s);
  await emu.close();
  rmSync(root, { recursive: true, force: true });
});

const timestamped = (dir: string) => readdirSync(dir).filter((n) => /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\./.test(n));

async function eventually(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 20));
}

describe('service-account tokens', () => {
  it('mints a Kubernetes-shaped token that the token endpoint accepts', async () => {
    const { token, jti, exp } = emu.mintServiceAccountToken({ namespace: 'shop', serviceAccount: 'cart', lifetimeSec: 600 });
    const header = jwtPart(token, 0);
    const claims = jwtPart(token, 1);
    expect(header.alg).toBe('RS256');
    expect(header.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(claims).toMatchObject({
      iss: emu.issuer,
      sub: 'system:serviceaccount:shop:cart',
      aud: ['api://AzureADTokenExchange'],
      jti,
      exp,
      'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'cart' } },
    });
    expect(claims.exp - claims.iat).toBe(600);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims['kubernetes.io'].pod.name).toMatch(/^cart-/);
    expect(claims['kubernetes.io'].pod.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(claims['kubernetes.io'].serviceaccount.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(emu.issuer).toMatch(/^https:\/\/oidc\.emulator\.local\/[0-9a-f]+$/);
    expect(emu.issuedSecrets()).toContain(token);
  });
});

describe("kubelet's projected-volume layout", () => {
  it('writes token -> ..data/token, ..data -> a timestamped folder, and swaps it on each write', async () => {
    const dir = join(root, 'layout');
    const first = emu.writeProjectedToken(dir);
    expect(first.path).toBe(join(dir, 'token'));
    expect(lstatSync(first.path).isSymbolicLink()).toBe(true);
    expect(readlinkSync(first.path)).toBe(join('..data', 'token'));
    const target1 = readlinkSync(join(dir, '..data'));
    expect(target1).toMatch(/^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\w+$/);
    expect(timestamped(dir)).toEqual([target1]);
    expect(jwtPart(readFileSync(first.path, 'utf8'), 1).jti).toBe(first.jti);

    // The token in the file is accepted by the token endpoint.
    expect((await postToken(emu, tokenForm(emu, { client_assertion: readFileSync(first.path, 'utf8') }))).status).toBe(200);

    const second = emu.writeProjectedToken(dir);
    const target2 = readlinkSync(join(dir, '..data'));
    expect(target2).not.toBe(target1);
    expect(jwtPart(readFileSync(second.path, 'utf8'), 1).jti).toBe(second.jti);
    expect(readdirSync(dir)).not.toContain('..data_tmp');
    await eventually(() => timestamped(dir).length === 1); // the superseded folder is removed
    expect(timestamped(dir)).toEqual([target2]);
  });

  it('rotates on an interval without a concurrent reader ever missing the file', async () => {
    const dir = join(root, 'rotating');
    const stop = emu.startRotation(dir, 15);
    expect(lstatSync(join(dir, 'token')).isSymbolicLink()).toBe(true); // written at once

    // A reader on another thread, so its opens really interleave with the renames.
    const reader = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const { readFileSync } = require('node:fs');
      const seen = new Set(); let reads = 0; const errors = [];
      const until = Date.now() + workerData.ms;
      while (Date.now() < until || seen.size < workerData.minDistinct) {
        try { const t = readFileSync(workerData.file, 'utf8'); if (t.split('.').length !== 3) errors.push('partial'); seen.add(t); reads++; }
        catch (e) { errors.push(e.code || String(e)); }
        if (Date.now() > until + 10000) break;
      }
      parentPort.postMessage({ reads, distinct: seen.size, errors: errors.slice(0, 5), errorCount: errors.length, tokens: [...seen] });
      `,
      { eval: true, workerData: { file: join(dir, 'token'), ms: 600, minDistinct: 5 } },
    );
    const result = await new Promise<{ reads: number; distinct: number; errors: string[]; errorCount: number; tokens: string[] }>((resolve, reject) => {
      reader.once('message', resolve);
      reader.once('error', reject);
    });
    stop();
    await reader.terminate();
    for (const t of result.tokens) recordSecret(t);
    expect(result.errors).toEqual([]);
    expect(result.errorCount).toBe(0);
    expect(result.distinct).toBeGreaterThanOrEqual(5);
    expect(result.reads).toBeGreaterThan(result.distinct);

    // After stop, no more rotations; the old folders are cleaned up.
    const settled = readlinkSync(join(dir, '..data'));
    await eventually(() => timestamped(dir).length === 1);
    expect(readlinkSync(join(dir, '..data'))).toBe(settled);
  });
});
