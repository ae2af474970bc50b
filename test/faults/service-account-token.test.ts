/**
 * Fault matrix, service-account token rows: the projected token file goes missing, empty, holds
 * something that is not a JWT, holds an expired token, or cannot be read. The sidecar keeps
 * serving the held token, names the file and the problem in its log, counts the failure as
 * reason="federated_token", and recovers as soon as the file is fixed (as kubelet would).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestEmulator } from '../helpers/emulator.js';
import { startSidecarProcess } from '../helpers/sidecar.js';
import {
  alive,
  metricsText,
  metricValue,
  permissionsApply,
  pollEndpoint,
  readyz,
  startPair,
  tokenFile,
  waitForFreshToken,
  waitForMetric,
  waitUntil,
  type Pair,
} from './harness.js';

interface Row {
  name: string;
  /** breaks the file at `path` (kubelet layout: `path` -> ..data/token); returns the fix */
  breakIt(pair: Pair, path: string): () => void;
  problem: RegExp;
  wrapper?: string[];
}

const rotate = (pair: Pair, path: string) => () => {
  pair.emulator.writeProjectedToken(join(path, '..'));
};

const unreadable = permissionsApply();

const rows: Row[] = [
  {
    name: 'missing',
    breakIt: (p, path) => {
      rmSync(path);
      return rotate(p, path);
    },
    problem: /does not exist: check the projected service-account token volume is mounted and AZURE_FEDERATED_TOKEN_FILE points at it$/,
  },
  {
    name: 'empty',
    breakIt: (p, path) => {
      writeFileSync(path, '');
      return rotate(p, path);
    },
    problem: /is empty: kubelet has not written the token yet, or the volume is wrong$/,
  },
  {
    name: 'not a JWT',
    breakIt: (p, path) => {
      writeFileSync(path, 'this is not a token\n');
      return rotate(p, path);
    },
    problem: /does not hold a JWT: it must be a projected service-account token/,
  },
  {
    name: 'expired',
    breakIt: (p, path) => {
      p.emulator.writeProjectedToken(join(path, '..'), { lifetimeSec: -120 });
      return rotate(p, path);
    },
    problem: /holds a token that expired at \d{4}-\d\d-\d\dT[\d:.]+Z: kubelet should rotate it; check the kubelet and the volume's expirationSeconds$/,
  },
  {
    name: 'a folder (EISDIR)',
    breakIt: (p, path) => {
      rmSync(path);
      execFileSync('mkdir', [path]);
      return () => {
        rmSync(path, { recursive: true });
        rotate(p, path)();
      };
    },
    problem: /is a folder: AZURE_FEDERATED_TOKEN_FILE must name the token file itself$/,
  },
];
if ('wrapper' in unreadable) {
  rows.push({
    name: 'unreadable (mode 000)',
    wrapper: unreadable.wrapper,
    breakIt: (_p, path) => {
      const real = realpathSync(path);
      chmodSync(real, 0o000);
      return () => chmodSync(real, 0o644);
    },
    problem: /is not readable by this user: check the volume permissions \(fsGroup\) or the container user$/,
  });
}

describe.concurrent('service-account token file faults', () => {
  for (const row of rows) {
    it(`${row.name}: no crash, the held token is served, the log names the file and the problem, recovers when fixed`, async () => {
      const pair = await startPair({ lifetimeSec: 16, sidecar: { wrapper: row.wrapper } });
      const { sidecar } = pair;
      try {
        const fix = row.breakIt(pair, sidecar.tokenFile);
        const poll = pollEndpoint(sidecar);
        // two failed attempts: it keeps retrying while the file is broken
        await waitForMetric(sidecar, 'entra_sidecar_refreshes_total', { target: 'storage', result: 'failure' }, 2, 20_000);
        const lines = sidecar.logs.filter((l) => l.reason === 'federated_token');
        expect(lines.length).toBeGreaterThanOrEqual(2);
        for (const l of lines) {
          expect(l.msg).toMatch(new RegExp(`^token refresh failed: service-account token file ${escapeRegExp(sidecar.tokenFile)} ${row.problem.source}`));
          expect(l.retryable).toBe(true);
        }
        const held = tokenFile(sidecar) as string;
        fix();
        await waitForFreshToken(pair, held, 20_000);
        const seen = await poll.stop();
        expect(seen.failures).toEqual([]);
        expect(seen.ok, 'the app kept asking during the fault').toBeGreaterThan(5);
        const m = await metricsText(sidecar);
        expect(metricValue(m, 'entra_sidecar_exchange_errors_total', { target: 'storage', reason: 'federated_token' })).toBeGreaterThanOrEqual(2);
        expect((await readyz(sidecar)).status).toBe(200);
        expect(alive(sidecar)).toBe(true);
      } finally {
        await pair.close();
      }
    });
  }
  if ('skip' in unreadable) it.skip(`unreadable (mode 000): ${unreadable.skip}`, () => undefined);

  it('missing at start: not ready, no crash; ready once kubelet writes it', async () => {
    const emulator = await startTestEmulator({ tokenLifetimeSec: 16 });
    const dir = mkdtempSync(join(tmpdir(), 'entra-sa-'));
    const sidecar = await startSidecarProcess({ emulator, tokenFile: join(dir, 'token') });
    try {
      const line = await sidecar.waitForLog((l) => l.reason === 'federated_token');
      expect(line.msg).toContain(`service-account token file ${join(dir, 'token')} does not exist`);
      const r = await readyz(sidecar);
      expect(r.status).toBe(503);
      expect(r.body.targets[0]?.lastError).toContain('does not exist');
      const answer = await fetch(`${sidecar.endpoint}/msi/token?api-version=2019-08-01&resource=https://storage.azure.com/`, {
        headers: { 'X-IDENTITY-HEADER': sidecar.identityHeader },
      });
      expect(answer.status, 'transient: 503, never a 400 that SDKs treat as final').toBe(503);
      expect(emulator.exchanges.length).toBe(0);
      emulator.writeProjectedToken(dir);
      await sidecar.waitReady(20_000);
      await waitUntil(() => emulator.exchanges.some((e) => e.status === 200), 'a token exchange');
      expect(alive(sidecar)).toBe(true);
    } finally {
      await sidecar.stop('SIGKILL');
      await emulator.close();
    }
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
