/**
 * Property test of the sidecar's configuration parser: random environments and command lines,
 * mixing valid values, near misses and garbage. Every outcome is either a valid configuration
 * (checked against the documented invariants) or a ConfigError naming a real setting in one
 * line, never echoing the identity header; never another exception. Seeded and bounded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { isLoopbackHost, settingName } from '../../src/config/options.js';
import { parseSidecarConfig, SIDECAR_OPTIONS } from '../../src/config/sidecar.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed7);
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const AZURE_CREDENTIAL_ENV = [
  'AZURE_CLIENT_SECRET',
  'AZURE_CLIENT_CERTIFICATE_PATH',
  'AZURE_CLIENT_CERTIFICATE_PASSWORD',
  'AZURE_CLIENT_SEND_CERTIFICATE_CHAIN',
];
const SETTINGS = new Set([...SIDECAR_OPTIONS.map(settingName), ...AZURE_CREDENTIAL_ENV, 'command line', 'credential']);
/** A ConfigError names one setting, or several joined by " and " (a credential given twice). */
const namesRealSettings = (setting: string): boolean => setting.split(' and ').every((p) => SETTINGS.has(p));
const GUID = '22222222-2222-4222-8222-222222222222';

const garbage = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '\t',
    '\n',
    '\r\n',
    '=',
    ',',
    ',,',
    ':',
    '-',
    '--',
    '0',
    '-1',
    '1e3',
    '0x10',
    'NaN',
    'Infinity',
    'true',
    'null',
    'undefined',
    '%00',
    '\u0000',
    '\u2028',
    '😀',
  ),
  fc.integer({ min: 200, max: 5000 }).map((n) => 'z'.repeat(n)),
);

/** Realistic values and near misses per setting, plus garbage for all. */
const VALUES: Record<string, string[]> = {
  'client-id': [GUID, GUID.toUpperCase(), 'not-a-guid', `${GUID}x`, '0'],
  'tenant-id': ['11111111-1111-4111-8111-111111111111', 'contoso.onmicrosoft.com', 'common', 'a/b', 'tenant id'],
  'federated-token-file': ['/var/run/secrets/azure/tokens/azure-identity-token', '/tmp/token', 'relative/token'],
  'authority-host': [
    'https://login.microsoftonline.com',
    'https://login.microsoftonline.com/',
    'https://login.chinacloudapi.cn',
    'https://127.0.0.1:8443',
    'http://login.microsoftonline.com',
    'https://x/path',
    'https://x?q',
    'login.microsoftonline.com',
    'https://',
  ],
  tokens: [
    'storage=https://storage.azure.com/.default',
    'storage=https://storage.azure.com/',
    'pg=https://ossrdbms-aad.database.windows.net/.default,kv=https://vault.azure.net',
    'a=b',
    'storage',
    '=https://x',
    'a=https://x,a=https://y',
    '../x=https://x',
    'x.json=https://x',
    'g=00000000-0000-4000-8000-000000000000',
  ],
  'token-dir': ['/var/run/secrets/entra', '/tmp/x', 'relative', '/'],
  'file-mode': ['0644', '600', '0600', '0777', '0999', '644a', '10644'],
  listen: [
    '127.0.0.1:42350',
    '127.0.0.1:0',
    '[::1]:42350',
    'localhost:1',
    '127.1.2.3:5',
    '0.0.0.0:42350',
    '10.0.0.1:1',
    '127.0.0.1:99999',
    '127.0.0.1',
    ':42350',
    '[::]:1',
    '::1:42350',
  ],
  'health-listen': ['0.0.0.0:42351', '127.0.0.1:42350', '127.0.0.1:0', '[::]:42351', 'x:y'],
  'identity-header': ['S3CRET-0123456789abcdef0123456789', 'short', 'S3CRET with spaces 0123456789', 'S3CRET-ünïcode-0123456789abcdef'],
  'allowed-scopes': ['https://storage.azure.com/.default', 'https://a/.default,https://b', 'not a scope', ','],
  'exchange-timeout': ['10s', '500ms', '2m', '0', '99ms', '121s', '1h', '10 s', '1.5s', '99999999999999999999'],
  'max-on-demand': ['32', '0', '1000', '1001', '-1', '1.5', ''],
  flavours: ['app-service', 'imds,msi', 'APP-SERVICE', 'app-service,app-service', 'soap', ',', 'imds, msi'],
  'identity-resource-id': ['/subscriptions/x/resourcegroups/y/providers/Microsoft.ManagedIdentity/userAssignedIdentities/z', ''],
  'log-level': ['debug', 'INFO', 'warn', 'error', 'trace', 'silent'],
  'client-secret-file': ['/var/run/secrets/entra-sidecar/client-secret/client-secret', 'relative/secret', ' '],
  'client-certificate-file': ['/var/run/secrets/entra-sidecar/client-certificate/tls.crt', '/c/cert.pfx', ''],
  'client-certificate-key-file': ['/var/run/secrets/entra-sidecar/client-certificate/tls.key'],
  'client-certificate-password-file': ['/p/password'],
  // EnvironmentCredential's variables (no flags: a secret never goes on a command line)
  AZURE_CLIENT_SECRET: ['S3CRET~client-secret-value-0123456789', 'S3CRET ', '', '  '],
  AZURE_CLIENT_CERTIFICATE_PATH: ['/c/cert.pem', ' ', ''],
  AZURE_CLIENT_CERTIFICATE_PASSWORD: ['S3CRET-cert-password-0123', ''],
  AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: ['true', '1', 'false', 'maybe', 'TRUE'],
  ENTRA_SIDECAR_SEND_CERTIFICATE_CHAIN: ['true', 'false', 'yes', 'x'],
};

