import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { CredentialSource } from './credential-source.js';
import { ClientCredentialError } from './errors.js';

/** A client certificate ready for msal-node: never logged, never leaves the process. */
export interface LoadedCertificate {
  /** hex SHA-256 of the leaf certificate's DER (msal-node's `thumbprintSha256`; public) */
  thumbprintSha256: string;
  /** the private key as unencrypted PKCS#8 PEM, in memory only */
  privateKeyPem: string;
  /** the chain, leaf first, as PEM (sent as x5c when asked) */
  chainPem: string;
  /** the leaf's notAfter, ms since the epoch */
  notAfterMs: number;
  /** the leaf's subject, for log lines (public) */
  subject: string;
  /** a file holding the private key can be read by every user */
  worldReadableKey?: string;
}

/**
 * Reads the client secret: from its file afresh each time (kubelet swaps a Secret volume's
 * `..data` link on rotation), or the value given in `AZURE_CLIENT_SECRET`. Surrounding
 * whitespace — the newline `echo` or an editor leaves — is dropped. Errors name the file and the
 * fix, never the content.
 *
 * @example
 * const secret = await readClientSecret({ kind: 'client_secret', file: '/var/run/secrets/entra-sidecar/client-secret/client-secret', setting });
 */
export async function readClientSecret(source: Extract<CredentialSource, { kind: 'client_secret' }>): Promise<string> {
  if (source.value !== undefined) return source.value;
  const file = source.file as string;
  const text = (await readCredentialFile(file, 'client secret', source.setting)).toString('utf8').trim();
  if (text === '') throw new ClientCredentialError(file, 'client secret', "is empty: put the secret's value (not its id) in the Secret");
  if (/[\r\n]/.test(text)) throw new ClientCredentialError(file, 'client secret', "holds more than one line: it must hold only the secret's value");
  return text;
}

/**
 * Loads a client certificate: a PEM file with the certificate (chain) and its private key (or
 * the key in `keyFile`), plain or encrypted, or a PKCS#12 file. Each call reads the files; the
 * parsed result is reused while their bytes (and the password) are unchanged, so a rotated
 * Secret is picked up by the next exchange. The private key must be RSA (Entra signs and checks
 * RS256/PS256 client assertions) and must match the leaf certificate.
 *
 * @example
 * const cert = await loader.load(); // { thumbprintSha256, privateKeyPem, chainPem, notAfterMs, subject }
 */
export class CertificateLoader {
  private cached: { fingerprint: string; cert: LoadedCertificate } | undefined;

  constructor(private readonly source: Extract<CredentialSource, { kind: 'client_certificate' }>) {}

  async load(): Promise<LoadedCertificate> {
    const s = this.source;
    const [bytes, keyBytes, passwordText] = await Promise.all([
      readCredentialFile(s.file, 'client certificate', s.setting),
      s.keyFile ? readCredentialFile(s.keyFile, 'client certificate key', s.setting) : Promise.resolve(undefined),
      s.passwordFile
        ? readCredentialFile(s.passwordFile, 'certificate password', s.setting).then((b) => b.toString('utf8').replace(/\r?\n$/, ''))
        : Promise.resolve(s.password),
    ]);
    const fingerprint = createHash('sha256')
      .update(bytes)
      .update('\0')
      .update(keyBytes ?? '')
      .update('\0')
      .update(passwordText ?? '')
      .digest('hex');
    if (this.cached?.fingerprint === fingerprint) return this.cached.cert;
    const cert = await parseCertificate(s.file, bytes, keyBytes, passwordText, s.keyFile);
    const keyPath = s.keyFile ?? s.file;
    const mode = await stat(keyPath).then(
      (st) => st.mode,
      () => 0,
    );
    if ((mode & 0o004) !== 0) cert.worldReadableKey = `${keyPath} (mode 0${(mode & 0o777).toString(8)})`;
    this.cached = { fingerprint, cert };
    return cert;
  }
}

