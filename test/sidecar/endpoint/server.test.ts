import net, { type AddressInfo } from 'node:net';
import { createLogger } from '../../../src/log.js';
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessToken } from '../../../src/identity/access-token.js';
import { ExchangeError } from '../../../src/identity/errors.js';
import { createEndpointServer } from '../../../src/sidecar/endpoint/server.js';
import { SidecarMetrics } from '../../../src/sidecar/metrics.js';

const CLIENT_ID = '22222222-2222-4222-8222-222222222222';
const SECRET = 'a'.repeat(64);
const NOW = Date.now();
const jwt = (claims: object): string => `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
const tokenFor = (scope: string): AccessToken => ({
  token: jwt({ aud: scope.replace('/.default', ''), oid: 'oid-1234' }),
  scope,
  obtainedAtMs: NOW - 1_000,
  expiresOnMs: NOW + 3_600_000,
  extExpiresOnMs: NOW + 7_200_000,
});

/** A store stand-in: fixed tokens, scripted failures, exchange counting. */
const held = new Map<string, AccessToken>();
const failures = new Map<string, ExchangeError>();
const store = {
  peek: (scope: string) => held.get(scope),
  get: async (scope: string) => {
    const f = failures.get(scope);
    if (f) throw f;
    const t = tokenFor(scope);
    held.set(scope, t);
    return t;
  },
};

let server: http.Server;
let base: string;
const logLines: string[] = [];
const metrics = new SidecarMetrics();

beforeAll(async () => {
  const log = createLogger('debug', 'sidecar', { write: (l: string) => void logLines.push(l) });
  server = createEndpointServer({ store, clientId: CLIENT_ID, identityHeader: SECRET, allowedScopes: undefined, metrics, log });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  failures.set(
    'https://refused.example/.default',
    new ExchangeError(
      'Entra refused the exchange (HTTP 400, invalid_resource): AADSTS500011: The resource principal named https://refused.example was not found',
      { retryable: false, reason: 'AADSTS500011', aadsts: 500011, status: 400 },
    ),
  );
  failures.set(
    'https://down.example/.default',
    new ExchangeError('Entra answered HTTP 503; will retry', { retryable: true, reason: 'http_503', status: 503, retryAfterMs: 7_000 }),
  );
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const appService = (resource: string, headers: Record<string, string> = { 'X-IDENTITY-HEADER': SECRET }, extra = '') =>
  fetch(`${base}/msi/token?api-version=2019-08-01&resource=${encodeURIComponent(resource)}${extra}`, { headers });

describe('App Service 2019-08-01 flavour', () => {
  it('answers with every field as a string of digits, the resource echoed exactly', async () => {
    const r = await appService('https://management.azure.com/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.headers.get('etag')).toBeNull();
    const b = (await r.json()) as Record<string, unknown>;
    expect(Object.keys(b).sort()).toEqual(['access_token', 'client_id', 'expires_in', 'expires_on', 'ext_expires_in', 'not_before', 'resource', 'token_type']);
    for (const k of ['expires_on', 'expires_in', 'ext_expires_in', 'not_before']) expect(b[k]).toMatch(/^\d+$/);
    expect(b.resource).toBe('https://management.azure.com/');
    expect(b.token_type).toBe('Bearer');
    expect(b.client_id).toBe(CLIENT_ID);
    expect(Number(b.expires_on)).toBe(Math.floor((NOW + 3_600_000) / 1000));
    const left = Number(b.expires_on) - Date.now() / 1000;
    expect(Math.abs(Number(b.expires_in) - left)).toBeLessThanOrEqual(2);
    expect(b.access_token).toBe(held.get('https://management.azure.com/.default')?.token);
  });
  it('maps resource to scope without a double slash, with or without the trailing slash', async () => {
    await appService('https://vault.azure.net');
    await appService('https://vault.azure.net/');
    expect([...held.keys()].filter((k) => k.startsWith('https://vault'))).toEqual(['https://vault.azure.net/.default']);
  });
  it('takes the header name in any case', async () => {
    expect((await appService('https://management.azure.com/', { 'x-identity-header': SECRET })).status).toBe(200);
    expect((await appService('https://management.azure.com/', { 'X-Identity-Header': SECRET })).status).toBe(200);
  });
  it('refuses a missing or wrong secret with 401 JSON in both vocabularies', async () => {
    for (const headers of [{}, { 'X-IDENTITY-HEADER': 'b'.repeat(64) }, { 'X-IDENTITY-HEADER': 'short' }] as Record<string, string>[]) {
      const r = await appService('https://management.azure.com/', headers);
      expect(r.status).toBe(401);
      const b = (await r.json()) as Record<string, unknown>;
      expect(b).toMatchObject({ error: 'unauthorized_client', statusCode: 401 });
      expect(b.message).toMatch(/IDENTITY_HEADER/);
      expect(b.error_description).toBe(b.message);
      expect(typeof b.correlationId).toBe('string');
      expect(JSON.stringify(b)).not.toContain('eyJ');
    }
  });
  it('refuses X-Forwarded-For (SSRF through a proxy) with 400', async () => {
    const r = await appService('https://management.azure.com/', { 'X-IDENTITY-HEADER': SECRET, 'X-Forwarded-For': '10.0.0.1' });
    expect(r.status).toBe(400);
  });
  it('refuses Forwarded and X-Real-IP like X-Forwarded-For, on every flavour, naming the header', async () => {
    for (const [name, value] of [
      ['Forwarded', 'for=10.0.0.1'],
      ['X-Real-IP', '10.0.0.1'],
    ] as const) {
      const a = await appService('https://management.azure.com/', { 'X-IDENTITY-HEADER': SECRET, [name]: value });
      expect(a.status).toBe(400);
      expect(((await a.json()) as { message: string }).message).toContain(`a ${name} header`);
      const i = await fetch(`${base}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/`, {
        headers: { Metadata: 'true', [name]: value },
      });
      expect(i.status).toBe(400);
      const m = await fetch(`${base}/msi/token`, {
        method: 'POST',
        headers: { Metadata: 'true', 'content-type': 'application/x-www-form-urlencoded', [name]: value },
        body: 'resource=https://management.azure.com/',
      });
      expect(m.status).toBe(400);
    }
  });
  it('refuses a missing resource or a wrong api-version with 400', async () => {
    expect((await fetch(`${base}/msi/token?api-version=2019-08-01`, { headers: { 'X-IDENTITY-HEADER': SECRET } })).status).toBe(400);
    expect((await fetch(`${base}/msi/token?api-version=2017-09-01&resource=https://x.example/`, { headers: { 'X-IDENTITY-HEADER': SECRET } })).status).toBe(
      400,
    );
  });
  it('accepts its own identity in every selector form and refuses a foreign one with "identity not found"', async () => {
    expect((await appService('https://management.azure.com/', undefined, `&client_id=${CLIENT_ID.toUpperCase()}`)).status).toBe(200);
    expect((await appService('https://management.azure.com/', undefined, `&clientid=${CLIENT_ID}`)).status).toBe(200);
    expect((await appService('https://management.azure.com/', undefined, '&object_id=oid-1234')).status).toBe(200);
    expect((await appService('https://management.azure.com/', undefined, '&principal_id=oid-1234')).status).toBe(200);
    for (const sel of [
      'client_id=33333333-3333-4333-8333-333333333333',
      'object_id=someone-else',
      'mi_res_id=/subscriptions/x/resourcegroups/y/providers/Microsoft.ManagedIdentity/userAssignedIdentities/z',
    ]) {
      const r = await appService('https://management.azure.com/', undefined, `&${sel}`);
      expect(r.status).toBe(400);
      expect(((await r.json()) as { message: string }).message).toMatch(/Identity not found/);
    }
  });
  it('passes a permanent Entra refusal on as 400 with the AADSTS text', async () => {
    const r = await appService('https://refused.example/');
    expect(r.status).toBe(400);
    expect(((await r.json()) as { message: string }).message).toContain('AADSTS500011');
  });
  it('answers transient trouble with 503 and Retry-After, never 400', async () => {
    const r = await appService('https://down.example/');
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('7');
  });
});

