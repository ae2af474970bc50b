/**
 * The checkable claims of SECURITY.md that no other test covers: the token endpoint binds to
 * loopback only (a non-loopback ENTRA_SIDECAR_LISTEN is refused by the config parser,
 * test/config/sidecar.test.ts, and at the process level by test/integration/cli.test.ts), the health port
 * never serves a token, the secret header comparison goes through timingSafeEqual, X-Forwarded-For
 * is refused, and the IMDS/MSI flavours can be switched off.
 */
import { statSync } from 'node:fs';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { secretMatches } from '../../src/sidecar/endpoint/request.js';
import { startPair, STORAGE, tokenFile, type Pair } from './harness.js';

const crypto = vi.hoisted(() => ({ calls: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      crypto.calls++;
      return actual.timingSafeEqual(a, b);
    },
  };
});

describe('secretMatches (the X-IDENTITY-HEADER check)', () => {
  const expected = Buffer.from('0123456789abcdef0123456789abcdef', 'utf8');

  it('accepts only the exact secret', () => {
    expect(secretMatches('0123456789abcdef0123456789abcdef', expected)).toBe(true);
    expect(secretMatches('0123456789abcdef0123456789abcdeF', expected)).toBe(false); // case matters
    expect(secretMatches('0123456789abcdef0123456789abcde', expected)).toBe(false); // a prefix
    expect(secretMatches('0123456789abcdef0123456789abcdef0', expected)).toBe(false); // longer
    expect(secretMatches('', expected)).toBe(false);
    expect(secretMatches(' 0123456789abcdef0123456789abcdef', expected)).toBe(false);
    // same number of characters, different bytes
    expect(secretMatches('0123456789abcdef0123456789abcdeé', expected)).toBe(false);
    // the header sent twice arrives as an array: refused
    expect(secretMatches(['0123456789abcdef0123456789abcdef', '0123456789abcdef0123456789abcdef'], expected)).toBe(false);
  });

  it('compares through crypto.timingSafeEqual, whether the lengths match or not', () => {
    crypto.calls = 0;
    secretMatches('0123456789abcdef0123456789abcdef', expected);
    expect(crypto.calls).toBe(1);
    secretMatches('x'.repeat(32), expected);
    expect(crypto.calls).toBe(2);
    // a wrong length still costs a constant-time comparison (of the secret with itself)
    secretMatches('short', expected);
    expect(crypto.calls).toBe(3);
  });
});

describe('a running sidecar', () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await startPair({ lifetimeSec: 600, sidecar: { env: { ENTRA_SIDECAR_FILE_MODE: '0600' } } });
  });
  afterAll(async () => {
    await pair?.close();
  });

  it('the health port never serves a token, on any token path or flavour', async () => {
    const { sidecar } = pair;
    const secret = { 'X-IDENTITY-HEADER': sidecar.identityHeader, Metadata: 'true' };
    const q = `api-version=2019-08-01&resource=${encodeURIComponent(STORAGE)}`;
    const attempts: [string, RequestInit][] = [
      [`/msi/token?${q}`, { headers: secret }],
      [`//msi/token/?${q}`, { headers: secret }],
      [`/MSI/TOKEN?${q}`, { headers: secret }],
      [`/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent(STORAGE)}`, { headers: secret }],
      [`/metadata/identity/oauth2/token/?api-version=2018-02-01&resource=${encodeURIComponent(STORAGE)}`, { headers: secret }],
      [
        '/msi/token',
        { method: 'POST', headers: { ...secret, 'content-type': 'application/x-www-form-urlencoded' }, body: `resource=${encodeURIComponent(STORAGE)}` },
      ],
    ];
    const held = tokenFile(sidecar) as string;
    for (const [path, init] of attempts) {
      const r = await fetch(`${sidecar.health}${path}`, init);
      const text = await r.text();
      expect(r.status, path).toBe(404);
      expect(text).not.toContain('access_token');
      expect(text).not.toContain(held);
    }
    // and what it does serve carries no token either
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const r = await fetch(`${sidecar.health}${path}`);
      expect(r.status, path).toBe(200);
      const text = await r.text();
      expect(text).not.toContain(held);
      expect(text).not.toContain(sidecar.identityHeader);
    }
  });

  it('the token endpoint is not reachable on the pod network address', async () => {
    const { sidecar } = pair;
    const port = Number(new URL(sidecar.endpoint).port);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && !a.internal && a.family === 'IPv4');
    if (!external) return; // no non-loopback interface on this machine: nothing to connect to
    const outcome = await new Promise<string>((resolve) => {
      const s = net.connect(port, external.address);
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(outcome).toBe('ECONNREFUSED');
  });

  it('X-Forwarded-For is refused even with the right secret (SSRF through a proxy)', async () => {
    const { sidecar } = pair;
    const r = await fetch(`${sidecar.endpoint}/msi/token?api-version=2019-08-01&resource=${encodeURIComponent(STORAGE)}`, {
      headers: { 'X-IDENTITY-HEADER': sidecar.identityHeader, 'X-Forwarded-For': '203.0.113.7' },
    });
    expect(r.status).toBe(400);
    const body = (await r.json()) as Record<string, unknown>;
    expect(body.access_token).toBeUndefined();
    expect(body.message).toMatch(/X-Forwarded-For/);
  });

  it('token files get the configured mode (ENTRA_SIDECAR_FILE_MODE=0600)', () => {
    const { sidecar } = pair;
    expect(statSync(join(sidecar.tokenDir, 'storage')).mode & 0o777).toBe(0o600);
    expect(statSync(join(sidecar.tokenDir, 'storage.json')).mode & 0o777).toBe(0o600);
  });
});

