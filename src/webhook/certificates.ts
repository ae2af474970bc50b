import { createPrivateKey, generateKeyPair, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import { createCertificate, pemLf } from '../x509.js';
import type { KeyPair } from './tls.js';

const generateRsa = promisify(generateKeyPair);
const DAY_MS = 86_400_000;

/** A CA certificate and its key, PEM. */
export interface CertificateAuthority {
  cert: string;
  key: string;
}

async function rsaKeyPair(): Promise<{ publicKey: string; privateKey: string }> {
  return generateRsa('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/**
 * A self-signed CA for the webhook's serving certificate (RSA 2048, SHA-256). Keys are generated
 * off the event loop.
 *
 * @example
 * const ca = await createCertificateAuthority('entra-sidecar-webhook-ca', 3650, new Date());
 */
export async function createCertificateAuthority(commonName: string, validDays: number, now: Date): Promise<CertificateAuthority> {
  const keys = await rsaKeyPair();
  const built = createCertificate({
    commonName,
    organizationName: 'entra-sidecar',
    publicKeyPem: keys.publicKey,
    signingKeyPem: keys.privateKey,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + validDays * DAY_MS),
    ca: true,
  });
  return { cert: built.certPem, key: keys.privateKey };
}

/**
 * A serving certificate for `dnsNames` (the first is also the subject CN), signed by `ca`, never
 * outliving it.
 *
 * @example
 * await issueServingCertificate(ca, ['svc.ns.svc', 'svc.ns.svc.cluster.local'], 365, new Date());
 */
export async function issueServingCertificate(ca: CertificateAuthority, dnsNames: string[], validDays: number, now: Date): Promise<KeyPair> {
  const keys = await rsaKeyPair();
  const caNotAfter = new Date(new X509Certificate(ca.cert).validTo).getTime();
  const built = createCertificate({
    commonName: dnsNames[0] as string,
    publicKeyPem: keys.publicKey,
    issuerCertPem: ca.cert,
    signingKeyPem: ca.key,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(Math.min(now.getTime() + validDays * DAY_MS, caNotAfter)),
    serverNames: dnsNames,
  });
  return { cert: built.certPem, key: keys.privateKey };
}

/** The DNS names a webhook Service answers to inside the cluster. */
export function serviceDnsNames(serviceName: string, namespace: string): string[] {
  return [`${serviceName}.${namespace}.svc`, `${serviceName}.${namespace}.svc.cluster.local`, `${serviceName}.${namespace}`, serviceName];
}

/** Splits a PEM bundle into its certificates, each in canonical form (`\n` endings, one trailing newline). */
export function splitPemBundle(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((c) => `${pemLf(c)}\n`) ?? [];
}

/**
 * Why a serving certificate must be replaced now, or undefined when it is good: signed by the CA,
 * matching its key, covering `dnsNames`, and valid for longer than `renewBeforeMs`.
 */
export function servingCertificateProblem(pair: KeyPair, caPem: string, dnsNames: string[], now: Date, renewBeforeMs: number): string | undefined {
  try {
    const cert = new X509Certificate(pair.cert);
    const ca = new X509Certificate(caPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not signed by the CA';
    if (!cert.checkPrivateKey(createPrivateKey(pair.key))) return 'key does not match';
    const sans = (cert.subjectAltName ?? '').split(',').map((s) => s.trim().replace(/^DNS:/, ''));
    const missing = dnsNames.filter((n) => !sans.includes(n));
    if (missing.length > 0) return `does not cover ${missing.join(', ')}`;
    if (new Date(cert.validFrom).getTime() > now.getTime()) return 'not valid yet';
    if (new Date(cert.validTo).getTime() - now.getTime() < renewBeforeMs) return 'expires soon';
    return undefined;
  } catch (err) {
    return `unreadable: ${(err as Error).message}`;
  }
}

/** Why a CA must be replaced now (expired, or expiring within `renewBeforeMs`), or undefined. */
export function caProblem(ca: CertificateAuthority, now: Date, renewBeforeMs: number): string | undefined {
  try {
    const cert = new X509Certificate(ca.cert);
    if (!cert.ca) return 'not a CA';
    if (!cert.checkPrivateKey(createPrivateKey(ca.key))) return 'key does not match';
    if (new Date(cert.validTo).getTime() - now.getTime() < renewBeforeMs) return 'expires soon';
    return undefined;
  } catch (err) {
    return `unreadable: ${(err as Error).message}`;
  }
}

/** True when the certificate's validity period has not ended at `now`. */
export function isUnexpired(certPem: string, now: Date): boolean {
  try {
    return new Date(new X509Certificate(certPem).validTo).getTime() > now.getTime();
  } catch {
    return false;
  }
}
