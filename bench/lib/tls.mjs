// A throwaway CA and a loopback server certificate (the emulator's certificate helpers, from the build).
import { generateKeyPairSync } from 'node:crypto';
import { importBuild } from './paths.mjs';

const { createCertificateAuthority, createServerCertificate } = await importBuild('emulator/certs.js');

/** { caPem, certPem, keyPem } for 127.0.0.1 and localhost. */
export function loopbackTls() {
  const pair = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ca = createCertificateAuthority(pair(), 'entra-sidecar bench CA');
  const server = createServerCertificate(ca, pair(), ['127.0.0.1', 'localhost']);
  return { caPem: ca.certPem, certPem: server.certPem, keyPem: server.keyPem };
}
