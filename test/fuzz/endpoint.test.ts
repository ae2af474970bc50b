/**
 * Property test of the token endpoint against a running sidecar process: random methods, paths
 * (the real ones with junk too), headers (the secret right, wrong or missing, Metadata,
 * X-Forwarded-For, huge ones), query strings and bodies up to 1 MiB, sent as raw HTTP/1.1.
 *
 * For every request: never a 5xx other than 503; never a token unless the request carried the
 * right X-IDENTITY-HEADER (App Service) or `Metadata: true` (IMDS and MSI_ENDPOINT, which like
 * the real services need nothing else); error bodies are JSON with statusCode; headers over
 * 8 KiB are refused (400/431) and form bodies over 16 KiB get 413. After the run the process is
 * alive and still serves. Seeded and bounded: FUZZ_SEED and FUZZ_RUNS override.
 */
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, startPair, STORAGE, type Pair } from '../faults/harness.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed7);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
const TIME_LIMIT_MS = 45_000;

const MSI_PATH = '/msi/token';
const IMDS_PATH = '/metadata/identity/oauth2/token';

interface FuzzRequest {
  method: string;
  path: string;
  query: [string, string][];
  headers: [string, string][];
  body: Buffer;
  chunked: boolean;
}

/** Counterexamples print short: long values are summarised. */
function printable(r: FuzzRequest): FuzzRequest {
  const short = (v: string) => (v.length > 60 ? `${v.slice(0, 40)}…(${v.length} chars)` : v);
  return Object.assign(r, {
    [fc.toStringMethod]: () =>
      JSON.stringify({
        method: r.method,
        path: short(r.path),
        query: r.query.map(([k, v]) => [short(k), short(v)]),
        headers: r.headers.map(([k, v]) => [k, short(v)]),
        body: `${r.body.length} bytes: ${short(r.body.toString('latin1'))}`,
        chunked: r.chunked,
      }),
  });
}

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  error?: string;
}

/**
 * Sends one raw HTTP/1.1 request (Connection: close) and reads the answer to the end. With
 * `unfinished`, the request is never completed (no end of headers, or no last chunk): an answer
 * then proves the server refused early.
 */
function send(port: number, head: Buffer, body: Buffer, chunked: boolean, method: string, unfinished = false): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parse(Buffer.concat(chunks), method, error));
    };
    const timer = setTimeout(() => finish('no answer within 15 s'), 15_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    // the server may answer (413, 431) and close before the whole body is sent: that is fine
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (chunks.length === 0) finish(err.code ?? String(err));
    });
    socket.write(head);
    if (chunked) {
      for (let i = 0; i < body.length; i += 64 * 1024) {
        const part = body.subarray(i, i + 64 * 1024);
        socket.write(`${part.length.toString(16)}\r\n`);
        socket.write(part);
        socket.write('\r\n');
      }
      if (!unfinished) socket.write('0\r\n\r\n');
    } else if (body.length > 0) socket.write(body);
  });
}

function parse(raw: Buffer, method: string, error?: string): RawAnswer {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  if (!m || end === -1) return { status: 0, headers: {}, body: text.slice(0, 200), error: error ?? 'no HTTP answer' };
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, end).split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1')).toString('utf8');
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { status: Number(m[1]), headers, body: method === 'HEAD' ? '' : body };
}

function dechunk(s: string): string {
  let out = '';
  let rest = s;
  for (;;) {
    const i = rest.indexOf('\r\n');
    if (i === -1) return out;
    const n = parseInt(rest.slice(0, i), 16);
    if (!(n > 0)) return out;
    out += rest.slice(i + 2, i + 2 + n);
    rest = rest.slice(i + 2 + n + 2);
  }
}

