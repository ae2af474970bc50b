import { createHash, generateKeyPair, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

/** An RSA signing key with the `kid` that tokens carry in their header. */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/**
 * Generates a 2048-bit RSA key pair with node's native keygen (forge's JS keygen is far slower).
 *
 * @example
 * const { privateKey, publicKey } = await generateRsaKeyPair();
 */
export async function generateRsaKeyPair(): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  return generateKeyPairAsync('rsa', { modulusLength: 2048 });
}

/**
 * A signing key whose kid is computed the way the Kubernetes API server does:
 * base64url(SHA-256(DER SubjectPublicKeyInfo)).
 *
 * @example
 * const key = kubernetesSigningKey(await generateRsaKeyPair());
 */
export function kubernetesSigningKey(pair: { privateKey: KeyObject; publicKey: KeyObject }): SigningKey {
  const der = pair.publicKey.export({ type: 'spki', format: 'der' });
  return { kid: createHash('sha256').update(der).digest('base64url'), ...pair };
}

/** A signing key generated synchronously (for rare, on-demand keys such as "a key nobody publishes"). */
export function generateSigningKeySync(): SigningKey {
  return kubernetesSigningKey(generateKeyPairSync('rsa', { modulusLength: 2048 }));
}

/** The public JWK (`kty`, `n`, `e`) of a key. */
export function publicJwk(publicKey: KeyObject): { kty: string; n: string; e: string } {
  const jwk = publicKey.export({ format: 'jwk' }) as { kty: string; n: string; e: string };
  return { kty: jwk.kty, n: jwk.n, e: jwk.e };
}
