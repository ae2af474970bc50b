import { constants, createHash, generateKeyPairSync, randomBytes, randomUUID, verify, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import type { DecodedJwt } from './jwt.js';
import type { ErrorDetails } from './entra-errors.js';

/** A client secret registered on an application ("Certificates & secrets" → client secrets). */
interface RegisteredSecret {
  id: string;
  clientId: string;
  value: string;
  /** ms since the epoch; absent = never expires */
  expiresAtMs?: number;
}

/** A certificate registered on an application (its public part, as uploaded to the portal). */
interface RegisteredCertificate {
  id: string;
  clientId: string;
  /** hex SHA-1 and SHA-256 of the DER, upper case as Entra prints them */
  sha1: string;
  sha256: string;
  publicKey: KeyObject;
  notAfterMs: number;
}

/** What the token endpoint decided about a client credential; `credentialId` names the one that matched. */
export type CredentialDecision = { ok: true; credentialId: string } | { ok: false; code: number; extra?: ErrorDetails };

/**
 * The client secrets and certificates of the emulated applications, and the checks Entra makes
 * on them: a `client_secret` must be a registered, unexpired secret of the app (AADSTS7000215 /
 * AADSTS7000222); a certificate assertion must name a registered certificate by `x5t#S256` or
 * `x5t` (AADSTS700027), be signed by it with RS256 or PS256, have `iss` = `sub` = the client id
 * (AADSTS700021), `aud` = the token endpoint (AADSTS700023), be within `nbf`..`exp`
 * (AADSTS700024). Stricter than Entra: a `jti` seen before, while its assertion is still valid,
 * is refused (AADSTS50027), to prove clients never send an assertion twice.
 */
export class ClientCredentials {
  private readonly secrets = new Map<string, RegisteredSecret>();
  private readonly certificates = new Map<string, RegisteredCertificate>();
  /** jti → exp (ms) of accepted certificate assertions */
  private readonly seenJti = new Map<string, number>();

  /** Registers a client secret; returns its id (the portal's "Secret ID"). */
  addSecret(clientId: string, value: string, expiresAtMs?: number): string {
    const id = randomUUID();
    this.secrets.set(id, { id, clientId: clientId.toLowerCase(), value, expiresAtMs });
    return id;
  }

  /** Registers the public part of a certificate; returns its id and thumbprints. */
  addCertificate(clientId: string, certPem: string): { id: string; thumbprintSha256: string; thumbprintSha1: string } {
    const x509 = new X509Certificate(certPem);
    const id = randomUUID();
    const sha1 = createHash('sha1').update(x509.raw).digest('hex').toUpperCase();
    const sha256 = createHash('sha256').update(x509.raw).digest('hex').toUpperCase();
    this.certificates.set(id, { id, clientId: clientId.toLowerCase(), sha1, sha256, publicKey: x509.publicKey, notAfterMs: Date.parse(x509.validTo) });
    return { id, thumbprintSha256: sha256.toLowerCase(), thumbprintSha1: sha1.toLowerCase() };
  }

  /** Removes a secret or certificate (revocation); true when it existed. */
  remove(id: string): boolean {
    return this.secrets.delete(id) || this.certificates.delete(id);
  }

  /**
   * Judges a `client_secret`.
   *
   * @example
   * credentials.judgeSecret(clientId, form.get('client_secret'), Date.now())
   */
  judgeSecret(clientId: string, value: string, nowMs: number): CredentialDecision {
    const app = clientId.toLowerCase();
    for (const s of this.secrets.values()) {
      if (s.clientId !== app || !equal(s.value, value)) continue;
      if (s.expiresAtMs !== undefined && s.expiresAtMs <= nowMs) return { ok: false, code: 7000222 };
      return { ok: true, credentialId: s.id };
    }
    return { ok: false, code: 7000215 };
  }

  /**
   * Judges a client assertion signed with a certificate (its header carries `x5t#S256` or `x5t`).
   *
   * @example
   * credentials.judgeCertificateAssertion(clientId, decodeJwt(assertion)!, `${baseUrl}/${tenant}/oauth2/v2.0/token`, Date.now())
   */
  judgeCertificateAssertion(clientId: string, jwt: DecodedJwt, tokenEndpoint: string, nowMs: number): CredentialDecision {
    const app = clientId.toLowerCase();
    const s256 = typeof jwt.header['x5t#S256'] === 'string' ? hexOf(jwt.header['x5t#S256'] as string) : undefined;
    const s1 = typeof jwt.header.x5t === 'string' ? hexOf(jwt.header.x5t as string) : undefined;
    const thumbprint = s256 ?? s1 ?? '';
    const cert = [...this.certificates.values()].find(
      (c) => c.clientId === app && ((s256 !== undefined && c.sha256 === s256) || (s1 !== undefined && c.sha1 === s1)),
    );
    if (!cert) return { ok: false, code: 700027, extra: { thumbprint, keyProblem: 'The key was not found.' } };
    if (cert.notAfterMs <= nowMs) return { ok: false, code: 700027, extra: { thumbprint, keyProblem: 'The key used is expired.' } };
    if (!verifySignature(jwt, cert.publicKey))
      return { ok: false, code: 700027, extra: { thumbprint, keyProblem: 'The signature does not verify with the registered key.' } };
    const p = jwt.payload;
    if (p.iss !== clientId || p.sub !== clientId) return { ok: false, code: 700021 };
    if (p.aud !== tokenEndpoint) return { ok: false, code: 700023 };
    const now = nowMs / 1000;
    const nbf = typeof p.nbf === 'number' ? p.nbf : 0;
    const exp = typeof p.exp === 'number' ? p.exp : 0;
    if (now < nbf - 300 || now >= exp) return { ok: false, code: 700024, extra: { notBefore: nbf, expiry: exp } };
    const jti = typeof p.jti === 'string' ? p.jti : '';
    for (const [k, until] of this.seenJti) if (until <= nowMs) this.seenJti.delete(k);
    if (jti === '' || this.seenJti.has(jti)) return { ok: false, code: 50027 };
    this.seenJti.set(jti, exp * 1000);
    return { ok: true, credentialId: cert.id };
  }
}

/** True when a client assertion is signed with a certificate rather than being a federated token. */
export function isCertificateAssertion(jwt: DecodedJwt): boolean {
  return typeof jwt.header['x5t#S256'] === 'string' || typeof jwt.header.x5t === 'string';
}

function verifySignature(jwt: DecodedJwt, key: KeyObject): boolean {
  const input = Buffer.from(jwt.signingInput);
  try {
    if (jwt.header.alg === 'RS256') return verify('sha256', input, key, jwt.signature);
    if (jwt.header.alg === 'PS256') return verify('sha256', input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, jwt.signature);
  } catch {
    return false;
  }
  return false;
}

function hexOf(b64url: string): string {
  return Buffer.from(b64url, 'base64url').toString('hex').toUpperCase();
}

function equal(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return x.equals(y) && a === b;
}

/** A client certificate for tests and the demo: an RSA key and a self-signed certificate. */
export interface ClientCertificate {
  certPem: string;
  /** unencrypted PKCS#8 PEM */
  keyPem: string;
  privateKey: KeyObject;
  thumbprintSha256: string;
  notAfterMs: number;
}

/**
 * Creates an RSA key and a self-signed certificate for it (as `New-SelfSignedCertificate` or
 * `openssl req -x509` would), valid from an hour ago for `validForSec` (default 1 year); a
 * negative value makes an already-expired certificate.
 *
 * @example
 * const cert = createClientCertificate({ commonName: 'my-app' });
 * emulator.addClientCertificate(cert.certPem);
 */
export function createClientCertificate(o: { commonName?: string; validForSec?: number; issuer?: ClientCertificate } = {}): ClientCertificate {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const cert = forge.pki.createCertificate();
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.publicKey = forge.pki.publicKeyFromPem(pair.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const now = Date.now();
  const validForSec = o.validForSec ?? 365 * 24 * 3600;
  cert.validity.notBefore = new Date(Math.min(now - 3600_000, now + validForSec * 1000 - 7200_000));
  cert.validity.notAfter = new Date(now + validForSec * 1000);
  const subject = [{ name: 'commonName', value: o.commonName ?? 'entra-sidecar client' }];
  cert.setSubject(subject);
  const signer = o.issuer;
  cert.setIssuer(signer ? forge.pki.certificateFromPem(signer.certPem).subject.attributes : subject);
  cert.sign(
    forge.pki.privateKeyFromPem(
      signer ? (signer.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string) : (pair.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string),
    ),
    forge.md.sha256.create(),
  );
  const certPem = forge.pki.certificateToPem(cert);
  const x509 = new X509Certificate(certPem);
  return {
    certPem,
    keyPem,
    privateKey: pair.privateKey,
    thumbprintSha256: createHash('sha256').update(x509.raw).digest('hex'),
    notAfterMs: Date.parse(x509.validTo),
  };
}
