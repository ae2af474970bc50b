import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseSidecarConfig } from '../../src/config/sidecar.js';

const base = {
  AZURE_CLIENT_ID: '22222222-2222-4222-8222-222222222222',
  AZURE_TENANT_ID: '11111111-1111-4111-8111-111111111111',
  ENTRA_SIDECAR_IDENTITY_HEADER: 'x'.repeat(32),
};
const SECRET = 'Abc8Q~not-a-real-secret-value-0123456789';
const error = (env: Record<string, string>, argv: string[] = []): ConfigError => {
  try {
    parseSidecarConfig(argv, { ...base, ...env });
  } catch (e) {
    if (e instanceof ConfigError) {
      expect(e.message, 'a secret is never echoed').not.toContain(SECRET);
      return e;
    }
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe("the sidecar's credential source: exactly one", () => {
  it("federated, a client secret file, a client certificate (file, key file, password file, chain), or EnvironmentCredential's variables", () => {
    expect(parseSidecarConfig([], { ...base, AZURE_FEDERATED_TOKEN_FILE: '/sa/token' }).credential).toMatchObject({
      kind: 'federated',
      tokenFile: '/sa/token',
    });
    expect(parseSidecarConfig(['--client-secret-file', '/s/client-secret'], base).credential).toMatchObject({
      kind: 'client_secret',
      file: '/s/client-secret',
      setting: 'ENTRA_SIDECAR_CLIENT_SECRET_FILE (--client-secret-file)',
    });
    expect(parseSidecarConfig([], { ...base, AZURE_CLIENT_SECRET: SECRET }).credential).toMatchObject({
      kind: 'client_secret',
      value: SECRET,
      setting: 'AZURE_CLIENT_SECRET',
    });
    expect(
      parseSidecarConfig(['--send-certificate-chain'], {
        ...base,
        ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE: '/c/tls.crt',
        ENTRA_SIDECAR_CLIENT_CERTIFICATE_KEY_FILE: '/c/tls.key',
        ENTRA_SIDECAR_CLIENT_CERTIFICATE_PASSWORD_FILE: '/c/pw',
      }).credential,
    ).toEqual({
      kind: 'client_certificate',
      file: '/c/tls.crt',
      keyFile: '/c/tls.key',
      passwordFile: '/c/pw',
      password: undefined,
      sendChain: true,
      setting: 'ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE (--client-certificate-file)',
    });
    expect(
      parseSidecarConfig([], {
        ...base,
        AZURE_CLIENT_CERTIFICATE_PATH: '/c/cert.pfx',
        AZURE_CLIENT_CERTIFICATE_PASSWORD: SECRET,
        AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: '1',
      }).credential,
    ).toMatchObject({ kind: 'client_certificate', file: '/c/cert.pfx', password: SECRET, sendChain: true, setting: 'AZURE_CLIENT_CERTIFICATE_PATH' });
    expect(
      parseSidecarConfig([], { ...base, AZURE_CLIENT_CERTIFICATE_PATH: '/c/cert.pem', AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: 'false' }).credential,
    ).toMatchObject({ sendChain: false });
  });

  it('none: names every way to give one', () => {
    expect(error({}).message).toMatch(
      /^credential is missing: set exactly one credential: AZURE_FEDERATED_TOKEN_FILE \(--federated-token-file.*ENTRA_SIDECAR_CLIENT_SECRET_FILE \(--client-secret-file\) or ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE/,
    );
  });

  it('several: names each one set and says to keep one', () => {
    expect(error({ AZURE_FEDERATED_TOKEN_FILE: '/t', ENTRA_SIDECAR_CLIENT_SECRET_FILE: '/s' }).message).toMatch(
      /^AZURE_FEDERATED_TOKEN_FILE \(--federated-token-file\) and ENTRA_SIDECAR_CLIENT_SECRET_FILE \(--client-secret-file\) are all set, but a sidecar uses exactly one credential: keep one/,
    );
    expect(error({ AZURE_CLIENT_SECRET: SECRET, AZURE_CLIENT_CERTIFICATE_PATH: '/c' }).message).toMatch(
      /^AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH are all set/,
    );
    expect(error({ ENTRA_SIDECAR_CLIENT_SECRET_FILE: '/s', AZURE_CLIENT_SECRET: SECRET }).message).toMatch(
      /are both set: keep the file .* and remove AZURE_CLIENT_SECRET/,
    );
    expect(error({ ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE: '/c', AZURE_CLIENT_CERTIFICATE_PATH: '/d' }).message).toMatch(/are both set: keep one/);
  });

  it('certificate-only settings with another source are refused, naming them', () => {
    expect(error({ ENTRA_SIDECAR_CLIENT_SECRET_FILE: '/s', ENTRA_SIDECAR_CLIENT_CERTIFICATE_PASSWORD_FILE: '/p' }).message).toMatch(
      /^ENTRA_SIDECAR_CLIENT_CERTIFICATE_PASSWORD_FILE \(--client-certificate-password-file\) only applies to a client certificate, but the credential is ENTRA_SIDECAR_CLIENT_SECRET_FILE/,
    );
    expect(error({ AZURE_FEDERATED_TOKEN_FILE: '/t', AZURE_CLIENT_CERTIFICATE_PASSWORD: SECRET }).message).toMatch(
      /^AZURE_CLIENT_CERTIFICATE_PASSWORD only applies to a client certificate/,
    );
    expect(error({ AZURE_FEDERATED_TOKEN_FILE: '/t' }, ['--send-certificate-chain']).message).toMatch(/send-certificate-chain\) only applies/);
    expect(error({ ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE: '/c', AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: 'maybe' }).message).toMatch(
      /^AZURE_CLIENT_SEND_CERTIFICATE_CHAIN must be true or false/,
    );
  });
});
