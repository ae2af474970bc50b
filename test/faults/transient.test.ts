/**
 * Fault matrix, transient rows: Entra 5xx, 429 with Retry-After, a hung exchange, a reset
 * connection, a garbled 200 and a proxy's HTML page. Each runs against its own emulator and
 * sidecar process: the held token keeps being served without a single failed request, the fault
 * shows in /metrics and in one clear log line, and a fresh token arrives once it clears.
 */
import { describe, expect, it } from 'vitest';
import type { Fault } from '../../src/emulator/index.js';
import { recordSecret } from '../helpers/audit.js';
import { alive, metricsText, metricValue, pollEndpoint, readyz, startPair, tokenFile, waitForFailureLog, waitForFreshToken, type Pair } from './harness.js';

interface Row {
  fault: Fault | ((pair: Pair) => Fault);
  /** consecutive token responses that get the fault */
  count: number;
  reason: string;
  /** what the log line must say */
  message: RegExp;
  env?: Record<string, string>;
}

/**
 * Starts a pair, injects `count` faults (they hit the first proactive refresh, about 4 s in),
 * polls the endpoint throughout, and checks serving, metrics, the log and the recovery.
 */
async function runTransientRow(row: Row): Promise<{ pair: Pair; line: Record<string, unknown> & { msg: string }; failedAt: number[]; nextAt: number }> {
  const pair = await startPair({ lifetimeSec: 16, sidecar: { env: row.env } });
  const { emulator, sidecar } = pair;
  try {
    expect(tokenFile(sidecar)).toMatch(/^eyJ/);
    const from = emulator.exchanges.length;
    emulator.inject(typeof row.fault === 'function' ? row.fault(pair) : row.fault, { count: row.count });
    const poll = pollEndpoint(sidecar);

    const line = await waitForFailureLog(sidecar, row.reason);
    expect(line.msg).toMatch(row.message);
    expect(line.target).toBe('storage');
    expect(line.retryable).toBe(true);
    // the token held while the fault lasts (the first refresh may have replaced the initial one)
    const held = tokenFile(sidecar) as string;

    const fresh = await waitForFreshToken(pair, held);
    // the file can appear between two polls: let the poller see the fresh token before stopping
    const seen = await poll.stop(fresh);
    expect(seen.failures, 'every request during the fault is answered 200').toEqual([]);
    expect(seen.ok, 'the app kept asking during the fault').toBeGreaterThan(5);
    expect(seen.tokens.has(fresh)).toBe(true);
    expect(alive(sidecar)).toBe(true);

    const m = await metricsText(sidecar);
    expect(metricValue(m, 'entra_sidecar_exchange_errors_total', { target: 'storage', reason: row.reason })).toBe(row.count);
    expect(metricValue(m, 'entra_sidecar_refreshes_total', { target: 'storage', result: 'failure' })).toBe(row.count);
    expect(metricValue(m, 'entra_sidecar_refreshes_total', { target: 'storage', result: 'success' })).toBeGreaterThanOrEqual(2);
    expect((await readyz(sidecar)).status).toBe(200);

    // (the first refresh after start may land before the injection: look for the faulted answers)
    const after = emulator.exchanges.slice(from);
    const start = after.findIndex((e) => e.error !== undefined);
    const faulted = after.slice(start, start + row.count);
    expect(
      faulted.every((e) => e.error !== undefined),
      'the fault answered `count` consecutive exchanges',
    ).toBe(true);
    const next = after[start + row.count];
    expect(next?.status, 'then a token').toBe(200);
    expect(next?.error).toBeUndefined();
    return { pair, line, failedAt: faulted.map((e) => e.at), nextAt: (next as { at: number }).at };
  } catch (err) {
    await pair.close();
    throw err;
  }
}

