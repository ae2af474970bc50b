import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseWebhookSettings, WEBHOOK_HELP, WEBHOOK_OPTIONS } from '../../src/webhook/options.js';
import { DEFAULT_SIDECAR_SETTINGS } from '../../src/webhook/settings.js';

const FILES = ['--tls-cert-file', '/tls/tls.crt', '--tls-key-file', '/tls/tls.key'];
const MIN = ['--sidecar-image', 'ghcr.io/x/entra-sidecar:1', ...FILES];

function configError(argv: string[], env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseWebhookSettings(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('webhook settings', () => {
  it('defaults', () => {
    const s = parseWebhookSettings(MIN, {});
    expect(s.listen).toEqual({ host: '0.0.0.0', port: 8443 });
    expect(s.healthListen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(s.tls).toEqual({ kind: 'files', certFile: '/tls/tls.crt', keyFile: '/tls/tls.key' });
    expect(s.mode).toBeUndefined();
    expect(s.logLevel).toBe('info');
    expect(s.sidecar).toEqual({ ...DEFAULT_SIDECAR_SETTINGS, image: 'ghcr.io/x/entra-sidecar:1', defaultTenantId: undefined });
  });

  it('reads every setting from its environment variable; a flag wins', () => {
    const env = {
      ENTRA_WEBHOOK_LISTEN: '127.0.0.1:9443',
      ENTRA_WEBHOOK_HEALTH_LISTEN: '127.0.0.1:9080',
      ENTRA_WEBHOOK_TLS_SELF_MANAGED: 'true',
      ENTRA_WEBHOOK_TLS_SECRET_NAME: 'tls',
      ENTRA_WEBHOOK_CONFIG_NAME: 'hook',
      ENTRA_WEBHOOK_SERVICE_NAME: 'svc',
      POD_NAMESPACE: 'entra-system',
      ENTRA_WEBHOOK_DEFAULT_TENANT_ID: 'contoso.onmicrosoft.com',
      ENTRA_WEBHOOK_AUTHORITY_HOST: 'https://login.microsoftonline.us/',
      ENTRA_WEBHOOK_SIDECAR_IMAGE: 'registry/entra:2',
      ENTRA_WEBHOOK_SIDECAR_IMAGE_PULL_POLICY: 'Always',
      ENTRA_WEBHOOK_MODE: 'container',
      ENTRA_WEBHOOK_SIDECAR_PORT: '43000',
      ENTRA_WEBHOOK_SIDECAR_HEALTH_PORT: '43001',
      ENTRA_WEBHOOK_TOKEN_DIR: '/run/entra/',
      ENTRA_WEBHOOK_SIDECAR_CPU_REQUEST: '20m',
      ENTRA_WEBHOOK_SIDECAR_MEMORY_REQUEST: '64Mi',
      ENTRA_WEBHOOK_SIDECAR_MEMORY_LIMIT: '128Mi',
      ENTRA_WEBHOOK_LOG_LEVEL: 'debug',
    };
    const s = parseWebhookSettings(['--sidecar-port', '44000', '--mode', 'native'], env);
    expect(s.listen).toEqual({ host: '127.0.0.1', port: 9443 });
    expect(s.healthListen).toEqual({ host: '127.0.0.1', port: 9080 });
    expect(s.tls).toEqual({ kind: 'self-managed', secretName: 'tls', webhookConfigName: 'hook', serviceName: 'svc', namespace: 'entra-system' });
    expect(s.mode).toBe('native');
    expect(s.logLevel).toBe('debug');
    expect(s.sidecar).toEqual({
      image: 'registry/entra:2',
      imagePullPolicy: 'Always',
      port: 44000,
      healthPort: 43001,
      tokenDir: '/run/entra',
      cpuRequest: '20m',
      memoryRequest: '64Mi',
      memoryLimit: '128Mi',
      authorityHost: 'https://login.microsoftonline.us',
      defaultTenantId: 'contoso.onmicrosoft.com',
      tokenExpirationSeconds: 3600,
    });
  });

  it.each([
    [[...FILES], 'ENTRA_WEBHOOK_SIDECAR_IMAGE (--sidecar-image) is required'],
    [
      ['--sidecar-image', 'x'],
      'ENTRA_WEBHOOK_TLS_CERT_FILE (--tls-cert-file) and ENTRA_WEBHOOK_TLS_KEY_FILE (--tls-key-file) are required (or set --tls-self-managed)',
    ],
    [['--sidecar-image', 'x', '--tls-cert-file', 'a'], 'ENTRA_WEBHOOK_TLS_KEY_FILE (--tls-key-file) is required'],
    [[...MIN, '--tls-self-managed'], 'cannot be combined'],
    [
      ['--sidecar-image', 'x', '--tls-self-managed', '--tls-secret-name', 's', '--webhook-config-name', 'w', '--service-name', 'v'],
      'POD_NAMESPACE (--namespace) is required with --tls-self-managed',
    ],
    [['--sidecar-image', 'x', '--tls-self-managed'], 'ENTRA_WEBHOOK_TLS_SECRET_NAME (--tls-secret-name) is required'],
    [[...MIN, '--mode', 'sidecar'], 'ENTRA_WEBHOOK_MODE (--mode) must be native or container'],
    [[...MIN, '--sidecar-port', '42351'], 'must differ from ENTRA_WEBHOOK_SIDECAR_PORT (--sidecar-port) (42351)'],
    [[...MIN, '--sidecar-port', '80'], 'ENTRA_WEBHOOK_SIDECAR_PORT (--sidecar-port) must be between 1024 and 65535'],
    [[...MIN, '--sidecar-memory-request', '200Mi'], '(200Mi) must not be above ENTRA_WEBHOOK_SIDECAR_MEMORY_LIMIT (--sidecar-memory-limit) (96Mi)'],
    [[...MIN, '--sidecar-cpu-request', 'fast'], 'ENTRA_WEBHOOK_SIDECAR_CPU_REQUEST (--sidecar-cpu-request) must be a Kubernetes quantity'],
    [[...MIN, '--default-tenant-id', 'not a tenant'], 'ENTRA_WEBHOOK_DEFAULT_TENANT_ID (--default-tenant-id) must be a tenant GUID or domain'],
    [[...MIN, '--authority-host', 'http://login.example.com'], 'must use https'],
    [[...MIN, '--authority-host', 'login'], 'must be a URL'],
    [[...MIN, '--sidecar-image-pull-policy', 'Sometimes'], 'must be Always, IfNotPresent or Never'],
    [[...MIN, '--token-dir', 'relative'], 'ENTRA_WEBHOOK_TOKEN_DIR (--token-dir) must be an absolute path'],
    [[...MIN, '--listen', '8443'], 'ENTRA_WEBHOOK_LISTEN (--listen) must be host:port'],
    [[...MIN, '--health-listen', '0.0.0.0:8443'], 'must use another port'],
    [[...MIN, '--log-level', 'loud'], 'ENTRA_WEBHOOK_LOG_LEVEL (--log-level) must be one of'],
    [[...MIN, '--bogus'], 'command line is invalid'],
  ])('%j → %s', (argv, message) => {
    expect(configError(argv).message).toContain(message);
  });

  it('a boolean environment variable that is not true/false is a ConfigError', () => {
    expect(configError(MIN, { ENTRA_WEBHOOK_TLS_SELF_MANAGED: 'perhaps' }).message).toContain(
      'ENTRA_WEBHOOK_TLS_SELF_MANAGED (--tls-self-managed) must be true or false',
    );
  });

  it.each([
    ['http://127.0.0.1:8443', 'must use https'],
    ['https://login.microsoftonline.com/x', 'must be a bare host'],
    ['https://login.microsoftonline.com/?a=b', 'must be a bare host'],
  ])('refuses the authority host %s that its sidecars would refuse (one rule, src/contract/identity.ts)', (host, message) => {
    expect(configError([...MIN, '--authority-host', host]).message).toContain(`ENTRA_WEBHOOK_AUTHORITY_HOST (--authority-host) ${message}`);
  });

  it('--help lists every flag with its variable', () => {
    for (const o of WEBHOOK_OPTIONS) {
      expect(WEBHOOK_HELP).toContain(`--${o.flag}`);
      if (o.env) expect(WEBHOOK_HELP).toContain(`[${o.env}]`);
    }
  });
});