const specs = SIDECAR_OPTIONS.filter((s) => !s.boolean);
const valueFor = (flag: string): fc.Arbitrary<string> =>
  fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...(VALUES[flag] ?? [''])) }, { weight: 1, arbitrary: garbage });

/**
 * A valid environment with a few settings overridden, removed or garbled, so that every
 * setting's check is reached (a wholly random environment fails on the first required one).
 */
const BASE: Record<string, string> = {
  AZURE_CLIENT_ID: GUID,
  AZURE_TENANT_ID: '11111111-1111-4111-8111-111111111111',
  AZURE_FEDERATED_TOKEN_FILE: '/t',
  ENTRA_SIDECAR_IDENTITY_HEADER: 'S3CRET-base-0123456789abcdef',
};
const ENV_ONLY = [...AZURE_CREDENTIAL_ENV, 'ENTRA_SIDECAR_SEND_CERTIFICATE_CHAIN'];
const override = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(...specs).chain((s) => fc.option(valueFor(s.flag), { nil: undefined, freq: 6 }).map((v) => [s.env as string, v] as const)),
  },
  { weight: 1, arbitrary: fc.constantFrom(...ENV_ONLY).chain((name) => fc.option(valueFor(name), { nil: undefined, freq: 6 }).map((v) => [name, v] as const)) },
);
const withRequired = fc.tuple(fc.boolean(), fc.array(override, { maxLength: 4 })).map(([keepBase, overrides]) => {
  const env: Record<string, string> = keepBase ? { ...BASE } : {};
  for (const [k, v] of overrides) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
});

const argItem: fc.Arbitrary<string[]> = fc.oneof(
  fc.constantFrom(...specs).chain((s) => valueFor(s.flag).map((v) => [`--${s.flag}=${v}`])),
  fc.constantFrom(...specs).chain((s) => valueFor(s.flag).map((v) => [`--${s.flag}`, v])),
  fc.constantFrom(...specs).map((s) => [`--${s.flag}`]),
  fc.constantFrom<string[]>(['--once'], ['--once=true'], ['--bogus'], ['-x'], ['positional'], ['--'], ['-'], ['--CLIENT-ID', GUID]),
  garbage.map((g) => [g]),
);
const argvArb = fc.array(argItem, { maxLength: 3 }).map((items) => items.flat());