describe.concurrent('transient Entra faults: served from the held token, retried, recovered', () => {
  for (const status of [500, 502, 503]) {
    it(`Entra ${status}: retry with backoff, log names the status`, async () => {
      const { pair, failedAt } = await runTransientRow({
        fault: { kind: 'status', status },
        count: 3,
        reason: `http_${status}`,
        message: new RegExp(`^token refresh failed: Entra answered HTTP ${status}: AADSTS90033.*; will retry$`),
      });
      try {
        // backoff, not a hot loop: three attempts are spread out (each wait ≥ 100 ms)
        for (let i = 1; i < failedAt.length; i++) expect((failedAt[i] as number) - (failedAt[i - 1] as number)).toBeGreaterThanOrEqual(90);
        const retryIn = pair.sidecar.logs.filter((l) => l.reason === `http_${status}`).map((l) => l.retryInS as number);
        expect(retryIn.every((s) => s >= 0 && s <= 4)).toBe(true);
      } finally {
        await pair.close();
      }
    });
  }

  it('429 with Retry-After: the next attempt waits at least Retry-After', async () => {
    const { pair, failedAt, nextAt, line } = await runTransientRow({
      fault: { kind: 'retry-after', seconds: 3 },
      count: 1,
      reason: 'http_429',
      message: /^token refresh failed: Entra answered HTTP 429: .*; will retry$/,
    });
    try {
      expect(nextAt - (failedAt[0] as number)).toBeGreaterThanOrEqual(3_000);
      expect(line.retryInS).toBeGreaterThanOrEqual(3);
    } finally {
      await pair.close();
    }
  });

  it('exchange hangs: timed out (ENTRA_SIDECAR_EXCHANGE_TIMEOUT), then retried', async () => {
    const { pair, failedAt, nextAt } = await runTransientRow({
      fault: { kind: 'hang' },
      count: 1,
      reason: 'timeout',
      env: { ENTRA_SIDECAR_EXCHANGE_TIMEOUT: '2s' },
      message: /^token refresh failed: no answer from Entra within 2 s; will retry$/,
    });
    try {
      expect(nextAt - (failedAt[0] as number)).toBeGreaterThanOrEqual(2_000);
    } finally {
      await pair.close();
    }
  });

  it('connection reset: retried, logged as a network failure', async () => {
    const { pair } = await runTransientRow({
      fault: { kind: 'reset' },
      count: 2,
      reason: 'network',
      message: /^token refresh failed: cannot reach Entra \((ECONNRESET|socket hang up)\); will retry$/,
    });
    await pair.close();
  });

  it('malformed JSON (a cut-off 200 with a token inside): logged with the status and an excerpt, never the token', async () => {
    let leaked = '';
    const { pair, line } = await runTransientRow({
      fault: (p) => {
        // a truncated answer that carries a whole JWT: the excerpt must not repeat it
        leaked = p.emulator.mintServiceAccountToken().token;
        recordSecret(leaked);
        return {
          kind: 'status',
          status: 200,
          body: `{"token_type":"Bearer","expires_in":3599,"access_token":"${leaked}`,
          headers: { 'content-type': 'application/json' },
        };
      },
      count: 1,
      reason: 'malformed_response',
      message:
        /^token refresh failed: Entra's token endpoint answered HTTP 200 with a body that is not Entra's JSON \(a proxy in between\?\): ".*token_type.*\[redacted\]/,
    });
    try {
      expect(line.msg.length).toBeLessThan(400);
      const all = JSON.stringify(pair.sidecar.logs) + pair.sidecar.stderr.join('\n');
      expect(all).not.toContain(leaked);
      expect(all).not.toContain(leaked.split('.')[1]);
    } finally {
      await pair.close();
    }
  });

  it("malformed JSON (the emulator's truncated token response): retried", async () => {
    const { pair } = await runTransientRow({
      fault: { kind: 'malformed-json' },
      count: 2,
      reason: 'malformed_response',
      message: /answered HTTP 200 with a body that is not Entra's JSON .*: ".*expires_in.*"$/,
    });
    await pair.close();
  });

  it("a proxy's HTML error page: logged with the status and a short excerpt", async () => {
    const { pair, line } = await runTransientRow({
      fault: { kind: 'html', status: 502 },
      count: 2,
      reason: 'http_502',
      message: /^token refresh failed: Entra answered HTTP 502: "502 Bad Gateway 502 Bad Gateway nginx"; will retry$/,
    });
    try {
      expect(line.msg).not.toContain('<');
    } finally {
      await pair.close();
    }
  });
});
