import { createPublicKey, verify } from 'node:crypto';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { recordSecret } from '../helpers/audit.js';
import { call, jwtPart, msalClient, postToken, tokenForm } from './helpers.js';

const VAULT = 'https://vault.azure.net/.default';
const STORAGE = 'https://storage.azure.com/.default';
const GUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

let emu: Emulator;

beforeAll(async () => {
  emu = await startEmulator({ unknownResources: ['https://nowhere.example.com'] });
});

afterAll(async () => {
  for (const s of emu.issuedSecrets()) recordSecret(s);
  await emu.close();
});

/** Checks Entra's error shape and returns the parsed body. */
function expectEntraError(res: { status: number; json(): any }, status: number, error: string, code: number): any {
  expect(res.status).toBe(status);
  const body = res.json();
  expect(Object.keys(body)).toEqual(['error', 'error_description', 'error_codes', 'timestamp', 'trace_id', 'correlation_id', 'error_uri']);
  expect(body.error).toBe(error);
  expect(body.error_codes).toEqual([code]);
  expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  expect(body.trace_id).toMatch(new RegExp(`^${GUID}$`));
  expect(body.correlation_id).toMatch(new RegExp(`^${GUID}$`));
  expect(body.error_description).toMatch(
    new RegExp(`^AADSTS${code}: .+\\r\\nTrace ID: ${body.trace_id}\\r\\nCorrelation ID: ${body.correlation_id}\\r\\nTimestamp: ${body.timestamp}$`, 's'),
  );
  expect(body.error_uri).toBe(`${emu.url}/error?code=${code}`);
  return body;
}

describe('token issuance through msal-node', () => {
  it('issues an RS256 access token with Entra claims, verifiable with the JWKS', async () => {
    const client = msalClient(emu);
    const before = Math.floor(Date.now() / 1000);
    const result = await client.acquireTokenByClientCredential({ scopes: [VAULT] });
    expect(result).not.toBeNull();
    const token = result!.accessToken;
    recordSecret(token);
    expect(emu.issuedSecrets()).toContain(token);

    const header = jwtPart(token, 0);
    const claims = jwtPart(token, 1);
    expect(header).toMatchObject({ typ: 'JWT', alg: 'RS256' });
    expect(claims).toMatchObject({
      aud: 'https://vault.azure.net',
      iss: `https://sts.windows.net/${emu.tenantId}/`,
      tid: emu.tenantId,
      appid: emu.clientId,
      azp: emu.clientId,
      idtyp: 'app',
      ver: '1.0',
    });
    expect(claims.sub).toBe(claims.oid);
    expect(claims.oid).toMatch(new RegExp(`^${GUID}$`));
    expect(claims.exp - before).toBeGreaterThanOrEqual(3599);
    expect(claims.nbf).toBeLessThanOrEqual(claims.iat);
    expect(result!.expiresOn!.getTime() / 1000).toBeGreaterThanOrEqual(before + 3599);

    // The signature verifies with the key the JWKS endpoint publishes under the header's kid.
    const jwks = (await call(emu, 'GET', `/${emu.tenantId}/discovery/v2.0/keys`)).json();
    const jwk = jwks.keys.find((k: { kid: string }) => k.kid === header.kid);
    expect(jwk).toMatchObject({ kty: 'RSA', use: 'sig', x5t: header.x5t });
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(verify('sha256', Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url'))).toBe(true);

    // The exchange is recorded with the assertion's jti.
    const last = emu.exchanges.at(-1)!;
    expect(last).toMatchObject({ tenant: emu.tenantId, clientId: emu.clientId, scope: VAULT, status: 200 });
    expect(last.error).toBeUndefined();
    expect(last.jti).toMatch(new RegExp(`^${GUID}$`));
  });

  it('keeps oid stable per client and uti/jti unique per token', async () => {
    const a = (await postToken(emu, tokenForm(emu))).json().access_token as string;
    const b = (await postToken(emu, tokenForm(emu, { scope: STORAGE }))).json().access_token as string;
    const ca = jwtPart(a, 1);
    const cb = jwtPart(b, 1);
    expect(ca.oid).toBe(cb.oid);
    expect(cb.aud).toBe('https://storage.azure.com');
    expect(ca.uti).not.toBe(cb.uti);
    expect(ca.jti).not.toBe(cb.jti);
  });

  it('answers with the documented body, and lifetime and refresh_in change at run time', async () => {
    const plain = await postToken(emu, tokenForm(emu));
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toMatch(/^application\/json/);
    const body = plain.json();
    expect(Object.keys(body)).toEqual(['token_type', 'expires_in', 'ext_expires_in', 'access_token']);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });

    emu.setTokenLifetime(5);
    emu.setRefreshIn(2);
    try {
      const changed = (await postToken(emu, tokenForm(emu))).json();
      expect(changed).toMatchObject({ token_type: 'Bearer', expires_in: 5, ext_expires_in: 5, refresh_in: 2 });
      const claims = jwtPart(changed.access_token, 1);
      expect(claims.exp - claims.iat).toBe(5 + 300); // iat is backdated 5 minutes, like Entra
    } finally {
      emu.setTokenLifetime(3599);
      emu.setRefreshIn(undefined);
    }
    expect(Object.keys((await postToken(emu, tokenForm(emu))).json())).not.toContain('refresh_in');
  });

  it('echoes client-request-id as the correlation id', async () => {
    const id = '0b7e1c3a-5d2f-4e8a-9c61-7f3b2a1d4e5c';
    const res = await postToken(emu, tokenForm(emu, { client_id: '99999999-9999-4999-8999-999999999999' }), emu.tenantId, { 'client-request-id': id });
    expect(res.headers['client-request-id']).toBe(id);
    expect(res.json().correlation_id).toBe(id);
  });
});

