import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { isLoopbackHost, parseListen } from '../../src/config/options.js';
import { parseSidecarConfig, parseTargets } from '../../src/config/sidecar.js';

const base = {
  AZURE_CLIENT_ID: '22222222-2222-4222-8222-222222222222',
  AZURE_TENANT_ID: '11111111-1111-4111-8111-111111111111',
  AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/sa/token',
  ENTRA_SIDECAR_IDENTITY_HEADER: 'x'.repeat(32),
};
const fail = (argv: string[], env: Record<string, string>): ConfigError => {
  try {
    parseSidecarConfig(argv, env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('sidecar configuration', () => {
  it('applies the documented defaults', () => {
    const c = parseSidecarConfig([], base);
    expect(c).toMatchObject({
      authorityHost: 'https://login.microsoftonline.com',
      targets: [],
      tokenDir: '/var/run/secrets/entra',
      fileMode: 0o644,
      listen: { host: '127.0.0.1', port: 42350 },
      healthListen: { host: '0.0.0.0', port: 42351 },
      logLevel: 'info',
      exchangeTimeoutMs: 10_000,
      maxOnDemand: 32,
      once: false,
      flavours: ['app_service', 'imds', 'msi'],
    });
  });
  it('lets a flag win over its variable', () => {
    const c = parseSidecarConfig(['--client-id', '33333333-3333-4333-8333-333333333333', '--log-level=debug'], { ...base, ENTRA_SIDECAR_LOG_LEVEL: 'warn' });
    expect(c.clientId).toBe('33333333-3333-4333-8333-333333333333');
    expect(c.logLevel).toBe('debug');
  });
  it('takes the test-only backoff override only against a loopback emulator', () => {
    const local = { ...base, AZURE_AUTHORITY_HOST: 'https://127.0.0.1:8443', ENTRA_SIDECAR_TEST_BACKOFF: '200ms/5s' };
    expect(parseSidecarConfig([], local).refreshPolicy).toMatchObject({ backoffBaseMs: 200, backoffCapMs: 5_000, expiryMarginMs: 300_000 });
    expect(parseSidecarConfig([], base).refreshPolicy).toMatchObject({ backoffBaseMs: 1_000, backoffCapMs: 60_000 });
    expect(fail([], { ...base, ENTRA_SIDECAR_TEST_BACKOFF: '200ms/5s' }).message).toMatch(
      /^ENTRA_SIDECAR_TEST_BACKOFF \(--test-backoff\) is for tests against a loopback Entra emulator only .* remove it/,
    );
    expect(fail([], { ...local, ENTRA_SIDECAR_TEST_BACKOFF: '5s' }).message).toMatch(/must be <base>\/<cap>/);
    expect(fail([], { ...local, ENTRA_SIDECAR_TEST_BACKOFF: '5s/1s' }).message).toMatch(/must be between/);
  });
  it('accepts the trailing slash Azure Workload Identity puts on the authority host', () => {
    expect(parseSidecarConfig([], { ...base, AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.com/' }).authorityHost).toBe(
      'https://login.microsoftonline.com',
    );
  });
  it('names the variable and the fix for each missing or invalid value', () => {
    expect(fail([], { ...base, AZURE_CLIENT_ID: '' }).message).toMatch(/^AZURE_CLIENT_ID \(--client-id\) is required/);
    expect(fail([], { ...base, AZURE_AUTHORITY_HOST: 'http://login.example' }).message).toMatch(/AZURE_AUTHORITY_HOST .* must use https/);
    expect(fail([], { ...base, ENTRA_SIDECAR_LISTEN: '0.0.0.0:42350' }).message).toMatch(/ENTRA_SIDECAR_LISTEN .* must be a loopback address/);
    expect(fail([], { ...base, ENTRA_SIDECAR_TOKENS: 'storage' }).message).toMatch(/ENTRA_SIDECAR_TOKENS .* must be name=scope/);
    expect(fail([], { ...base, ENTRA_SIDECAR_TOKENS: 'a=https://x/.default,a=https://y/.default' }).message).toMatch(/twice/);
    expect(fail([], { ...base, ENTRA_SIDECAR_TOKENS: '../etc=https://x/.default' }).message).toMatch(/file name/);
    expect(fail([], { ...base, ENTRA_SIDECAR_LOG_LEVEL: 'verbose' }).message).toMatch(/ENTRA_SIDECAR_LOG_LEVEL .* one of debug, info, warn, error/);
    expect(fail(['--bogus'], base).message).toMatch(/--help/);
  });
  it('requires the identity header for the daemon but not for --once, and never echoes it', () => {
    const { ENTRA_SIDECAR_IDENTITY_HEADER: _, ...noHeader } = base;
    expect(fail([], noHeader).message).toMatch(/ENTRA_SIDECAR_IDENTITY_HEADER .* is required/);
    expect(parseSidecarConfig(['--once'], noHeader).once).toBe(true);
    const e = fail([], { ...base, ENTRA_SIDECAR_IDENTITY_HEADER: 'secret with space' });
    expect(e.message).not.toContain('secret with space');
  });
  it('parses targets, adding /.default where missing', () => {
    expect(parseTargets('storage=https://storage.azure.com/, pg=https://ossrdbms-aad.database.windows.net/.default', 'X')).toEqual([
      { name: 'storage', scope: 'https://storage.azure.com/.default' },
      { name: 'pg', scope: 'https://ossrdbms-aad.database.windows.net/.default' },
    ]);
  });
  it.each(['0.0.0.0:42350', '10.1.2.3:42350', '[::]:42350', '192.0.2.2:42350', 'example.com:42350', '128.0.0.1:42350'])(
    'refuses the token endpoint on %s, from the variable and from the flag',
    (listen) => {
      const message =
        /^ENTRA_SIDECAR_LISTEN \(--listen\) must be a loopback address \(127\.0\.0\.1 or \[::1\]\): the token endpoint must never be reachable from outside the pod, got "/;
      expect(fail([], { ...base, ENTRA_SIDECAR_LISTEN: listen }).message).toMatch(message);
      expect(fail([`--listen=${listen}`], { ...base, ENTRA_SIDECAR_LISTEN: '127.0.0.1:0' }).message).toMatch(message);
    },
  );
  it('tells loopback from other addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.1', '::', '128.0.0.1', '127.0.0.256']) expect(isLoopbackHost(h)).toBe(false);
    expect(parseListen('[::1]:42350', 'X')).toEqual({ host: '::1', port: 42350 });
  });
});