async function readCredentialFile(file: string, what: string, setting: string): Promise<Buffer> {
  try {
    const bytes = await readFile(file);
    if (bytes.length > 1024 * 1024) throw new ClientCredentialError(file, what, `is larger than 1 MiB: it must hold only the ${what}`);
    return bytes;
  } catch (err) {
    if (err instanceof ClientCredentialError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new ClientCredentialError(
        file,
        what,
        `does not exist: check the Secret is mounted (kubectl describe pod: a missing Secret or key shows as FailedMount) and ${setting} points at it`,
      );
    if (code === 'EACCES' || code === 'EPERM')
      throw new ClientCredentialError(file, what, "is not readable by this user: check the volume's defaultMode (or the pod's fsGroup) and the container user");
    if (code === 'EISDIR') throw new ClientCredentialError(file, what, `is a folder: ${setting} must name the file itself`);
    throw new ClientCredentialError(file, what, `cannot be read (${code ?? 'unknown error'})`);
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/** Parses PEM or PKCS#12 bytes into a certificate msal-node can sign with; exported for tests and fuzzing. */
export async function parseCertificate(
  file: string,
  bytes: Buffer,
  keyBytes: Buffer | undefined,
  password: string | undefined,
  keyFile?: string,
): Promise<LoadedCertificate> {
  const text = bytes.toString('latin1');
  let certs: X509Certificate[];
  let key: KeyObject;
  if (text.includes('-----BEGIN ')) {
    const blocks = [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1] as string, pem: m[0] }));
    certs = blocks
      .filter((b) => b.label === 'CERTIFICATE')
      .map((b) => {
        try {
          return new X509Certificate(b.pem);
        } catch {
          throw new ClientCredentialError(file, 'client certificate', 'holds a CERTIFICATE block that does not parse: export the certificate again as PEM');
        }
      });
    if (certs.length === 0)
      throw new ClientCredentialError(
        file,
        'client certificate',
        'holds no -----BEGIN CERTIFICATE----- block: it must hold the certificate (and its private key) as PEM, or be a PKCS#12 file',
      );
    const keySource = keyBytes ? keyBytes.toString('latin1') : text;
    const keyBlocks = [...keySource.matchAll(PEM_BLOCK)]
      .filter((m) => / ?PRIVATE KEY$/.test(m[1] as string))
      .map((m) => ({ label: m[1] as string, pem: m[0] }));
    const where = keyFile ?? file;
    if (keyBlocks.length === 0)
      throw new ClientCredentialError(
        where,
        'client certificate',
        `holds no private key: put the key (-----BEGIN PRIVATE KEY-----) in the same PEM file, or give its own file with --client-certificate-key-file`,
      );
    if (keyBlocks.length > 1)
      throw new ClientCredentialError(where, 'client certificate', 'holds more than one private key: keep only the key of the certificate');
    key = privateKeyOf(keyBlocks[0]!.pem, keyBlocks[0]!.label, password, where);
  } else {
    ({ certs, key } = await fromPkcs12(file, bytes, password));
  }
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') {
    throw new ClientCredentialError(
      keyFile ?? file,
      'client certificate',
      `has a ${key.asymmetricKeyType ?? 'non-RSA'} private key: Entra client assertions are signed with RSA (RS256/PS256); create an RSA certificate (2048 bits or more)`,
    );
  }
  const leaf = certs.find((c) => c.checkPrivateKey(key));
  if (!leaf)
    throw new ClientCredentialError(file, 'client certificate', 'does not hold the certificate of its private key: the key and the certificate do not match');
  const chain = [leaf, ...certs.filter((c) => c !== leaf)];
  return {
    thumbprintSha256: createHash('sha256').update(leaf.raw).digest('hex'),
    privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
    chainPem: chain.map((c) => c.toString()).join(''),
    notAfterMs: Date.parse(leaf.validTo),
    subject: leaf.subject.replace(/\n/g, ', '),
  };
}

function privateKeyOf(pem: string, label: string, password: string | undefined, file: string): KeyObject {
  const encrypted = label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(pem);
  if (encrypted && password === undefined)
    throw new ClientCredentialError(
      file,
      'client certificate',
      'holds an encrypted private key: give its password with --client-certificate-password-file (or AZURE_CLIENT_CERTIFICATE_PASSWORD)',
    );
  try {
    return createPrivateKey(encrypted ? { key: pem, format: 'pem', passphrase: password } : { key: pem, format: 'pem' });
  } catch {
    throw new ClientCredentialError(
      file,
      'client certificate',
      encrypted
        ? 'holds an encrypted private key that the password does not open: check the password file'
        : 'holds a private key that does not parse: export it again as PEM',
    );
  }
}

async function fromPkcs12(file: string, bytes: Buffer, password: string | undefined): Promise<{ certs: X509Certificate[]; key: KeyObject }> {
  // node-forge is loaded only for PKCS#12: a sidecar with a PEM or a secret never parses it
  const forge = (await import('node-forge')).default;
  let p12;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(bytes.toString('binary')), false, password ?? '');
  } catch (err) {
    const m = err instanceof Error ? err.message : '';
    if (/MAC|password|decrypt/i.test(m))
      throw new ClientCredentialError(
        file,
        'client certificate',
        `is a PKCS#12 file the password does not open: ${password === undefined ? 'give its password with --client-certificate-password-file' : 'check the password file'}`,
      );
    throw new ClientCredentialError(file, 'client certificate', 'is neither PEM nor a PKCS#12 file: it must hold the certificate and its private key');
  }
  const certs: X509Certificate[] = [];
  for (const bag of p12.getBags({ bagType: forge.pki.oids.certBag as string })[forge.pki.oids.certBag as string] ?? []) {
    if (bag.cert) certs.push(new X509Certificate(forge.pki.certificateToPem(bag.cert)));
  }
  const keyBags = [
    ...(p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag as string })[forge.pki.oids.pkcs8ShroudedKeyBag as string] ?? []),
    ...(p12.getBags({ bagType: forge.pki.oids.keyBag as string })[forge.pki.oids.keyBag as string] ?? []),
  ];
  const keyBag = keyBags.find((b) => b.key);
  if (!keyBag?.key)
    throw new ClientCredentialError(
      file,
      'client certificate',
      'is a PKCS#12 file without a private key (or with a non-RSA key): export it with the private key',
    );
  if (certs.length === 0)
    throw new ClientCredentialError(file, 'client certificate', 'is a PKCS#12 file without a certificate: export it with the certificate');
  const key = createPrivateKey(forge.pki.privateKeyToPem(keyBag.key));
  return { certs, key };
}