function buildHead(r: FuzzRequest): Buffer {
  const qs = r.query.map(([k, v]) => `${k}=${v}`).join('&');
  const target = qs ? `${r.path}?${qs}` : r.path;
  let head = `${r.method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
  for (const [k, v] of r.headers) head += `${k}: ${v}\r\n`;
  if (r.chunked) head += 'Transfer-Encoding: chunked\r\n';
  else if (r.body.length > 0 || r.method === 'POST' || r.method === 'PUT') head += `Content-Length: ${r.body.length}\r\n`;
  head += 'Connection: close\r\n\r\n';
  return Buffer.from(head, 'latin1');
}

/** Paths as SDKs, proxies and attackers spell them. */
const normaliseLoose = (p: string): string => {
  const c = p.replace(/\/{2,}/g, '/').toLowerCase();
  return c.length > 1 ? c.replace(/\/$/, '') : c;
};

/**
 * The documented rule: who may get a token. App Service (GET /msi/token) needs the exact secret;
 * IMDS (GET) and MSI_ENDPOINT (POST /msi/token) need `Metadata: true` and, if a secret is sent,
 * the right one. X-Forwarded-For never. A header sent twice is not "the" header.
 */
function mayGetToken(r: FuzzRequest, secret: string): boolean {
  const values = (name: string): string[] => r.headers.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v.trim());
  if (['x-forwarded-for', 'forwarded', 'x-real-ip'].some((relay) => values(relay).length > 0)) return false;
  const secrets = values('x-identity-header');
  const metadata = values('metadata');
  const rightSecret = secrets.length === 1 && secrets[0] === secret;
  const p = normaliseLoose(r.path);
  if (p === MSI_PATH && r.method === 'GET') return rightSecret;
  if (p === MSI_PATH && r.method === 'POST' && values('content-type')[0]?.split(';')[0]?.trim().toLowerCase() !== 'application/x-www-form-urlencoded')
    return false;
  if ((p === IMDS_PATH && r.method === 'GET') || (p === MSI_PATH && r.method === 'POST')) {
    return metadata.length === 1 && metadata[0]?.toLowerCase() === 'true' && (secrets.length === 0 || rightSecret);
  }
  return false;
}

function arbitraries(secret: string, clientId: string) {
  const urlChars = fc.constantFrom(..."abcxyzABC019-._~!$&'()*+,;=:@/%".split(''), '%2F', '%2e%2e', '..', '%00', '%ZZ', 'é', '\u00ff', ' ', '\t', '#');
  const junk = fc.string({ unit: urlChars, maxLength: 40 });
  const realPath = fc.constantFrom(
    MSI_PATH,
    `/${MSI_PATH}`,
    `${MSI_PATH}/`,
    IMDS_PATH,
    `${IMDS_PATH}/`,
    `/${IMDS_PATH.replace(/\//g, '//')}`,
    IMDS_PATH.toUpperCase(),
    MSI_PATH.toUpperCase(),
    '/msi//token',
    '/msi/token%2F',
    '/healthz',
    '/metrics',
    '/readyz',
    '/',
    '*',
  );
  const path = fc.oneof(
    { weight: 5, arbitrary: realPath },
    { weight: 3, arbitrary: fc.tuple(realPath, junk).map(([p, j]) => p + j) },
    { weight: 1, arbitrary: fc.tuple(junk, realPath).map(([j, p]) => `/${j}${p}`) },
    { weight: 1, arbitrary: fc.array(junk, { maxLength: 6 }).map((s) => `/${s.join('/')}`) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 12_000 }).map((n) => `${MSI_PATH}/${'a'.repeat(n)}`) },
  );
  const enc = (s: string) => encodeURIComponent(s);
  const value = fc.oneof(
    fc.constantFrom(
      '2019-08-01',
      '2018-02-01',
      '2017-09-01',
      enc(STORAGE),
      enc('https://management.azure.com'),
      enc('https://vault.azure.net/.default'),
      enc('https://ossrdbms-aad.database.windows.net'),
      clientId,
      '00000000-0000-4000-8000-000000000000',
      enc('not a uri'),
      '',
      '%',
      '%E0%A4%A',
      'a%20b',
    ),
    fc.string({ maxLength: 80 }).map(enc),
    junk,
    fc.integer({ min: 2000, max: 9000 }).map((n) => 'r'.repeat(n)),
  );
  const key = fc.oneof(
    fc.constantFrom('api-version', 'resource', 'client_id', 'clientid', 'object_id', 'principal_id', 'mi_res_id', 'msi_res_id', 'msi-res-id', 'bypass_cache'),
    junk,
  );
  const query = fc.array(fc.tuple(key, value), { maxLength: 5 });

  const tokenChars = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&'*+.^`|~".split(''));
  const headerName = fc.string({ unit: tokenChars, minLength: 1, maxLength: 20 });
  const headerValue = fc.oneof(
    fc.string({ maxLength: 60 }).map((s) => s.replace(/[\r\n]/g, '')),
    fc.constantFrom('', ' ', 'é', '\u0000', '\u007f'),
  );
  const secretName = fc.constantFrom('X-IDENTITY-HEADER', 'x-identity-header', 'X-Identity-Header');
  const secretValue = fc.oneof(
    { weight: 4, arbitrary: fc.constant(secret) },
    { weight: 1, arbitrary: fc.constant(` ${secret} `) },
    { weight: 1, arbitrary: fc.constantFrom(`${secret}x`, secret.slice(0, -1), secret.toUpperCase(), '', 'wrong') },
    { weight: 1, arbitrary: headerValue },
  );
  const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  const headers = fc
    .record({
      secret: optional(fc.array(fc.tuple(secretName, secretValue), { minLength: 1, maxLength: 2 })),
      metadata: optional(
        fc.array(fc.tuple(fc.constantFrom('Metadata', 'metadata', 'METADATA'), fc.constantFrom('true', 'True', 'TRUE', ' true', 'false', '1', '', 'yes')), {
          minLength: 1,
          maxLength: 2,
        }),
      ),
      xff: optional(
        fc.tuple(
          fc.constantFrom('X-Forwarded-For', 'x-forwarded-for', 'Forwarded', 'X-Real-IP'),
          fc.constantFrom('203.0.113.7', '127.0.0.1', '', '10.0.0.1, 127.0.0.1', 'for=127.0.0.1'),
        ),
      ),
      contentType: optional(
        fc.constantFrom(
          'application/x-www-form-urlencoded',
          'application/x-www-form-urlencoded; charset=utf-8',
          'APPLICATION/X-WWW-FORM-URLENCODED',
          'application/json',
          'text/plain',
          'multipart/form-data; boundary=x',
        ),
      ),
      extra: fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }),
      huge: optional(fc.integer({ min: 1, max: 16_000 })),
    })
    .map((h) => {
      const out: [string, string][] = [];
      if (h.secret) out.push(...h.secret);
      if (h.metadata) out.push(...h.metadata);
      if (h.xff) out.push(h.xff);
      if (h.contentType) out.push(['Content-Type', h.contentType]);
      // never let random extra headers collide with framing headers or the ones under test
      out.push(
        ...h.extra.filter(
          ([k]) =>
            !/^(content-length|transfer-encoding|host|connection|expect|upgrade|x-identity-header|metadata|x-forwarded-for|forwarded|x-real-ip|content-type)$/i.test(
              k,
            ),
        ),
      );
      if (h.huge) out.push(['X-Padding', 'p'.repeat(h.huge)]);
      return out;
    });

  const body = fc.oneof(
    { weight: 6, arbitrary: fc.constant(Buffer.alloc(0)) },
    {
      weight: 4,
      arbitrary: fc.array(fc.tuple(key, value), { minLength: 1, maxLength: 4 }).map((kv) => Buffer.from(kv.map(([k, v]) => `${k}=${v}`).join('&'))),
    },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: fc.integer({ min: 16 * 1024 - 16, max: 1024 * 1024 }).map((n) => Buffer.from(`resource=${enc(STORAGE)}&pad=${'x'.repeat(n)}`)) },
  );
  const method = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('GET', 'POST') },
    { weight: 2, arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'get', 'Post') },
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('')), minLength: 1, maxLength: 12 }) },
  );
  const random = fc.record({ method, path, query, headers, body, chunked: fc.boolean() }) as fc.Arbitrary<FuzzRequest>;

  // requests one mutation or two away from a valid one, so both sides of the rule get exercised
  const resource = fc.constantFrom(STORAGE, 'https://management.azure.com/', 'https://vault.azure.net', 'https://ossrdbms-aad.database.windows.net/.default');
  const valid = fc.tuple(fc.constantFrom('app_service', 'imds', 'msi'), resource, fc.boolean()).map(([flavour, res, withSecret]): FuzzRequest => {
    const r = enc(res);
    if (flavour === 'app_service')
      return {
        method: 'GET',
        path: MSI_PATH,
        query: [
          ['api-version', '2019-08-01'],
          ['resource', r],
        ],
        headers: [['X-IDENTITY-HEADER', secret]],
        body: Buffer.alloc(0),
        chunked: false,
      };
    const auth: [string, string][] = withSecret
      ? [
          ['Metadata', 'true'],
          ['X-IDENTITY-HEADER', secret],
        ]
      : [['Metadata', 'true']];
    if (flavour === 'imds')
      return {
        method: 'GET',
        path: IMDS_PATH,
        query: [
          ['api-version', '2018-02-01'],
          ['resource', r],
        ],
        headers: auth,
        body: Buffer.alloc(0),
        chunked: false,
      };
    return {
      method: 'POST',
      path: MSI_PATH,
      query: [],
      headers: [...auth, ['Content-Type', 'application/x-www-form-urlencoded']],
      body: Buffer.from(`resource=${r}`),
      chunked: false,
    };
  });
  type Mutation = (r: FuzzRequest) => FuzzRequest;
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.nat({ max: 5 }).map(
      (i): Mutation =>
        (r) => ({ ...r, headers: r.headers.filter((_, j) => j !== i % Math.max(1, r.headers.length)) }),
    ),
    fc.tuple(fc.constantFrom('X-IDENTITY-HEADER', 'Metadata', 'X-Forwarded-For', 'x-identity-header', 'metadata'), secretValue).map(
      ([k, v]): Mutation =>
        (r) => ({ ...r, headers: [...r.headers, [k, v]] }),
    ),
    secretValue.map(
      (v): Mutation =>
        (r) => ({ ...r, headers: r.headers.map(([k, x]) => (k.toLowerCase() === 'x-identity-header' ? [k, v] : [k, x])) }),
    ),
    fc.constantFrom('false', 'TRUE', '', 'true, true').map(
      (v): Mutation =>
        (r) => ({ ...r, headers: r.headers.map(([k, x]) => (k.toLowerCase() === 'metadata' ? [k, v] : [k, x])) }),
    ),
    method.map(
      (m): Mutation =>
        (r) => ({ ...r, method: m }),
    ),
    path.map(
      (p): Mutation =>
        (r) => ({ ...r, path: p }),
    ),
    fc.tuple(key, value).map(
      ([k, v]): Mutation =>
        (r) => ({ ...r, query: [...r.query, [k, v]] }),
    ),
    body.map(
      (b): Mutation =>
        (r) => ({ ...r, body: b }),
    ),
    fc.constant<Mutation>((r) => ({ ...r, chunked: true })),
  );
  const nearValid = fc.tuple(valid, fc.array(mutation, { maxLength: 2 })).map(([r, ms]) => ms.reduce((acc, m) => m(acc), r));
  return fc.oneof(random, nearValid).map(printable);
}