describe('ENTRA_SIDECAR_FLAVOURS=app-service', () => {
  it('turns the IMDS and MSI_ENDPOINT flavours off: Metadata: true alone gets no token', async () => {
    const pair = await startPair({ lifetimeSec: 600, sidecar: { env: { ENTRA_SIDECAR_FLAVOURS: 'app-service' } } });
    try {
      const { sidecar } = pair;
      const imds = await fetch(`${sidecar.endpoint}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent(STORAGE)}`, {
        headers: { Metadata: 'true' },
      });
      expect(imds.status).toBe(404);
      expect(await imds.text()).not.toContain('access_token');
      const msi = await fetch(`${sidecar.endpoint}/msi/token`, {
        method: 'POST',
        headers: { Metadata: 'true', 'content-type': 'application/x-www-form-urlencoded' },
        body: `resource=${encodeURIComponent(STORAGE)}`,
      });
      expect(msi.status).toBe(404);
      expect(await msi.text()).not.toContain('access_token');
      const appService = await fetch(`${sidecar.endpoint}/msi/token?api-version=2019-08-01&resource=${encodeURIComponent(STORAGE)}`, {
        headers: { 'X-IDENTITY-HEADER': sidecar.identityHeader },
      });
      expect(appService.status).toBe(200);
    } finally {
      await pair.close();
    }
  });
});

describe('the new-scope budget (issue 17, finding 4)', () => {
  it('a caller looping over made-up resources gets 503 with Retry-After past the budget, without an exchange, counted, and one log line', async () => {
    const pair = await startPair({ lifetimeSec: 600, sidecar: { env: { ENTRA_SIDECAR_NEW_SCOPE_BURST: '3', ENTRA_SIDECAR_NEW_SCOPES_PER_MINUTE: '1' } } });
    try {
      const { sidecar, emulator } = pair;
      const before = emulator.exchangeCount();
      const answers: Array<{ status: number; retryAfter: string | null; body: Record<string, unknown> }> = [];
      for (let i = 0; i < 8; i++) {
        const r = await fetch(
          `${sidecar.endpoint}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent(`https://app-${i}.example.com`)}`,
          { headers: { Metadata: 'true' } },
        );
        answers.push({ status: r.status, retryAfter: r.headers.get('retry-after'), body: (await r.json()) as Record<string, unknown> });
      }
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 503, 503, 503, 503, 503]);
      expect(emulator.exchangeCount() - before, 'only the budget reached Entra').toBe(3);
      const refused = answers[3]!;
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(50);
      expect(Number(refused.retryAfter)).toBeLessThanOrEqual(60);
      expect(String(refused.body.error_description)).toContain('ENTRA_SIDECAR_NEW_SCOPE_BURST');
      expect(refused.body.access_token).toBeUndefined();
      // the held ones and the configured target are still answered
      const again = await fetch(
        `${sidecar.endpoint}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent('https://app-0.example.com')}`,
        { headers: { Metadata: 'true' } },
      );
      expect(again.status).toBe(200);
      const metrics = await (await fetch(`${sidecar.health}/metrics`)).text();
      expect(metrics).toMatch(/^entra_sidecar_new_scopes_refused_total 5$/m);
      expect(sidecar.logs.filter((l) => String(l.msg).startsWith('new-scope budget used up'))).toHaveLength(1);
    } finally {
      await pair.close();
    }
  });
});
