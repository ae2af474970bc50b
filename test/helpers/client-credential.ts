import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { createClientCertificate, type ClientCertificate, type Emulator } from '../../src/emulator/index.js';
import { ProjectedVolumeWriter } from '../../src/emulator/projected-volume.js';
import { recordSecret } from './audit.js';

/** Records a PEM private key for the log audit: every base64 line of its body, and the whole. */
export function recordPrivateKey(pem: string): void {
  for (const line of pem.split('\n')) if (line.length >= 16 && !line.startsWith('-----')) recordSecret(line.trim());
}

/**
 * A Secret volume as kubelet writes it (`..data` swapped atomically on update), mounted only in
 * the sidecar: `write` publishes new content, as `kubectl apply` of the Secret would.
 */
export class SecretVolume {
  readonly dir = mkdtempSync(join(tmpdir(), 'entra-secret-'));
  private readonly writer = new ProjectedVolumeWriter();
  constructor(private readonly mode = 0o644) {}
  write(files: Record<string, string | Buffer>): void {
    this.writer.write(this.dir, files, this.mode);
  }
  path(key: string): string {
    return join(this.dir, key);
  }
}

/** A client secret registered on the emulator's app, recorded for the audit. */
export function registerSecret(emulator: Emulator, o: { clientId?: string; expiresInSec?: number } = {}): { id: string; value: string } {
  const s = emulator.addClientSecret(o);
  recordSecret(s.value);
  return s;
}

/** A client certificate, its key recorded for the audit; registered on the emulator's app unless told otherwise. */
export function registerCertificate(
  emulator: Emulator | undefined,
  o: { clientId?: string; validForSec?: number; commonName?: string } = {},
): ClientCertificate & { id?: string } {
  const cert = createClientCertificate(o);
  recordPrivateKey(cert.keyPem);
  const id = emulator ? emulator.addClientCertificate(cert.certPem, { clientId: o.clientId }).id : undefined;
  return { ...cert, id };
}

/** The certificate and its key encrypted with a password (PKCS#8, AES-256-CBC), as `openssl pkcs8 -topk8 -v2 aes256` writes. */
export function encryptedPem(cert: ClientCertificate, password: string): string {
  const enc = cert.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: password }) as string;
  return cert.certPem + enc;
}

/** The certificate and key as a PKCS#12 file (3DES, as Windows and `openssl pkcs12 -legacy` export). */
export function pkcs12(cert: ClientCertificate, password: string): Buffer {
  const key = forge.pki.privateKeyFromPem(cert.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, [forge.pki.certificateFromPem(cert.certPem)], password, { algorithm: '3des' });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}
