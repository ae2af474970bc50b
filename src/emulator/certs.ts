import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { createCertificate } from '../x509.js';

/** A PEM certificate with its private key and the SHA-1 thumbprint (base64url) Entra uses as `x5t`. */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  /** base64 DER, as in a JWK's `x5c` */
  derBase64: string;
  x5t: string;
}

/** An RSA key pair as Node key objects (the emulator's signing and TLS keys). */
interface RsaKeyObjects {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const DAY_MS = 86_400_000;

function pems(pair: RsaKeyObjects): { keyPem: string; publicKeyPem: string } {
  return {
    keyPem: pair.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
    publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

function validFor(days: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - 60 * 60 * 1000), notAfter: new Date(now + days * DAY_MS) };
}

/**
 * A self-signed CA certificate for the emulator's TLS.
 *
 * @example
 * const ca = createCertificateAuthority(await generateRsaKeyPair());
 */
export function createCertificateAuthority(pair: RsaKeyObjects, commonName = 'entra-sidecar emulator CA'): IssuedCertificate {
  const { keyPem, publicKeyPem } = pems(pair);
  return { ...createCertificate({ commonName, publicKeyPem, signingKeyPem: keyPem, ...validFor(365), ca: true }), keyPem };
}

/**
 * A TLS server certificate signed by the CA, valid for the given IP addresses and DNS names.
 *
 * @example
 * const server = createServerCertificate(ca, pair, ['127.0.0.1', 'localhost']);
 */
export function createServerCertificate(ca: Pick<IssuedCertificate, 'certPem' | 'keyPem'>, pair: RsaKeyObjects, names: string[]): IssuedCertificate {
  const { keyPem, publicKeyPem } = pems(pair);
  const commonName = names.find((n) => isIP(n) === 0) ?? names[0] ?? 'localhost';
  const built = createCertificate({ commonName, publicKeyPem, issuerCertPem: ca.certPem, signingKeyPem: ca.keyPem, ...validFor(90), serverNames: names });
  return { ...built, keyPem };
}

/**
 * A self-signed certificate for a token-signing key, published as `x5c` in the JWKS like Entra's.
 *
 * @example
 * const signing = createSigningCertificate(pair);
 */
export function createSigningCertificate(pair: RsaKeyObjects, commonName = 'accounts.accesscontrol.windows.net'): IssuedCertificate {
  const { keyPem, publicKeyPem } = pems(pair);
  return { ...createCertificate({ commonName, publicKeyPem, signingKeyPem: keyPem, ...validFor(365) }), keyPem };
}