describe('discovery', () => {
  it('counts the OIDC discovery msal makes, and none when msal is given the metadata', async () => {
    const metadataRes = await call(emu, 'GET', `/${emu.tenantId}/v2.0/.well-known/openid-configuration`);
    const metadata = metadataRes.json();
    expect(metadata).toMatchObject({
      issuer: `${emu.url}/${emu.tenantId}/v2.0`,
      token_endpoint: `${emu.url}/${emu.tenantId}/oauth2/v2.0/token`,
      authorization_endpoint: `${emu.url}/${emu.tenantId}/oauth2/v2.0/authorize`,
      jwks_uri: `${emu.url}/${emu.tenantId}/discovery/v2.0/keys`,
    });

    let before = emu.discoveryRequestCount();
    await msalClient(emu).acquireTokenByClientCredential({ scopes: [STORAGE] });
    expect(emu.discoveryRequestCount() - before).toBe(1); // knownAuthorities skips instance discovery, not OIDC metadata

    before = emu.discoveryRequestCount();
    const exchangesBefore = emu.exchangeCount(STORAGE);
    const quiet = msalClient(emu, { authorityMetadata: metadataRes.text });
    const r = await quiet.acquireTokenByClientCredential({ scopes: [STORAGE] });
    recordSecret(r?.accessToken);
    expect(emu.exchangeCount(STORAGE)).toBe(exchangesBefore + 1);
    expect(emu.discoveryRequestCount()).toBe(before);
  });

  it('serves instance discovery in msal shape and counts it and the JWKS', async () => {
    const before = emu.discoveryRequestCount();
    const auth = encodeURIComponent(`${emu.url}/${emu.tenantId}/oauth2/v2.0/authorize`);
    const res = await call(emu, 'GET', `/common/discovery/instance?api-version=1.1&authorization_endpoint=${auth}`);
    const host = new URL(emu.url).host;
    expect(res.json()).toEqual({
      tenant_discovery_endpoint: `${emu.url}/${emu.tenantId}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
    await call(emu, 'GET', `/${emu.tenantId}/discovery/v2.0/keys`);
    expect(emu.discoveryRequestCount()).toBe(before + 2);
    expect(emu.requests.at(-1)).toMatchObject({ method: 'GET', path: `/${emu.tenantId}/discovery/v2.0/keys` });
  });

  it('answers AADSTS90002 for metadata of an unknown tenant', async () => {
    const res = await call(emu, 'GET', '/33333333-3333-4333-8333-333333333333/v2.0/.well-known/openid-configuration');
    expectEntraError(res, 400, 'invalid_tenant', 90002);
  });
});

describe('Entra validation errors in the real shape', () => {
  it('AADSTS90002 for an unknown tenant', async () => {
    const tenant = '33333333-3333-4333-8333-333333333333';
    const body = expectEntraError(await postToken(emu, tokenForm(emu), tenant), 400, 'invalid_tenant', 90002);
    expect(body.error_description).toContain(`Tenant '${tenant}' not found.`);
  });

  it('AADSTS700016 for an unknown application', async () => {
    const clientId = '44444444-4444-4444-8444-444444444444';
    const body = expectEntraError(await postToken(emu, tokenForm(emu, { client_id: clientId })), 400, 'unauthorized_client', 700016);
    expect(body.error_description).toContain(`Application with identifier '${clientId}' was not found in the directory '${emu.tenantId}'.`);
  });

  it('AADSTS7000272 for an assertion signed by a key the issuer does not publish', async () => {
    const { token } = emu.mintServiceAccountToken({ signWithUnknownKey: true });
    const body = expectEntraError(await postToken(emu, tokenForm(emu, { client_assertion: token })), 401, 'invalid_client', 7000272);
    expect(body.error_description).toContain(`could not be found in the metadata of identity provider ${emu.issuer}.`);
    expect(body.error_description).toContain(jwtPart(token, 0).kid);
  });

  it('AADSTS50027 for an assertion that is not a JWT', async () => {
    expectEntraError(await postToken(emu, tokenForm(emu, { client_assertion: 'not-a-jwt' })), 401, 'invalid_client', 50027);
  });

  it('AADSTS700024 for expired and not-yet-valid assertions', async () => {
    const expired = emu.mintServiceAccountToken({ lifetimeSec: -60 });
    const body = expectEntraError(await postToken(emu, tokenForm(emu, { client_assertion: expired.token })), 400, 'invalid_client', 700024);
    expect(body.error_description).toMatch(
      /^AADSTS700024: Client assertion is not within its valid time range\. Current time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z, assertion valid from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.0000000Z, expiry time of assertion \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.0000000Z\./,
    );
    expect(body.error_description).toContain(`expiry time of assertion ${new Date(expired.exp * 1000).toISOString().slice(0, 19)}.0000000Z`);
    expect(emu.exchanges.at(-1)).toMatchObject({ jti: expired.jti, status: 400, error: 'AADSTS700024' });

    const early = emu.mintServiceAccountToken({ notBeforeSec: 600 });
    expectEntraError(await postToken(emu, tokenForm(emu, { client_assertion: early.token })), 400, 'invalid_client', 700024);
  });

  it('AADSTS70021 when issuer, subject or audience match no federated credential', async () => {
    const cases = [
      { o: { serviceAccount: 'other' }, sub: 'system:serviceaccount:default:other', iss: emu.issuer, aud: 'api://AzureADTokenExchange' },
      {
        o: { issuer: 'https://elsewhere.example.com' },
        sub: 'system:serviceaccount:default:workload',
        iss: 'https://elsewhere.example.com',
        aud: 'api://AzureADTokenExchange',
      },
      { o: { audience: 'api://Other' }, sub: 'system:serviceaccount:default:workload', iss: emu.issuer, aud: 'api://Other' },
    ];
    for (const c of cases) {
      const { token } = emu.mintServiceAccountToken(c.o);
      const body = expectEntraError(await postToken(emu, tokenForm(emu, { client_assertion: token })), 400, 'invalid_request', 70021);
      expect(body.error_description).toContain(
        `AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: '${c.iss}'. Assertion Subject: '${c.sub}'. Assertion Audience: '${c.aud}'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation\r\nTrace ID:`,
      );
    }
  });

  it('AADSTS1002012 for a scope without /.default', async () => {
    const body = expectEntraError(await postToken(emu, tokenForm(emu, { scope: 'https://vault.azure.net/user.read' })), 400, 'invalid_scope', 1002012);
    expect(body.error_description).toContain('The provided value for scope https://vault.azure.net/user.read is not valid.');
  });

  it('ignores the OpenID Connect scopes MSAL Go adds to a client-credentials request (`<resource>/.default openid offline_access profile`), like Entra', async () => {
    const res = await postToken(emu, tokenForm(emu, { scope: 'https://storage.azure.com/.default openid offline_access profile' }));
    expect(res.status).toBe(200);
    const body = res.json() as { access_token: string };
    expect(jwtPart(body.access_token, 1).aud).toBe('https://storage.azure.com');
    expect(emu.exchanges.at(-1)).toMatchObject({ scope: 'https://storage.azure.com/.default', status: 200 });
    // OIDC scopes alone, or two resources, are still refused
    expectEntraError(await postToken(emu, tokenForm(emu, { scope: 'openid offline_access profile' })), 400, 'invalid_scope', 1002012);
    expectEntraError(
      await postToken(emu, tokenForm(emu, { scope: 'https://storage.azure.com/.default https://vault.azure.net/.default openid' })),
      400,
      'invalid_scope',
      1002012,
    );
  });

  it('AADSTS500011 for a resource configured as unknown', async () => {
    const body = expectEntraError(await postToken(emu, tokenForm(emu, { scope: 'https://nowhere.example.com/.default' })), 400, 'invalid_resource', 500011);
    expect(body.error_description).toContain(`The resource principal named https://nowhere.example.com was not found in the tenant named ${emu.tenantId}.`);
  });

  it('rejects missing parameters and the wrong method like Entra', async () => {
    expectEntraError(await postToken(emu, tokenForm(emu, { grant_type: undefined })), 400, 'invalid_request', 900144);
    expectEntraError(await postToken(emu, tokenForm(emu, { grant_type: 'password' })), 400, 'unsupported_grant_type', 70003);
    expectEntraError(await postToken(emu, tokenForm(emu, { client_assertion_type: undefined })), 400, 'invalid_request', 90014);
    expectEntraError(await call(emu, 'GET', `/${emu.tenantId}/oauth2/v2.0/token`), 400, 'invalid_request', 900561);
  });

  it('surfaces through msal-node as a ServerError carrying the AADSTS code', async () => {
    const client = msalClient(emu, { assertion: () => emu.mintServiceAccountToken({ serviceAccount: 'intruder' }).token });
    const err = await client.acquireTokenByClientCredential({ scopes: [VAULT] }).then(
      () => undefined,
      (e: unknown) => e as { errorCode: string; errorMessage: string; name: string },
    );
    expect(err?.name).toBe('ServerError');
    expect(err?.errorCode).toBe('invalid_request');
    expect(err?.errorMessage).toContain('AADSTS70021');
  });

  it('answers 404 JSON for anything else', async () => {
    const res = await call(emu, 'GET', '/nothing/here');
    expect(res.status).toBe(404);
    expect(res.json()).toMatchObject({ error: 'not_found' });
  });
});

describe('applications and federated credentials', () => {
  it('adds an application with a credential for another service account, and removes it', async () => {
    const clientId = '55555555-5555-4555-8555-555555555555';
    emu.addApplication(clientId);
    emu.addFederatedCredential({ clientId, issuer: emu.issuer, subject: 'system:serviceaccount:payments:api' });
    const assertion = () => emu.mintServiceAccountToken({ namespace: 'payments', serviceAccount: 'api' }).token;
    const ok = await postToken(emu, tokenForm(emu, { client_id: clientId, client_assertion: assertion() }));
    expect(ok.status).toBe(200);
    expect(jwtPart(ok.json().access_token, 1)).toMatchObject({ appid: clientId });

    // The default application has no credential for that service account.
    expectEntraError(await postToken(emu, tokenForm(emu, { client_assertion: assertion() })), 400, 'invalid_request', 70021);

    emu.removeFederatedCredentials(clientId);
    expectEntraError(await postToken(emu, tokenForm(emu, { client_id: clientId, client_assertion: assertion() })), 400, 'invalid_request', 70021);
  });
});

describe('faults', () => {
  it('applies a fault to the next `count` token responses, then answers normally', async () => {
    emu.inject({ kind: 'status', status: 503 }, { count: 2 });
    const first = await postToken(emu, tokenForm(emu));
    const second = await postToken(emu, tokenForm(emu));
    const third = await postToken(emu, tokenForm(emu));
    expect([first.status, second.status, third.status]).toEqual([503, 503, 200]);
    expectEntraError(first, 503, 'temporarily_unavailable', 90033);
    expect(emu.exchanges.slice(-3).map((e) => [e.status, e.error])).toEqual([
      [503, 'fault:status'],
      [503, 'fault:status'],
      [200, undefined],
    ]);
  });

  it('applies a fault to every response for `durationMs`, and only for its scope', async () => {
    emu.inject({ kind: 'status', status: 500, body: { oops: true }, headers: { 'X-Proxy': 'yes' } }, { durationMs: 60_000, scope: STORAGE });
    for (let i = 0; i < 3; i++) {
      const res = await postToken(emu, tokenForm(emu, { scope: STORAGE }));
      expect(res.status).toBe(500);
      expect(res.json()).toEqual({ oops: true });
      expect(res.headers['x-proxy']).toBe('yes');
    }
    expect((await postToken(emu, tokenForm(emu, { scope: VAULT }))).status).toBe(200);
    emu.clearFaults();
    expect((await postToken(emu, tokenForm(emu, { scope: STORAGE }))).status).toBe(200);

    // A duration fault is gone once its duration has passed.
    emu.inject({ kind: 'status', status: 502, body: 'bad gateway' }, { durationMs: 150 });
    await new Promise((r) => setTimeout(r, 200));
    expect((await postToken(emu, tokenForm(emu))).status).toBe(200);
  });

  it('sends an Entra error for an injected AADSTS code', async () => {
    emu.inject({ kind: 'aadsts', code: 70021 });
    const body = expectEntraError(await postToken(emu, tokenForm(emu)), 400, 'invalid_request', 70021);
    expect(body.error_description).toContain(`Assertion Issuer: '${emu.issuer}'. Assertion Subject: 'system:serviceaccount:default:workload'.`);
    expect(emu.exchanges.at(-1)?.error).toBe('AADSTS70021');
    emu.inject({ kind: 'aadsts', code: 700016 });
    expectEntraError(await postToken(emu, tokenForm(emu)), 400, 'unauthorized_client', 700016);
  });

  it('sends 429 with Retry-After, or another status', async () => {
    emu.inject({ kind: 'retry-after', seconds: 7 });
    const res = await postToken(emu, tokenForm(emu));
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.json().error).toBe('temporarily_unavailable');
    emu.inject({ kind: 'retry-after', seconds: 3, status: 503 });
    expect((await postToken(emu, tokenForm(emu))).status).toBe(503);
  });

  it('delays and then answers normally', async () => {
    emu.inject({ kind: 'delay', ms: 300 });
    const started = Date.now();
    const res = await postToken(emu, tokenForm(emu));
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290); // a lower bound: the answer cannot come before the delay
  });

  it('resets the connection', async () => {
    emu.inject({ kind: 'reset' });
    await expect(postToken(emu, tokenForm(emu))).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(emu.exchanges.at(-1)).toMatchObject({ status: 0, error: 'fault:reset' });
  });

  it('sends truncated JSON, which msal-node cannot parse', async () => {
    emu.inject({ kind: 'malformed-json' });
    const res = await postToken(emu, tokenForm(emu));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(() => res.json()).toThrow();

    emu.inject({ kind: 'malformed-json' });
    await expect(msalClient(emu).acquireTokenByClientCredential({ scopes: ['https://malformed.example.com/.default'] })).rejects.toThrow();
  });

  it("sends a proxy's HTML error page", async () => {
    emu.inject({ kind: 'html', status: 502 });
    const res = await postToken(emu, tokenForm(emu));
    expect(res.status).toBe(502);
    expect(res.headers['content-type']).toBe('text/html');
    expect(res.text).toContain('<h1>502 Bad Gateway</h1>');
  });

  it('counts token requests per scope, failed ones included', async () => {
    const scope = 'https://counted.example.com/.default';
    emu.inject({ kind: 'status', status: 500 }, { scope });
    await postToken(emu, tokenForm(emu, { scope }));
    await postToken(emu, tokenForm(emu, { scope }));
    expect(emu.exchangeCount(scope)).toBe(2);
  });
});

