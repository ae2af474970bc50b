import { createPublicKey, type KeyObject } from 'node:crypto';
import { request } from 'node:https';

/**
 * OIDC issuers outside the emulator (a real cluster's kube-apiserver) that it trusts the way Entra
 * trusts a federated credential's issuer: it reads `<issuer>/.well-known/openid-configuration`,
 * requires its `issuer` to be exactly the registered URL, and verifies assertions with the keys of
 * the `jwks_uri` it names. Keys are fetched again when an assertion names a `kid` not seen yet
 * (the issuer rotated its key), at most once every few seconds.
 */

/** The `jwks_uri` of an OpenID configuration, after checking that it is for `issuer`. Throws naming the problem. */
export function jwksUriOf(configuration: unknown, issuer: string): string {
  const doc = configuration as { issuer?: unknown; jwks_uri?: unknown } | null;
  if (typeof doc !== 'object' || doc === null) throw new Error(`${issuer}/.well-known/openid-configuration is not a JSON object`);
  if (doc.issuer !== issuer) throw new Error(`the OpenID configuration of ${issuer} names another issuer: ${JSON.stringify(doc.issuer)}`);
  if (typeof doc.jwks_uri !== 'string' || !doc.jwks_uri.startsWith('https://')) throw new Error(`the OpenID configuration of ${issuer} has no https jwks_uri`);
  return doc.jwks_uri;
}

/** The RSA signature keys of a JWKS by `kid` (other key types and uses are ignored). */
export function signingKeysOf(jwks: unknown): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  const list = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new Error('the JWKS has no "keys" array');
  for (const k of list as Record<string, unknown>[]) {
    if (k?.kty !== 'RSA' || typeof k.kid !== 'string' || typeof k.n !== 'string' || typeof k.e !== 'string') continue;
    if (k.use !== undefined && k.use !== 'sig') continue;
    if (k.alg !== undefined && k.alg !== 'RS256') continue;
    keys.set(k.kid, createPublicKey({ key: { kty: 'RSA', n: k.n, e: k.e }, format: 'jwk' }));
  }
  return keys;
}

const MAX_BYTES = 1024 * 1024;

function getJson(url: string, caPem: string | undefined, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', ca: caPem, timeout: timeoutMs, headers: { accept: 'application/json, application/jwk-set+json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BYTES) req.destroy(new Error(`${url}: answer larger than ${MAX_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${url}: HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new Error(`${url}: the answer is not JSON`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

interface TrustedIssuer {
  caPem?: string;
  jwksUri: string;
  keys: Map<string, KeyObject>;
  fetchedAt: number;
}

/** The external issuers an emulator trusts, with their keys. */
export class ExternalIssuers {
  private readonly issuers = new Map<string, TrustedIssuer>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly refetchAfterMs = 5000,
    private readonly timeoutMs = 5000,
  ) {}

  /**
   * Trusts `issuer` (https): fetches its OpenID configuration and JWKS now; rejects naming the problem.
   *
   * @example
   * await issuers.trust('https://127.0.0.1:6443', { caPem });
   */
  async trust(issuer: string, options: { caPem?: string } = {}): Promise<void> {
    if (!issuer.startsWith('https://')) throw new Error(`an external issuer must be an https URL, got ${issuer}`);
    const configuration = await getJson(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, options.caPem, this.timeoutMs);
    const jwksUri = jwksUriOf(configuration, issuer);
    const keys = signingKeysOf(await getJson(jwksUri, options.caPem, this.timeoutMs));
    this.issuers.set(issuer, { caPem: options.caPem, jwksUri, keys, fetchedAt: this.now() });
  }

  /** True when `issuer` is trusted as an external issuer (its tokens are judged by its own keys only). */
  has(issuer: string): boolean {
    return this.issuers.has(issuer);
  }

  /** The key `issuer` publishes under `kid`, if any. */
  key(issuer: string, kid: string): KeyObject | undefined {
    return this.issuers.get(issuer)?.keys.get(kid);
  }

  /** Fetches the JWKS again when `kid` is unknown and the last fetch is older than a few seconds. Never throws. */
  async refreshFor(issuer: string, kid: string): Promise<void> {
    const trusted = this.issuers.get(issuer);
    if (!trusted || trusted.keys.has(kid) || this.now() - trusted.fetchedAt < this.refetchAfterMs) return;
    trusted.fetchedAt = this.now();
    try {
      trusted.keys = signingKeysOf(await getJson(trusted.jwksUri, trusted.caPem, this.timeoutMs));
    } catch {
      /* keep the keys we have: the assertion is then refused for its signature */
    }
  }
}