describe('parseSidecarConfig fuzz', () => {
  it('the exchange timeout defaults to 10 s (the hang row of the fault matrix relies on it)', () => {
    const c = parseSidecarConfig([], {
      AZURE_CLIENT_ID: GUID,
      AZURE_TENANT_ID: GUID,
      AZURE_FEDERATED_TOKEN_FILE: '/t',
      ENTRA_SIDECAR_IDENTITY_HEADER: 'S3CRET-0123456789abcdef',
    });
    expect(c.exchangeTimeoutMs).toBe(10_000);
  });

  it('a command-line error is one short line and never echoes a value (found by this fuzz test)', () => {
    const error = (argv: string[]): ConfigError => {
      try {
        parseSidecarConfig(argv, BASE);
      } catch (e) {
        if (e instanceof ConfigError) return e;
        throw e;
      }
      throw new Error('expected a ConfigError');
    };
    // after `--` every argument is positional, and node:util's parseArgs quotes it back
    expect(error(['--', '--identity-header=S3CRET-0123456789abcdef0123456789']).message).not.toContain('S3CRET-0123456789abcdef0123456789');
    expect(error(['stray\r\ninjected: line']).message).not.toMatch(/[\r\n]/);
    expect(error(['z'.repeat(5000)]).message.length).toBeLessThan(500);
  });

  it(`random values (seed ${SEED}, ${RUNS} runs): a valid config or a one-line ConfigError naming the setting, never another exception`, () => {
    const outcomes = { valid: 0, errors: new Map<string, number>() };
    fc.assert(
      fc.property(argvArb, withRequired, (argv, env) => {
        const secrets = [
          env.ENTRA_SIDECAR_IDENTITY_HEADER,
          env.AZURE_CLIENT_SECRET,
          env.AZURE_CLIENT_CERTIFICATE_PASSWORD,
          ...argv.flatMap((a, i) =>
            a.startsWith('--identity-header=') ? [a.slice('--identity-header='.length)] : a === '--identity-header' ? [argv[i + 1]] : [],
          ),
        ].filter((s): s is string => typeof s === 'string' && s.startsWith('S3CRET'));
        let config;
        try {
          config = parseSidecarConfig(argv, env);
        } catch (err) {
          expect(err, `not a ConfigError: ${String(err)}`).toBeInstanceOf(ConfigError);
          const e = err as ConfigError;
          expect(namesRealSettings(e.setting), `names a real setting: ${e.setting}`).toBe(true);
          expect(e.message.startsWith(`${e.setting} `)).toBe(true);
          if (e.setting !== 'command line') {
            // (command-line errors echo the stray argument: see the test below)
            expect(e.message, 'one line').not.toMatch(/[\r\n]/);
            expect(e.message.length).toBeLessThan(500);
          }
          for (const s of secrets) expect(e.message, 'the identity header, a client secret or a certificate password is never echoed').not.toContain(s);
          outcomes.errors.set(e.setting, (outcomes.errors.get(e.setting) ?? 0) + 1);
          return;
        }
        outcomes.valid++;
        expect(isLoopbackHost(config.listen.host)).toBe(true);
        for (const l of [config.listen, config.healthListen]) expect(l.port >= 0 && l.port <= 65535).toBe(true);
        expect(config.authorityHost).toMatch(/^https:\/\/[^/?#\s]+$/);
        expect(config.tokenDir.startsWith('/')).toBe(true);
        expect(config.fileMode).toBeLessThanOrEqual(0o777);
        expect(config.exchangeTimeoutMs).toBeGreaterThanOrEqual(100);
        expect(config.exchangeTimeoutMs).toBeLessThanOrEqual(120_000);
        expect(config.maxOnDemand >= 0 && config.maxOnDemand <= 1000).toBe(true);
        expect(config.flavours.length).toBeGreaterThan(0);
        expect(['debug', 'info', 'warn', 'error']).toContain(config.logLevel);
        // exactly one credential, and certificate-only settings only with a certificate
        const c = config.credential;
        const given = [
          env.AZURE_FEDERATED_TOKEN_FILE,
          env.ENTRA_SIDECAR_CLIENT_SECRET_FILE,
          env.AZURE_CLIENT_SECRET,
          env.ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE,
          env.AZURE_CLIENT_CERTIFICATE_PATH,
        ].filter((v) => v !== undefined && v.trim() !== '');
        if (argv.every((a) => !/^--(federated-token-file|client-secret-file|client-certificate-file)/.test(a)))
          expect(given.length, JSON.stringify(env)).toBe(1);
        if (c.kind === 'client_certificate') expect(c.file.trim()).not.toBe('');
        else expect((env.AZURE_CLIENT_CERTIFICATE_PASSWORD ?? '').trim()).toBe('');
        if (c.kind === 'client_secret') expect(Boolean(c.file) !== Boolean(c.value)).toBe(true);
        expect(config.once || (config.identityHeader?.length ?? 0) >= 16).toBe(true);
        const names = config.targets.map((t) => t.name);
        expect(new Set(names).size).toBe(names.length);
        for (const t of config.targets) {
          expect(t.name).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/);
          expect(t.scope.endsWith('/.default')).toBe(true);
          expect(t.scope).not.toMatch(/\/\/\.default$/);
        }
      }),
      { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: 20_000 },
    );
    // the generator reaches both outcomes and many different settings
    expect(outcomes.valid).toBeGreaterThan(RUNS / 50);
    expect(outcomes.errors.size, JSON.stringify([...outcomes.errors])).toBeGreaterThan(8);
  });
});