describe('token endpoint fuzz', () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await startPair({ lifetimeSec: 3600 });
  });
  afterAll(async () => {
    await pair?.close();
  });

  it(`random requests (seed ${SEED}, ${RUNS} runs): no 5xx but 503, no token without the secret or Metadata: true, sizes bounded, no crash`, async () => {
    const { sidecar, emulator } = pair;
    const port = Number(new URL(sidecar.endpoint).port);
    const stats = { runs: 0, tokens: 0, byStatus: new Map<number, number>() };
    await fc.assert(
      fc.asyncProperty(arbitraries(sidecar.identityHeader, emulator.clientId), async (r) => {
        const head = buildHead(r);
        const a = await send(port, head, r.body, r.chunked, r.method);
        stats.runs++;
        stats.byStatus.set(a.status, (stats.byStatus.get(a.status) ?? 0) + 1);
        const what = `${r.method} ${r.path.slice(0, 80)} -> ${a.status} ${a.error ?? ''} ${a.body.replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, '[token]').slice(0, 160)}`;

        expect(alive(sidecar), `still running after ${what}`).toBe(true);
        if (a.status === 0 && r.body.length > 16 * 1024 && /^(EPIPE|ECONNRESET)$/.test(a.error ?? '')) {
          // the server answered early and closed while a large body was still being sent: the
          // kernel's reset can discard the answer before it is read (HTTP/1.1 allows the close)
          return;
        }
        expect(a.status, `an HTTP answer: ${what}`).toBeGreaterThanOrEqual(100);
        expect(a.status >= 500 && a.status !== 503, `no 5xx but 503: ${what}`).toBe(false);
        const gotToken = a.status === 200 && a.body.includes('"access_token"');
        if (gotToken) {
          stats.tokens++;
          expect(
            mayGetToken(r, sidecar.identityHeader),
            `token given without the right secret or Metadata: true: ${what} headers=${JSON.stringify(r.headers.map(([k, v]) => [k, v.slice(0, 40)]))}`,
          ).toBe(true);
        }
        if (a.status >= 400 && r.method !== 'HEAD') {
          expect(a.headers['content-type'], what).toMatch(/^application\/json/);
          const body = JSON.parse(a.body) as { error?: unknown; statusCode?: unknown; message?: unknown };
          expect(typeof body.error, what).toBe('string');
          expect(body.statusCode, what).toBe(a.status);
          expect(a.body, 'a refusal never echoes the secret').not.toContain(sidecar.identityHeader);
        }
        if (a.status === 503) expect(a.headers['retry-after'], what).toMatch(/^\d+$/);
        if (head.length > 8 * 1024 + 1024) expect([400, 431], `oversized head (${head.length} bytes) refused: ${what}`).toContain(a.status);
      }),
      { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, endOnFailure: true },
    );

    expect(stats.runs).toBeGreaterThanOrEqual(Math.min(RUNS, 100));
    expect(stats.tokens, 'the generator does reach the authorised path').toBeGreaterThan(0);
    expect([...stats.byStatus.keys()].length, `a spread of answers: ${JSON.stringify([...stats.byStatus])}`).toBeGreaterThan(4);
    expect(alive(sidecar)).toBe(true);
    const health = await fetch(`${sidecar.health}/healthz`);
    expect(health.status).toBe(200);
    const still = await fetch(`${sidecar.endpoint}/msi/token?api-version=2019-08-01&resource=${encodeURIComponent(STORAGE)}`, {
      headers: { 'X-IDENTITY-HEADER': sidecar.identityHeader },
    });
    expect(still.status).toBe(200);
  }, 120_000);

  it(`oversized heads (over 8 KiB) are refused as soon as the limit is crossed (seed ${SEED})`, async () => {
    const { sidecar } = pair;
    const port = Number(new URL(sidecar.endpoint).port);
    const where = fc.constantFrom('one header', 'many headers', 'path', 'query');
    await fc.assert(
      fc.asyncProperty(
        where,
        fc.integer({ min: 9 * 1024, max: 64 * 1024 }),
        fc.constantFrom('GET', 'POST'),
        fc.boolean(),
        async (w, size, method, finished) => {
          let target = MSI_PATH;
          let headers = `X-IDENTITY-HEADER: ${sidecar.identityHeader}\r\nMetadata: true\r\n`;
          if (w === 'one header') headers += `X-Padding: ${'p'.repeat(size)}\r\n`;
          if (w === 'many headers') for (let i = 0; i * 100 < size; i++) headers += `X-Pad-${i}: ${'p'.repeat(90)}\r\n`;
          if (w === 'path') target = `${MSI_PATH}/${'a'.repeat(size)}`;
          if (w === 'query') target = `${MSI_PATH}?api-version=2019-08-01&resource=${encodeURIComponent(STORAGE)}&pad=${'q'.repeat(size)}`;
          // unfinished: the blank line that ends the head is never sent, so only an early refusal answers
          const head = Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Connection: close\r\n${finished ? '\r\n' : ''}`, 'latin1');
          const a = await send(port, head, Buffer.alloc(0), false, method);
          expect([400, 431], `${w} ${size} bytes -> ${a.status} ${a.error ?? ''}`).toContain(a.status);
          expect(a.body).not.toContain('access_token');
        },
      ),
      { seed: SEED, numRuns: 40, interruptAfterTimeLimit: 20_000 },
    );
    expect(alive(sidecar)).toBe(true);
  }, 60_000);

  it(`form bodies over 16 KiB on POST /msi/token get 413 before the body is read (seed ${SEED})`, async () => {
    const { sidecar } = pair;
    const port = Number(new URL(sidecar.endpoint).port);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 16 * 1024 + 1, max: 1024 * 1024 }),
        fc.boolean(),
        fc.constantFrom(MSI_PATH, `${MSI_PATH}/`, `/${MSI_PATH}`),
        fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'Application/X-WWW-Form-URLEncoded'),
        async (size, chunked, path, type) => {
          const headers = `Metadata: true\r\n${type ? `Content-Type: ${type}\r\n` : ''}`;
          const framing = chunked ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${size}\r\n`;
          const head = Buffer.from(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}${framing}Connection: close\r\n\r\n`, 'latin1');
          // declared length: send no body at all; chunked: send it all but never the last chunk
          const body = chunked ? Buffer.from(`resource=${encodeURIComponent(STORAGE)}&pad=${'x'.repeat(size)}`) : Buffer.alloc(0);
          const a = await send(port, head, body, chunked, 'POST', true);
          expect(a.status, `${size} bytes ${chunked ? 'chunked' : 'declared'} -> ${a.status} ${a.error ?? ''} ${a.body.slice(0, 120)}`).toBe(413);
          expect(JSON.parse(a.body)).toMatchObject({ error: 'invalid_request', statusCode: 413 });
        },
      ),
      { seed: SEED, numRuns: 30, interruptAfterTimeLimit: 20_000 },
    );
    expect(alive(sidecar)).toBe(true);
  }, 60_000);
});