describe('admin API', () => {
  it('reports state, injects and clears faults, and changes the lifetime', async () => {
    const state = (await call(emu, 'GET', '/_emulator/state')).json();
    expect(state).toMatchObject({ exchanges: emu.exchangeCount(), discoveryRequests: emu.discoveryRequestCount(), tokenLifetimeSec: 3599 });
    expect(state.exchangesByScope[VAULT]).toBe(emu.exchangeCount(VAULT));

    const json = { 'content-type': 'application/json' };
    const injected = await call(emu, 'POST', '/_emulator/faults', JSON.stringify({ fault: { kind: 'status', status: 503 }, count: 5, scope: VAULT }), json);
    expect(injected.status).toBe(201);
    expect((await postToken(emu, tokenForm(emu))).status).toBe(503);
    expect((await call(emu, 'DELETE', '/_emulator/faults')).status).toBe(200);
    expect((await postToken(emu, tokenForm(emu))).status).toBe(200);

    expect((await call(emu, 'POST', '/_emulator/lifetime', JSON.stringify({ seconds: 9, refreshIn: 4 }), json)).status).toBe(200);
    expect((await postToken(emu, tokenForm(emu))).json()).toMatchObject({ expires_in: 9, refresh_in: 4 });
    await call(emu, 'POST', '/_emulator/lifetime', JSON.stringify({ seconds: 3599, refreshIn: null }), json);
    expect((await postToken(emu, tokenForm(emu))).json().refresh_in).toBeUndefined();
  });

  it('rejects bad admin input with a message naming the problem', async () => {
    const json = { 'content-type': 'application/json' };
    const bad = await call(emu, 'POST', '/_emulator/faults', JSON.stringify({ fault: { kind: 'explode' } }), json);
    expect(bad.status).toBe(400);
    expect(bad.json().error_description).toContain('fault.kind must be one of');
    const notJson = await call(emu, 'POST', '/_emulator/lifetime', '{', json);
    expect(notJson.status).toBe(400);
    expect(notJson.json().error_description).toContain('JSON object');
  });
});

describe('close', () => {
  it('returns with a hung request open, and the hung client sees the connection end', async () => {
    const own = await startEmulator();
    own.inject({ kind: 'hang' });
    const hung = new Promise<string>((resolve) => {
      const req = request(
        `${own.url}/${own.tenantId}/oauth2/v2.0/token`,
        { method: 'POST', ca: own.caPem, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        () => resolve('answered'),
      );
      req.on('error', (e) => resolve(`error: ${e.message}`));
      req.end(tokenForm(own));
    });
    // wait until the emulator has the request (it records it before hanging)
    while (own.exchanges.length === 0) await new Promise((r) => setTimeout(r, 10));
    expect(own.exchanges[0]).toMatchObject({ status: 0, error: 'fault:hang' });
    const caFile = own.caFile;
    expect(readFileSync(caFile, 'utf8')).toBe(own.caPem);
    for (const s of own.issuedSecrets()) recordSecret(s);
    await own.close();
    expect(await hung).toMatch(/^error: (socket hang up|.*ECONNRESET)/);
    expect(() => readFileSync(caFile)).toThrow(); // its own temporary folder is removed
  });
});
