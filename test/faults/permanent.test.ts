/**
 * Fault matrix, permanent rows: AADSTS70021 (no matching federated credential), 700016 (unknown
 * client id), 90002 (unknown tenant) back off at the 60 s cap, keep /readyz false while no token
 * is held, and log the fix; AADSTS700024 (assertion outside its validity) makes the sidecar read
 * the service-account token file again and retry at once, once.
 *
 * The sidecar runs with the test-only backoff override (ENTRA_SIDECAR_TEST_BACKOFF, accepted only
 * against a loopback emulator) so the cap is 20 s instead of 60 s (long enough for the checks made between two attempts on a loaded machine); the policy itself (cap, jitter,
 * Retry-After) is proven with a fake clock in test/identity/refresh-policy.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { openSync, closeSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeJwt, serviceAccountSubject, type Emulator } from '../../src/emulator/index.js';
import { alive, metricsText, metricValue, pollEndpoint, readyz, sleep, startPair, STORAGE, tokenFile, waitForFailureLog, waitUntil } from './harness.js';

const CAP_MS = 20_000;
/** The sidecar's env for these tests: the product's policy with a 20 s cap. */
const FAST = { ENTRA_SIDECAR_TEST_BACKOFF: `200ms/${CAP_MS / 1000}s` };

interface PermanentRow {
  code: number;
  /** makes Entra refuse; returns how to fix it */
  breakIt(e: Emulator): () => void;
  /** the fix the log line must name */
  fix: RegExp;
}

const rows: PermanentRow[] = [
  {
    code: 70021,
    // the real thing: the app registration has no federated credential matching the token
    breakIt: (e) => {
      e.removeFederatedCredentials(e.clientId);
      return () => e.addFederatedCredential({ clientId: e.clientId, issuer: e.issuer, subject: serviceAccountSubject('default', 'workload') });
    },
    fix: /fix: add or fix the federated identity credential .* issuer, subject and audience/,
  },
  {
    code: 700016,
    breakIt: (e) => {
      e.inject({ kind: 'aadsts', code: 700016 }, { count: 1 });
      return () => undefined; // the injected refusal is used up by the first attempt
    },
    fix: /fix: check AZURE_CLIENT_ID/,
  },
  {
    code: 90002,
    breakIt: (e) => {
      e.inject({ kind: 'aadsts', code: 90002 }, { count: 1 });
      return () => undefined;
    },
    fix: /fix: check AZURE_TENANT_ID .* AZURE_AUTHORITY_HOST/,
  },
];