describe('IMDS 2018-02-01 flavour', () => {
  const imds = (path: string, headers: Record<string, string> = { Metadata: 'true' }) =>
    fetch(`${base}${path}?api-version=2018-02-01&resource=https://storage.azure.com/`, { headers });
  it('serves with Metadata: true, also on // and trailing-slash paths', async () => {
    for (const p of ['/metadata/identity/oauth2/token', '//metadata/identity/oauth2/token', '/metadata/identity/oauth2/token/']) {
      const r = await imds(p);
      expect(r.status).toBe(200);
      expect(((await r.json()) as { resource: string }).resource).toBe('https://storage.azure.com/');
    }
  });
  it('refuses a request without Metadata: true with 400, as real IMDS', async () => {
    const r = await imds('/metadata/identity/oauth2/token', {});
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: 'bad_request_102', statusCode: 400 });
  });
});

describe('legacy MSI_ENDPOINT flavour', () => {
  it('takes POST with a form body and Metadata: true', async () => {
    const r = await fetch(`${base}/msi/token`, {
      method: 'POST',
      headers: { Metadata: 'true', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'resource=https%3A%2F%2Fmanagement.core.windows.net%2F',
    });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { resource: string }).resource).toBe('https://management.core.windows.net/');
  });
  it('refuses POST without a form Content-Type with 415 naming it, a missing one too', async () => {
    for (const type of [undefined, 'application/json', 'text/plain']) {
      const r = await fetch(`${base}/msi/token`, {
        method: 'POST',
        headers: { Metadata: 'true', ...(type ? { 'content-type': type } : {}) },
        body: new TextEncoder().encode('resource=https://x.example/'),
      });
      expect(r.status, String(type)).toBe(415);
      expect(((await r.json()) as { message: string }).message).toContain('Content-Type: application/x-www-form-urlencoded');
    }
  });
  it('refuses a POST without Metadata from its head: the answer comes while the body is unsent, and the connection closes', async () => {
    const { connect } = await import('node:net');
    const port = Number(new URL(base).port);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => {
        // a declared body of 16 000 bytes, of which none is ever sent
        s.write('POST /msi/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 16000\r\n\r\n');
      });
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString('latin1')));
      s.on('close', () => resolve(text));
      s.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(answer).toContain('bad_request_102');
  });
  it('refuses POST without Metadata, and bodies over 16 KiB with 413', async () => {
    expect(
      (
        await fetch(`${base}/msi/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'resource=https://x.example/',
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await fetch(`${base}/msi/token`, {
          method: 'POST',
          headers: { Metadata: 'true', 'content-type': 'application/x-www-form-urlencoded' },
          body: `resource=${'x'.repeat(20_000)}`,
        })
      ).status,
    ).toBe(413);
  });
});

describe('everything else', () => {
  it('answers unknown paths and methods with JSON 404/405, never plain text', async () => {
    const a = await fetch(`${base}/nope`);
    expect(a.status).toBe(404);
    expect(await a.json()).toMatchObject({ statusCode: 404 });
    const b = await fetch(`${base}/msi/token`, { method: 'DELETE' });
    expect(b.status).toBe(405);
    expect(await b.json()).toMatchObject({ statusCode: 405 });
  });
  it('counts requests by flavour and status, and never logs a token or the secret', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/entra_sidecar_endpoint_requests_total\{flavour="app_service",code="200"\} \d+/);
    expect(text).toMatch(/entra_sidecar_endpoint_requests_total\{flavour="app_service",code="401"\} \d+/);
    expect(text).toMatch(/entra_sidecar_endpoint_request_duration_seconds_bucket\{le="0.001",flavour="imds"\}/);
    const all = logLines.join('\n');
    expect(logLines.length).toBeGreaterThan(5);
    expect(all).not.toContain(SECRET);
    for (const t of held.values()) expect(all).not.toContain(t.token);
  });
});

describe('allow-list', () => {
  it('refuses scopes outside ENTRA_SIDECAR_ALLOWED_SCOPES with 403', async () => {
    const log = createLogger('error', 'sidecar', { write: () => {} });
    const s = createEndpointServer({
      store,
      clientId: CLIENT_ID,
      identityHeader: SECRET,
      allowedScopes: ['https://storage.azure.com/.default'],
      metrics: new SidecarMetrics(),
      log,
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/msi/token?api-version=2019-08-01&resource=`;
    expect((await fetch(`${url}https://storage.azure.com/`, { headers: { 'X-IDENTITY-HEADER': SECRET } })).status).toBe(200);
    expect((await fetch(`${url}https://management.azure.com/`, { headers: { 'X-IDENTITY-HEADER': SECRET } })).status).toBe(403);
    await new Promise<void>((r) => s.close(() => r()));
  });
});

describe('a refusal while the body is still arriving (lingering close)', () => {
  /**
   * A client that keeps writing its body and reads only afterwards, as a client busy uploading
   * does: it must find the refusal, not a reset. Returns what it read, or the socket error.
   */
  const uploadThenRead = (head: string, chunk: Buffer, writes: number): Promise<{ text: string; error?: string }> =>
    new Promise((resolve) => {
      const socket = net.connect(Number(new URL(base).port), '127.0.0.1');
      const chunks: Buffer[] = [];
      let error: string | undefined;
      socket.pause();
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', (e: NodeJS.ErrnoException) => {
        error = e.code ?? String(e);
      });
      socket.on('close', () => resolve({ text: Buffer.concat(chunks).toString('latin1'), error }));
      socket.write(head);
      let n = 0;
      const more = (): void => {
        if (n++ >= writes || socket.destroyed) {
          socket.resume();
          return;
        }
        socket.write(chunk, () => setImmediate(more));
      };
      more();
    });

  it('a client still sending a form past 16 KiB reads the 413, not EPIPE or a reset', async () => {
    const head =
      'POST /msi/token HTTP/1.1\r\nHost: 127.0.0.1\r\nMetadata: true\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n';
    const part = Buffer.from(`10000\r\n${'x'.repeat(0x10000)}\r\n`, 'latin1');
    const r = await uploadThenRead(head, part, 24);
    expect(r.text.slice(0, 40), r.error).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('a client sending a body with a refused head (no Metadata) reads the 400, not EPIPE or a reset', async () => {
    const head = 'POST /msi/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1572864\r\n\r\n';
    const r = await uploadThenRead(head, Buffer.alloc(0x10000, 0x78), 24);
    expect(r.text.slice(0, 40), r.error).toMatch(/^HTTP\/1\.1 400 /);
  });
});
