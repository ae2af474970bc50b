/**
 * The endpoint remembers query strings that passed its checks (CheckedQueries), so a repeated
 * request skips parsing them. A remembered check must never answer for a request that differs in
 * any checked part: the headers (secret, Metadata, relay headers), the flavour (path and method),
 * or any character of the query. Each test primes an endpoint with a good request, then sends one
 * that differs in one part, and compares the answer with what a fresh endpoint (nothing
 * remembered) gives for that request alone.
 */
import http from 'node:http';
import { createLogger } from '../../../src/log.js';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessToken } from '../../../src/identity/access-token.js';
import { CheckedQueries, MAX_REMEMBERED_QUERIES, MAX_REMEMBERED_QUERY_CHARS } from '../../../src/sidecar/endpoint/checked-queries.js';
import { createEndpointServer } from '../../../src/sidecar/endpoint/server.js';
import { SidecarMetrics } from '../../../src/sidecar/metrics.js';

const CLIENT_ID = '22222222-2222-4222-8222-222222222222';
const SECRET = 'b'.repeat(48);
const NOW = Date.now();
const ALLOWED = ['https://storage.azure.com/.default', 'https://vault.azure.net/.default'];
const jwt = (claims: object): string => `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
const tokenFor = (scope: string): AccessToken => ({
  token: jwt({ aud: scope, oid: 'oid-1' }),
  scope,
  obtainedAtMs: NOW,
  expiresOnMs: NOW + 3_600_000,
  extExpiresOnMs: NOW + 3_600_000,
});

interface Endpoint {
  port: number;
  server: http.Server;
}

/** An endpoint with a store that holds a token for every scope (so only the checks decide). */
async function startEndpoint(): Promise<Endpoint> {
  const tokens = new Map<string, AccessToken>();
  const store = {
    peek: (scope: string) => tokens.get(scope),
    get: async (scope: string) => {
      const t = tokenFor(scope);
      tokens.set(scope, t);
      return t;
    },
  };
  const server = createEndpointServer({
    store,
    clientId: CLIENT_ID,
    identityHeader: SECRET,
    allowedScopes: ALLOWED,
    metrics: new SidecarMetrics(),
    log: createLogger('error', 'sidecar', { write: () => {} }),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, server };
}

const stop = (e: Endpoint): Promise<void> =>
  new Promise((r) => {
    e.server.closeAllConnections();
    e.server.close(() => r());
  });

interface Req {
  method: 'GET' | 'POST';
  path: string;
  query: string;
  headers: Record<string, string>;
}

interface Outcome {
  status: number;
  error?: string;
  resource?: string;
  tokenAud?: string;
}

/** Sends one request (a fresh connection) and reduces the answer to what the checks decide. */
function send(port: number, r: Req): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const headers = { ...r.headers, ...(r.method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0' } : {}) };
    const req = http.request({ host: '127.0.0.1', port, method: r.method, path: `${r.path}${r.query ? `?${r.query}` : ''}`, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        const body = JSON.parse(text) as Record<string, string>;
        const aud = body.access_token
          ? (JSON.parse(Buffer.from(body.access_token.split('.')[1] ?? '', 'base64url').toString()) as { aud: string }).aud
          : undefined;
        resolve({ status: res.statusCode ?? 0, error: body.error, resource: body.resource, tokenAud: aud });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const APP_SERVICE: Req = {
  method: 'GET',
  path: '/msi/token',
  query: 'api-version=2019-08-01&resource=https%3A%2F%2Fstorage.azure.com%2F',
  headers: { 'x-identity-header': SECRET },
};
const IMDS: Req = {
  method: 'GET',
  path: '/metadata/identity/oauth2/token',
  query: 'api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F',
  headers: { metadata: 'true' },
};

let primed: Endpoint;
beforeAll(async () => {
  primed = await startEndpoint();
});
afterAll(() => stop(primed));

/** What a fresh endpoint answers for the request alone. */
async function fresh(r: Req): Promise<Outcome> {
  const e = await startEndpoint();
  try {
    return await send(e.port, r);
  } finally {
    await stop(e);
  }
}

/** Primes `primed` with `good` (it must pass), then checks `changed` gets what a fresh endpoint gives it. */
async function expectNoReuse(good: Req, changed: Req): Promise<Outcome> {
  const first = await send(primed.port, good);
  expect(first.status).toBe(200);
  const again = await send(primed.port, changed);
  expect(again).toEqual(await fresh(changed));
  return again;
}

describe('a remembered query check is never reused for a request that differs', () => {
  it('in the secret: missing or one character wrong, on either flavour', async () => {
    expect((await expectNoReuse(APP_SERVICE, { ...APP_SERVICE, headers: {} })).status).toBe(401);
    expect((await expectNoReuse(APP_SERVICE, { ...APP_SERVICE, headers: { 'x-identity-header': `${SECRET.slice(0, -1)}c` } })).status).toBe(401);
    expect((await expectNoReuse(IMDS, { ...IMDS, headers: { metadata: 'true', 'x-identity-header': 'wrong' } })).status).toBe(401);
  });

  it('in the Metadata header or a relay header', async () => {
    expect((await expectNoReuse(IMDS, { ...IMDS, headers: {} })).status).toBe(400);
    expect((await expectNoReuse(IMDS, { ...IMDS, headers: { metadata: 'false' } })).status).toBe(400);
    for (const relay of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
      expect((await expectNoReuse(APP_SERVICE, { ...APP_SERVICE, headers: { ...APP_SERVICE.headers, [relay]: '10.0.0.1' } })).status).toBe(400);
      expect((await expectNoReuse(IMDS, { ...IMDS, headers: { ...IMDS.headers, [relay]: '10.0.0.1' } })).status).toBe(400);
    }
  });

  it('in the flavour: the same query string on the other path is checked by that flavour’s rules', async () => {
    // App Service's api-version is not IMDS's: remembered for one, refused by the other
    const r = await expectNoReuse(APP_SERVICE, { ...IMDS, query: APP_SERVICE.query });
    expect(r).toMatchObject({ status: 400, error: 'invalid_request' });
    const back = await expectNoReuse(IMDS, { ...APP_SERVICE, query: IMDS.query });
    expect(back).toMatchObject({ status: 400, error: 'invalid_request' });
  });

  it('in one parameter: api-version, a second resource, a selector, a scope not allowed', async () => {
    const q = APP_SERVICE.query;
    expect((await expectNoReuse(APP_SERVICE, { ...APP_SERVICE, query: q.replace('2019-08-01', '2019-08-02') })).status).toBe(400);
    expect((await expectNoReuse(APP_SERVICE, { ...APP_SERVICE, query: `${q}&resource=https%3A%2F%2Fvault.azure.net` })).status).toBe(400);
    expect((await expectNoReuse(APP_SERVICE, { ...APP_SERVICE, query: `${q}&client_id=33333333-3333-4333-8333-333333333333` })).status).toBe(400);
    expect((await expectNoReuse(APP_SERVICE, { ...APP_SERVICE, query: `${q}&object_id=not-our-oid` })).status).toBe(400);
    expect((await expectNoReuse(APP_SERVICE, { ...APP_SERVICE, query: q.replace('storage.azure.com', 'management.azure.com') })).status).toBe(403);
    // a different allowed resource is answered for that resource, not the remembered one
    const other = await expectNoReuse(APP_SERVICE, { ...APP_SERVICE, query: q.replace('storage.azure.com%2F', 'vault.azure.net') });
    expect(other).toMatchObject({ status: 200, resource: 'https://vault.azure.net', tokenAud: 'https://vault.azure.net/.default' });
  });

  it('in any one character of the query (property, seeded)', async () => {
    const alphabet = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789%&=._~:/+-'.split(''));
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), ch: alphabet }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), ch: alphabet }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), ch: fc.constant('') }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(APP_SERVICE, IMDS), edit, async (good, e) => {
        const q = good.query;
        const at = e.at % (q.length + (e.kind === 'insert' ? 1 : 0));
        const query =
          e.kind === 'replace'
            ? q.slice(0, at) + e.ch + q.slice(at + 1)
            : e.kind === 'insert'
              ? q.slice(0, at) + e.ch + q.slice(at)
              : q.slice(0, at) + q.slice(at + 1);
        fc.pre(query !== q);
        await expectNoReuse(good, { ...good, query });
      }),
      { seed: 0x9e7, numRuns: 150 },
    );
  });
});

describe('what is remembered is bounded', () => {
  it(`keeps at most ${MAX_REMEMBERED_QUERIES} query strings per flavour and none over ${MAX_REMEMBERED_QUERY_CHARS} characters`, () => {
    const c = new CheckedQueries<number>();
    for (let i = 0; i < MAX_REMEMBERED_QUERIES * 3; i++) c.remember('imds', `q${i}`, i);
    expect(c.size()).toBeLessThanOrEqual(MAX_REMEMBERED_QUERIES);
    expect(c.get('imds', `q${MAX_REMEMBERED_QUERIES * 3 - 1}`)).toBe(MAX_REMEMBERED_QUERIES * 3 - 1);
    expect(c.get('app_service', `q${MAX_REMEMBERED_QUERIES * 3 - 1}`)).toBeUndefined();
    const long = 'x'.repeat(MAX_REMEMBERED_QUERY_CHARS + 1);
    expect(c.remember('imds', long, 7)).toBe(7);
    expect(c.get('imds', long)).toBeUndefined();
  });
});