describe.concurrent('permanent Entra refusals', () => {
  for (const row of rows) {
    it(
      `AADSTS${row.code} before any token: not ready, backoff at the cap, the log names the fix, recovers after the cap`,
      async () => {
        let fix: () => void = () => undefined;
        const pair = await startPair({
          ready: false,
          before: (e) => {
            fix = row.breakIt(e);
          },
          sidecar: { env: FAST },
        });
        const { emulator, sidecar } = pair;
        try {
          const line = await waitForFailureLog(sidecar, `AADSTS${row.code}`);
          expect(line.level === 'error' || line.level === 50).toBe(true);
          expect(line.msg).toMatch(
            new RegExp(`^token refresh failed: Entra refused the exchange \\(HTTP 400, \\w+\\): AADSTS${row.code}: .* — ${row.fix.source}`),
          );
          expect(line).toMatchObject({ retryable: false, retryInS: CAP_MS / 1000, clientId: emulator.clientId, tenantId: emulator.tenantId, aadsts: row.code });
          // the assertion's iss/sub/aud, to compare with the federated credential
          expect(line.assertionClaims).toEqual({
            iss: emulator.issuer,
            sub: serviceAccountSubject('default', 'workload'),
            aud: ['api://AzureADTokenExchange'],
          });

          const r = await readyz(sidecar);
          expect(r.status).toBe(503);
          expect(r.body.targets[0]).toMatchObject({ name: 'storage', ready: false });
          expect(r.body.targets[0]?.lastError).toContain(`AADSTS${row.code}`);
          const m = await metricsText(sidecar);
          expect(metricValue(m, 'entra_sidecar_exchange_errors_total', { target: 'storage', reason: `AADSTS${row.code}` })).toBe(1);
          expect(metricValue(m, 'entra_sidecar_refreshes_total', { target: 'storage', result: 'failure' })).toBe(1);
          expect(metricValue(m, 'entra_sidecar_ready', {})).toBe(0);

          // the app asking meanwhile gets the refusal passed on, and does not make the sidecar call Entra
          const answer = await fetch(`${sidecar.endpoint}/msi/token?api-version=2019-08-01&resource=${encodeURIComponent(STORAGE)}`, {
            headers: { 'X-IDENTITY-HEADER': sidecar.identityHeader },
          });
          expect(answer.status).toBe(400);
          expect(((await answer.json()) as { message: string }).message).toContain(`AADSTS${row.code}`);

          // fixed at once: a retry before the cap would succeed early, so the one retry's time proves the backoff
          fix();
          await sidecar.waitReady(CAP_MS + 15_000);
          const [failed, next, ...more] = emulator.exchanges;
          expect(next?.status).toBe(200);
          expect(more, 'one retry, at the cap').toEqual([]);
          expect((next?.at as number) - (failed?.at as number)).toBeGreaterThanOrEqual(CAP_MS - 1_000);
          expect(alive(sidecar)).toBe(true);
          expect(tokenFile(sidecar)).toMatch(/^eyJ/);
        } finally {
          await pair.close();
        }
      },
      CAP_MS + 60_000,
    );
  }

  it('AADSTS70021 with a token held: the held token is served until it expires, then /readyz turns false', async () => {
    const pair = await startPair({ lifetimeSec: 12 });
    const { emulator, sidecar } = pair;
    try {
      emulator.removeFederatedCredentials(emulator.clientId);
      const poll = pollEndpoint(sidecar);
      const line = await waitForFailureLog(sidecar, 'AADSTS70021');
      expect(line.msg).toContain('No matching federated identity record found for presented assertion');
      expect(line.retryInS, "the product's 60 s cap: this test keeps the real policy").toBe(60);
      // the token held when the refusal came (the first refresh may have landed before it)
      const held = tokenFile(sidecar) as string;
      const expiresOnMs = (decodeJwt(held)?.payload as { exp: number }).exp * 1000;
      expect((await readyz(sidecar)).status, 'ready while the held token is valid').toBe(200);
      // poll on until shortly before the held token expires
      await sleep(Math.max(0, expiresOnMs - Date.now() - 1_500));
      const seen = await poll.stop();
      expect(seen.failures).toEqual([]);
      expect(seen.tokens.has(held)).toBe(true);
      await waitUntil(async () => (await readyz(sidecar)).status === 503, 'readyz false once the token expired', 10_000);
      expect(metricValue(await metricsText(sidecar), 'entra_sidecar_exchange_errors_total', { reason: 'AADSTS70021' })).toBe(1);
      expect(alive(sidecar)).toBe(true);
    } finally {
      await pair.close();
    }
  }, 120_000);

  describe('AADSTS700024: the token file is read again and the exchange retried at once, once', () => {
    it('the retry carries a new assertion (new jti) and succeeds; nothing fails for the app', async () => {
      const feed = await startTokenFeed();
      const pair = await startPair({ before: feed.attach, sidecar: { tokenFile: feed.path } });
      const { emulator, sidecar } = pair;
      try {
        const from = emulator.exchanges.length;
        emulator.inject({ kind: 'aadsts', code: 700024 }, { count: 1 });
        const poll = pollEndpoint(sidecar);
        const refusedAt = (): number => emulator.exchanges.findIndex((e, i) => i >= from && e.error === 'AADSTS700024');
        await waitUntil(() => refusedAt() >= 0 && emulator.exchanges[refusedAt() + 1]?.status === 200, 'the retry after AADSTS700024', 20_000);
        const seen = await poll.stop();
        const [refused, retried] = emulator.exchanges.slice(refusedAt());
        expect(refused).toMatchObject({ status: 400, error: 'AADSTS700024' });
        expect(retried?.status).toBe(200);
        expect(retried?.jti).toBeDefined();
        expect(retried?.jti, 'the retry read the file again').not.toBe(refused?.jti);
        expect(feed.served).toContain(retried?.jti);
        expect(seen.failures).toEqual([]);
        const m = await metricsText(sidecar);
        expect(
          metricValue(m, 'entra_sidecar_refreshes_total', { target: 'storage', result: 'failure' }),
          'retried at once: no failed refresh, no backoff',
        ).toBe(0);
        // the refusal is still visible: counted and logged once
        expect(metricValue(m, 'entra_sidecar_exchange_errors_total', { target: 'storage', reason: 'AADSTS700024' })).toBe(1);
        const line = await sidecar.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('AADSTS700024'), 5_000);
        expect(line.msg).toContain(`reading ${feed.path} again and retrying at once`);
        expect(line.level).toBe('warn');
        expect(alive(sidecar)).toBe(true);
      } finally {
        await pair.close();
        feed.stop();
      }
    }, 120_000);

    it(
      'refused twice: exactly two attempts, then a failure at the cap',
      async () => {
        const feed = await startTokenFeed();
        const pair = await startPair({ before: feed.attach, sidecar: { tokenFile: feed.path, env: FAST } });
        const { emulator, sidecar } = pair;
        try {
          const from = emulator.exchanges.length;
          emulator.inject({ kind: 'aadsts', code: 700024 }, { count: 2 });
          const line = await waitForFailureLog(sidecar, 'AADSTS700024');
          expect(line.retryInS).toBe(CAP_MS / 1000);
          expect(line.msg).toMatch(/service-account token expired or is not yet valid/);
          // the next exchange after the two refusals is the one at the cap (the injected refusals are used up, so it succeeds)
          const first = (): number => emulator.exchanges.findIndex((e, i) => i >= from && e.error === 'AADSTS700024');
          await waitUntil(() => emulator.exchanges[first() + 2]?.status === 200, 'the retry at the cap', CAP_MS + 15_000);
          const attempts = emulator.exchanges.slice(first(), first() + 3);
          expect(attempts.map((e) => e.error ?? e.status)).toEqual(['AADSTS700024', 'AADSTS700024', 200]);
          expect(attempts[1]?.jti).not.toBe(attempts[0]?.jti);
          expect((attempts[2]?.at as number) - (attempts[1]?.at as number), 'two attempts, then nothing until the cap').toBeGreaterThanOrEqual(CAP_MS - 1_000);
          expect(alive(sidecar)).toBe(true);
        } finally {
          await pair.close();
          feed.stop();
        }
      },
      CAP_MS + 120_000,
    );
  });
});

/**
 * A service-account token "file" that is a named pipe: every open reads a freshly minted token,
 * so each exchange's assertion has its own jti, whatever the timing. Records the jtis served.
 */
async function startTokenFeed(): Promise<{ path: string; served: string[]; attach(e: Emulator): void; stop(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'entra-feed-'));
  const path = join(dir, 'token');
  execFileSync('mkfifo', [path]);
  const served: string[] = [];
  let stopped = false;
  return {
    path,
    served,
    attach(e: Emulator) {
      void (async () => {
        while (!stopped) {
          const { token, jti } = e.mintServiceAccountToken();
          try {
            await writeFile(path, token); // blocks until the sidecar opens the pipe
            served.push(jti);
          } catch {
            // reader went away (EPIPE) or the feed stopped
          }
          // let the reader see end-of-file before the next writer opens the pipe (else it would
          // read two tokens back to back)
          await sleep(100);
        }
      })();
    },
    stop() {
      stopped = true;
      // unblock a writer waiting for a reader
      try {
        closeSync(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
      } catch {
        // already gone
      }
      setTimeout(() => rmSync(dir, { recursive: true, force: true }), 200).unref();
    },
  };
}
