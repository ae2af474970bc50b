import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

/**
 * X.509 certificates, built in one place: the webhook's self-managed CA and serving certificate,
 * and the Entra emulator's TLS and token-signing certificates. (Node's crypto verifies and reads
 * certificates but cannot create them; node-forge does the building.)
 */

/** What to put in one certificate. Keys are PEM (any format node-forge reads: PKCS#1 or PKCS#8 via SPKI). */
export interface CertificateSpec {
  commonName: string;
  organizationName?: string;
  /** SPKI PEM of the certificate's key */
  publicKeyPem: string;
  /** the issuer's certificate (PEM); absent for a self-signed certificate */
  issuerCertPem?: string;
  /** PEM private key that signs: the issuer's, or the certificate's own when self-signed */
  signingKeyPem: string;
  notBefore: Date;
  notAfter: Date;
  /** a CA (basicConstraints cA, keyCertSign) rather than an end-entity certificate */
  ca?: boolean;
  /** DNS names and IP addresses of a TLS server certificate (subjectAltName, serverAuth) */
  serverNames?: string[];
}

/** A built certificate: PEM with `\n` endings, base64 DER (a JWK's `x5c`) and the SHA-1 `x5t`. */
export interface BuiltCertificate {
  certPem: string;
  derBase64: string;
  /** base64url SHA-1 thumbprint, as Entra's `x5t` */
  x5t: string;
}

/** PEM with `\n` line endings (node-forge writes `\r\n`), so bundles compare equal everywhere. */
export function pemLf(pem: string): string {
  return pem.replace(/\r\n/g, '\n');
}

function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = (b[0] as number) & 0x7f; // positive
  return b.toString('hex');
}

/**
 * Builds and signs one certificate (SHA-256).
 *
 * @example
 * const ca = createCertificate({ commonName: 'my-ca', publicKeyPem, signingKeyPem: privateKeyPem, notBefore, notAfter, ca: true });
 */
export function createCertificate(spec: CertificateSpec): BuiltCertificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(spec.publicKeyPem);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  const subject = [
    { name: 'commonName', value: spec.commonName },
    ...(spec.organizationName ? [{ name: 'organizationName', value: spec.organizationName }] : []),
  ];
  const issuer = spec.issuerCertPem ? forge.pki.certificateFromPem(spec.issuerCertPem) : undefined;
  cert.setSubject(subject);
  cert.setIssuer(issuer ? issuer.subject.attributes : subject);
  const extensions: Record<string, unknown>[] = [];
  if (spec.ca) {
    extensions.push(
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    );
  } else if (spec.serverNames) {
    const altNames = [...new Set(spec.serverNames)].map((n) => (isIP(n) === 0 ? { type: 2, value: n } : { type: 7, ip: n }));
    extensions.push(
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
      { name: 'subjectKeyIdentifier' },
    );
  }
  if (issuer) extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: issuer.generateSubjectKeyIdentifier().getBytes() });
  if (extensions.length > 0) cert.setExtensions(extensions);
  cert.sign(forge.pki.privateKeyFromPem(spec.signingKeyPem), forge.md.sha256.create());
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return { certPem: pemLf(forge.pki.certificateToPem(cert)), derBase64: der.toString('base64'), x5t: createHash('sha1').update(der).digest('base64url') };
}
