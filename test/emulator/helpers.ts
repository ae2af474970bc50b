import { request } from 'node:https';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { caTrustingNetworkClient, type Emulator } from '../../src/emulator/index.js';
import { recordSecret } from '../helpers/audit.js';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

/** One HTTPS request to the emulator, trusting its CA; records any access token it sees as a secret. */
export function call(
  emu: Pick<Emulator, 'url' | 'caPem'>,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(`${emu.url}${path}`, { method, ca: emu.caPem, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const m = /"access_token":"([^"]+)"/.exec(text);
        if (m) recordSecret(m[1]);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Form fields of a federated client-credentials request; override any of them. */
export function tokenForm(emu: Emulator, over: Record<string, string | undefined> = {}): string {
  const assertion = over.client_assertion ?? emu.mintServiceAccountToken().token;
  recordSecret(assertion);
  const fields: Record<string, string | undefined> = {
    grant_type: 'client_credentials',
    client_id: emu.clientId,
    scope: 'https://vault.azure.net/.default',
    client_assertion_type: ASSERTION_TYPE,
    ...over,
    client_assertion: assertion,
  };
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) form.set(k, v);
  return form.toString();
}

/** POSTs a token request for `tenant` (default the emulator's). */
export function postToken(emu: Emulator, form: string, tenant = emu.tenantId, headers: Record<string, string> = {}): Promise<RawResponse> {
  return call(emu, 'POST', `/${tenant}/oauth2/v2.0/token`, form, { 'content-type': 'application/x-www-form-urlencoded', ...headers });
}

/**
 * A real msal-node confidential client against the emulator. The CA is trusted through a custom
 * `system.networkClient` (node:https with `ca`), because msal-node 7 uses global fetch, which
 * ignores https.globalAgent. `knownAuthorities` turns off instance discovery; pass
 * `authorityMetadata` to turn off OIDC discovery too.
 */
export function msalClient(
  emu: Emulator,
  o: { clientId?: string; tenant?: string; assertion?: () => string; authorityMetadata?: string } = {},
): ConfidentialClientApplication {
  return new ConfidentialClientApplication({
    auth: {
      clientId: o.clientId ?? emu.clientId,
      authority: `${emu.url}/${o.tenant ?? emu.tenantId}`,
      knownAuthorities: [new URL(emu.url).host],
      authorityMetadata: o.authorityMetadata,
      clientAssertion: async () => {
        const token = o.assertion ? o.assertion() : emu.mintServiceAccountToken().token;
        recordSecret(token);
        return token;
      },
    },
    system: { networkClient: caTrustingNetworkClient(emu.caPem) },
  });
}

/** base64url JSON part of a JWT. */
export function jwtPart(token: string, i: 0 | 1): any {
  return JSON.parse(Buffer.from(token.split('.')[i] as string, 'base64url').toString('utf8'));
}
