import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { jwksUriOf, signingKeysOf } from '../../src/emulator/external-issuer.js';

/** The pure parts of the emulator's external-issuer trust; the fetches run against a real kube-apiserver in test/cluster/tokens.test.ts. */
describe('external issuer documents', () => {
  const issuer = 'https://127.0.0.1:6443';

  it('takes the jwks_uri only from a configuration naming exactly the registered issuer', () => {
    expect(jwksUriOf({ issuer, jwks_uri: `${issuer}/openid/v1/jwks` }, issuer)).toBe(`${issuer}/openid/v1/jwks`);
    expect(() => jwksUriOf({ issuer: `${issuer}/`, jwks_uri: `${issuer}/openid/v1/jwks` }, issuer)).toThrow(/names another issuer/);
    expect(() => jwksUriOf({ issuer, jwks_uri: 'http://127.0.0.1/jwks' }, issuer)).toThrow(/no https jwks_uri/);
    expect(() => jwksUriOf('nope', issuer)).toThrow(/not a JSON object/);
  });

  it('keeps RSA signature keys by kid and ignores encryption keys and other algorithms', () => {
    const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    const keys = signingKeysOf({
      keys: [
        { ...jwk, kid: 'a', use: 'sig', alg: 'RS256' },
        { ...jwk, kid: 'b' },
        { ...jwk, kid: 'c', use: 'enc' },
        { ...jwk, kid: 'd', alg: 'RS512' },
        { kty: 'EC', kid: 'e', crv: 'P-256', x: 'x', y: 'y' },
      ],
    });
    expect([...keys.keys()]).toEqual(['a', 'b']);
    expect(() => signingKeysOf({})).toThrow(/no "keys" array/);
  });
});
