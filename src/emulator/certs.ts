import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

/** A PEM certificate with its private key and the SHA-1 thumbprint (base64url) Entra uses as `x5t`. */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  /** base64 DER, as in a JWK's `x5c` */
  derBase64: string;
  x5t: string;
}

interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function toForge(pair: KeyPair): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; keyPem: string } {
  const keyPem = pair.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  return {
    privateKey: forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey,
    publicKey: forge.pki.publicKeyFromPem(publicPem) as forge.pki.rsa.PublicKey,
    keyPem,
  };
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f; // positive
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, days: number): void {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now + days * 24 * 60 * 60 * 1000);
}

function finish(cert: forge.pki.Certificate, keyPem: string): IssuedCertificate {
  const certPem = forge.pki.certificateToPem(cert);
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return { certPem, keyPem, derBase64: der.toString('base64'), x5t: createHash('sha1').update(der).digest('base64url') };
}

/**
 * A self-signed CA certificate for the emulator's TLS.
 *
 * @example
 * const ca = createCertificateAuthority(await generateRsaKeyPair());
 */
export function createCertificateAuthority(pair: KeyPair, commonName = 'entra-sidecar emulator CA'): IssuedCertificate & { forgeKey: forge.pki.rsa.PrivateKey; cert: forge.pki.Certificate } {
  const k = toForge(pair);
  const cert = forge.pki.createCertificate();
  cert.serialNumber = serial();
  cert.publicKey = k.publicKey;
  validity(cert, 365);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(k.privateKey, forge.md.sha256.create());
  return { ...finish(cert, k.keyPem), forgeKey: k.privateKey, cert };
}

/**
 * A TLS server certificate signed by the CA, valid for the given IP addresses and DNS names.
 *
 * @example
 * const server = createServerCertificate(ca, pair, ['127.0.0.1', 'localhost']);
 */
export function createServerCertificate(
  ca: { forgeKey: forge.pki.rsa.PrivateKey; cert: forge.pki.Certificate },
  pair: KeyPair,
  names: string[],
): IssuedCertificate {
  const k = toForge(pair);
  const cert = forge.pki.createCertificate();
  cert.serialNumber = serial();
  cert.publicKey = k.publicKey;
  validity(cert, 90);
  cert.setSubject([{ name: 'commonName', value: names.find((n) => isIP(n) === 0) ?? names[0] ?? 'localhost' }]);
  cert.setIssuer(ca.cert.subject.attributes);
  const altNames = [...new Set(names)].map((n) => (isIP(n) === 0 ? { type: 2, value: n } : { type: 7, ip: n }));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(ca.forgeKey, forge.md.sha256.create());
  return finish(cert, k.keyPem);
}

/**
 * A self-signed certificate for a token-signing key, published as `x5c` in the JWKS like Entra's.
 *
 * @example
 * const signing = createSigningCertificate(pair);
 */
export function createSigningCertificate(pair: KeyPair, commonName = 'accounts.accesscontrol.windows.net'): IssuedCertificate {
  const k = toForge(pair);
  const cert = forge.pki.createCertificate();
  cert.serialNumber = serial();
  cert.publicKey = k.publicKey;
  validity(cert, 365);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(k.privateKey, forge.md.sha256.create());
  return finish(cert, k.keyPem);
}
