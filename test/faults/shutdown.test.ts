/**
 * Fault matrix, shutdown row: SIGTERM while an exchange hangs, and while token files are being
 * written. The sidecar exits 0 within 5 s (a native sidecar is stopped after the app; exit 0
 * keeps Jobs green) and leaves no partial or temp file. The 5 s bound is the contract with
 * Kubernetes' termination grace period, so it is asserted.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestEmulator } from '../helpers/emulator.js';
import { startSidecarProcess, type SidecarProcess } from '../helpers/sidecar.js';
import { startPair, tokenFile, waitUntil } from './harness.js';

const GRACE_MS = 5_000;

/** Sends SIGTERM; resolves with the exit code and how long the exit took. */
async function terminate(sp: SidecarProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const started = Date.now();
  sp.proc.kill('SIGTERM');
  const killer = setTimeout(() => sp.proc.kill('SIGKILL'), 10_000);
  const code = await sp.exited;
  clearTimeout(killer);
  return { code, signal: sp.proc.signalCode, ms: Date.now() - started };
}

/** Every token file in `dir` is whole: raw files are a JWT, .json files parse and hold one. */
function checkWhole(dir: string): { names: string[] } {
  const names = readdirSync(dir);
  expect(
    names.filter((n) => n.includes('.tmp-')),
    'no temp file left',
  ).toEqual([]);
  for (const n of names) {
    const text = readFileSync(join(dir, n), 'utf8');
    if (n.endsWith('.json')) {
      const j = JSON.parse(text) as { access_token: string; token_type: string };
      expect(j.access_token).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(j.token_type).toBe('Bearer');
    } else {
      expect(text, `${n} is a whole token`).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    }
  }
  return { names };
}

describe.concurrent('SIGTERM', () => {
  it('during a hung exchange (and an app request waiting on it): exit 0 within 5 s, files whole', async () => {
    const pair = await startPair({ lifetimeSec: 8 });
    const { emulator, sidecar } = pair;
    try {
      emulator.inject({ kind: 'hang' }, { durationMs: 60_000 });
      // the refresh (at about 2 s) hangs; an app asks for a new scope, which hangs too
      await waitUntil(() => emulator.exchanges.some((e) => e.error === 'fault:hang'), 'the refresh to hang', 15_000);
      const before = tokenFile(sidecar) as string;
      const waiting = fetch(`${sidecar.endpoint}/msi/token?api-version=2019-08-01&resource=${encodeURIComponent('https://vault.azure.net')}`, {
        headers: { 'X-IDENTITY-HEADER': sidecar.identityHeader },
      }).then(
        async (r) => ({ status: r.status, body: await r.text() }),
        (err: unknown) => ({ status: 0, body: String(err) }),
      );
      await waitUntil(() => emulator.exchanges.filter((e) => e.error === 'fault:hang').length >= 2, 'the on-demand exchange to hang', 10_000);

      const { code, signal, ms } = await terminate(sidecar);
      expect(signal).toBeNull();
      expect(code).toBe(0);
      expect(ms).toBeLessThan(GRACE_MS);
      const shutdownAt = sidecar.logs.findIndex((l) => l.msg === 'shutting down');
      expect(shutdownAt).toBeGreaterThan(0);
      // the aborted exchanges are said to be abandoned, not failures that "will retry"
      const after = sidecar.logs.slice(shutdownAt);
      expect(after.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('token refresh failed'))).toEqual([]);
      expect(after.some((l) => l.msg === 'exchange in flight abandoned: shutting down')).toBe(true);
      const answer = await waiting;
      // the waiting app gets an answer it can retry on, not a dropped connection
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'temporarily_unavailable', statusCode: 503 });
      expect(tokenFile(sidecar)).toBe(before);
      checkWhole(sidecar.tokenDir);
    } finally {
      await pair.close();
    }
  });

  it('during file writes (30 targets written at once): exit 0 within 5 s, no partial or temp file', async () => {
    const emulator = await startTestEmulator({ tokenLifetimeSec: 60 });
    const targets = Array.from({ length: 30 }, (_, i) => `t${i}=https://res${i}.example.com/.default`).join(',');
    try {
      let caught = false;
      for (let attempt = 1; attempt <= 3 && !caught; attempt++) {
        const sidecar = await startSidecarProcess({ emulator, tokens: targets });
        try {
          await sidecar.waitForLog((l) => l.msg === 'token refreshed');
          sidecar.proc.kill('SIGTERM');
          // how far the writes had got when the signal went out
          const atSignal = readdirSync(sidecar.tokenDir).filter((n) => !n.includes('.tmp-')).length;
          const started = Date.now();
          const killer = setTimeout(() => sidecar.proc.kill('SIGKILL'), 10_000);
          const code = await sidecar.exited;
          clearTimeout(killer);
          expect(code).toBe(0);
          expect(Date.now() - started).toBeLessThan(GRACE_MS);
          const { names } = checkWhole(sidecar.tokenDir);
          // every token obtained before shutdown began was written out in full, both files
          const shutdownAt = sidecar.logs.findIndex((l) => l.msg === 'shutting down');
          expect(shutdownAt).toBeGreaterThan(0);
          const refreshed = sidecar.logs
            .slice(0, shutdownAt)
            .filter((l) => l.msg === 'token refreshed')
            .map((l) => l.target as string);
          for (const t of refreshed) expect(names).toEqual(expect.arrayContaining([t, `${t}.json`]));
          caught = atSignal < 60;
        } finally {
          await sidecar.stop('SIGKILL');
        }
      }
      expect(caught, 'SIGTERM arrived while files were still being written in one of 3 attempts').toBe(true);
    } finally {
      await emulator.close();
    }
  });

  it('a temp file left by a killed process is removed at the next start; token files are kept', async () => {
    const pair = await startPair({ lifetimeSec: 30 });
    const { emulator, sidecar } = pair;
    try {
      const dir = sidecar.tokenDir;
      const whole = tokenFile(sidecar) as string;
      await sidecar.stop('SIGKILL');
      // what a SIGKILL between open and rename leaves behind
      writeFileSync(join(dir, 'storage.json.tmp-0123456789ab'), '{"access_tok');
      writeFileSync(join(dir, 'storage.tmp-0123456789ab'), 'eyJ');
      const again = await startSidecarProcess({ emulator, tokenDir: dir });
      try {
        expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
        expect(readFileSync(join(dir, 'storage'), 'utf8')).toMatch(/^eyJ/);
        await again.waitReady();
        checkWhole(dir);
        expect(whole).toMatch(/^eyJ/);
      } finally {
        await again.stop();
      }
    } finally {
      await pair.close();
    }
  });
});
