/**
 * The emulator's client secrets and certificate assertions, request by request: what Entra
 * accepts (RS256 with x5t, PS256 with x5t#S256, aud = token endpoint) and each refusal with its
 * code and text.
 */
import { createHash, randomUUID, sign, constants, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { registerCertificate, registerSecret } from '../helpers/client-credential.js';
import { recordSecret } from '../helpers/audit.js';
import { ASSERTION_TYPE, postToken } from './helpers.js';

let emu: Emulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => {
  await emu?.close();
});

const SCOPE = 'https://vault.azure.net/.default';
const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');

/** A certificate assertion as msal-node (PS256 + x5t#S256) or older clients (RS256 + x5t) build it. */
function assertion(o: {
  key: KeyObject;
  certPem: string;
  alg: 'RS256' | 'PS256';
  clientId: string;
  aud: string;
  exp?: number;
  iss?: string;
  jti?: string;
  header?: Record<string, unknown>;
}): string {
  const der = Buffer.from(o.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const thumb =
    o.alg === 'PS256' ? { 'x5t#S256': createHash('sha256').update(der).digest('base64url') } : { x5t: createHash('sha1').update(der).digest('base64url') };
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: o.alg, typ: 'JWT', ...thumb, ...o.header })}.${b64({ aud: o.aud, iss: o.iss ?? o.clientId, sub: o.clientId, jti: o.jti ?? randomUUID(), nbf: now, exp: o.exp ?? now + 600 })}`;
  const sig =
    o.alg === 'RS256'
      ? sign('sha256', Buffer.from(input), o.key)
      : sign('sha256', Buffer.from(input), { key: o.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  const jwt = `${input}.${sig.toString('base64url')}`;
  recordSecret(jwt);
  return jwt;
}

function form(clientId: string, fields: Record<string, string>): string {
  return new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, scope: SCOPE, ...fields }).toString();
}

function newApp(): string {
  const id = randomUUID();
  emu.addApplication(id);
  return id;
}

const endpoint = (): string => `${emu.url}/${emu.tenantId}/oauth2/v2.0/token`;

describe('client secrets', () => {
  it('a registered secret gets a token; a wrong one AADSTS7000215, an expired one AADSTS7000222, a revoked one AADSTS7000215 (401 invalid_client)', async () => {
    const app = newApp();
    const good = registerSecret(emu, { clientId: app });
    const expired = registerSecret(emu, { clientId: app, expiresInSec: -1 });
    expect((await postToken(emu, form(app, { client_secret: good.value }))).status).toBe(200);
    expect(emu.exchanges.at(-1)?.credentialId).toBe(good.id);

    const wrong = await postToken(emu, form(app, { client_secret: `${good.value}x` }));
    expect(wrong.status).toBe(401);
    expect(wrong.json()).toMatchObject({ error: 'invalid_client', error_codes: [7000215] });
    expect(wrong.json().error_description).toMatch(
      new RegExp(
        `^AADSTS7000215: Invalid client secret provided\\. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app}'\\.\\r\\nTrace ID: `,
      ),
    );

    const old = await postToken(emu, form(app, { client_secret: expired.value }));
    expect(old.status).toBe(401);
    expect(old.json().error_description).toMatch(new RegExp(`^AADSTS7000222: The provided client secret keys for app '${app}' are expired\\.`));

    // another app's secret is not this app's
    const other = newApp();
    expect((await postToken(emu, form(other, { client_secret: good.value }))).json().error_codes).toEqual([7000215]);

    emu.removeClientCredential(good.id);
    expect((await postToken(emu, form(app, { client_secret: good.value }))).json().error_codes).toEqual([7000215]);
  });
});

describe('certificate assertions', () => {
  it('PS256 with x5t#S256 and RS256 with x5t are accepted; the same jti twice is refused', async () => {
    const app = newApp();
    const cert = registerCertificate(emu, { clientId: app });
    for (const alg of ['PS256', 'RS256'] as const) {
      const a = assertion({ key: cert.privateKey, certPem: cert.certPem, alg, clientId: app, aud: endpoint() });
      const r = await postToken(emu, form(app, { client_assertion_type: ASSERTION_TYPE, client_assertion: a }));
      expect(r.status, `${alg}: ${r.text}`).toBe(200);
      expect(emu.exchanges.at(-1)?.credentialId).toBe(cert.id);
      const replay = await postToken(emu, form(app, { client_assertion_type: ASSERTION_TYPE, client_assertion: a }));
      expect(replay.status).toBe(401);
      expect(replay.json().error_codes).toEqual([50027]);
    }
  });

  it('refusals: unknown certificate, expired certificate, wrong signature (700027); iss != client id (700021); aud not the token endpoint (700023); expired assertion (700024)', async () => {
    const app = newApp();
    const cert = registerCertificate(emu, { clientId: app });
    const stranger = registerCertificate(undefined);
    const old = registerCertificate(emu, { clientId: app, validForSec: -10 });
    const send = (a: string) => postToken(emu, form(app, { client_assertion_type: ASSERTION_TYPE, client_assertion: a }));
    const base = { key: cert.privateKey, certPem: cert.certPem, alg: 'PS256' as const, clientId: app, aud: endpoint() };

    const unknown = await send(assertion({ ...base, key: stranger.privateKey, certPem: stranger.certPem }));
    expect(unknown.status).toBe(401);
    expect(unknown.json().error_description).toMatch(
      new RegExp(
        `^AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application\\. \\[Reason - The key was not found\\., Thumbprint of key used by client: '${stranger.thumbprintSha256.toUpperCase()}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app}'\\.`,
      ),
    );
    expect((await send(assertion({ ...base, key: old.privateKey, certPem: old.certPem }))).json().error_description).toMatch(
      /^AADSTS700027: Client assertion contains an invalid signature\. \[Reason - The key used is expired\./,
    );
    expect((await send(assertion({ ...base, key: stranger.privateKey }))).json().error_description).toMatch(
      /^AADSTS700027: Client assertion contains an invalid signature\./,
    );
    expect((await send(assertion({ ...base, iss: randomUUID() }))).json().error_codes).toEqual([700021]);
    expect((await send(assertion({ ...base, aud: `${emu.url}/common/oauth2/v2.0/token` }))).json().error_codes).toEqual([700023]);
    expect((await send(assertion({ ...base, exp: Math.floor(Date.now() / 1000) - 5 }))).json().error_codes).toEqual([700024]);
    // the same certificate on another app is not this app's
    const other = newApp();
    expect(
      (await postToken(emu, form(other, { client_assertion_type: ASSERTION_TYPE, client_assertion: assertion({ ...base, clientId: other }) }))).json()
        .error_codes,
    ).toEqual([700027]);
  });
});
