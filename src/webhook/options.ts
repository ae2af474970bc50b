import { ConfigError } from '../config/errors.js';
import { parseInteger, parseListen, parseLogLevel, readOptions, renderHelp, settingName, truncate, type OptionSpec } from '../config/options.js';
import { checkAuthorityHost, checkTenantId } from '../contract/identity.js';
import { checkMountPath } from './annotations.js';
import { parseQuantity } from './quantity.js';
import { DEFAULT_SIDECAR_SETTINGS, type DefaultMode, type ImagePullPolicy, type TlsSettings, type WebhookSettings } from './settings.js';

const D = DEFAULT_SIDECAR_SETTINGS;

/** Every `entra-sidecar webhook` flag and its environment variable (the Helm chart uses these names). */
export const WEBHOOK_OPTIONS: OptionSpec[] = [
  { flag: 'listen', env: 'ENTRA_WEBHOOK_LISTEN', help: 'HTTPS admission address (POST /mutate)', defaultText: '0.0.0.0:8443' },
  { flag: 'health-listen', env: 'ENTRA_WEBHOOK_HEALTH_LISTEN', help: 'plain-HTTP /healthz, /readyz, /metrics', defaultText: '0.0.0.0:8080' },
  { flag: 'tls-cert-file', env: 'ENTRA_WEBHOOK_TLS_CERT_FILE', help: 'serving certificate (PEM), reloaded when it changes' },
  { flag: 'tls-key-file', env: 'ENTRA_WEBHOOK_TLS_KEY_FILE', help: 'serving key (PEM), reloaded when it changes' },
  { flag: 'tls-self-managed', env: 'ENTRA_WEBHOOK_TLS_SELF_MANAGED', boolean: true, help: 'make a CA and certificate, keep them in a Secret, patch caBundle' },
  { flag: 'tls-secret-name', env: 'ENTRA_WEBHOOK_TLS_SECRET_NAME', help: 'self-managed TLS: the Secret holding CA and certificate' },
  { flag: 'webhook-config-name', env: 'ENTRA_WEBHOOK_CONFIG_NAME', help: 'self-managed TLS: the MutatingWebhookConfiguration whose caBundle is set' },
  { flag: 'service-name', env: 'ENTRA_WEBHOOK_SERVICE_NAME', help: "self-managed TLS: the webhook's Service (certificate names)" },
  { flag: 'namespace', env: 'POD_NAMESPACE', help: "the webhook's namespace (self-managed TLS)" },
  { flag: 'default-tenant-id', env: 'ENTRA_WEBHOOK_DEFAULT_TENANT_ID', help: 'tenant for pods whose annotations name none' },
  { flag: 'authority-host', env: 'ENTRA_WEBHOOK_AUTHORITY_HOST', help: 'Entra authority host given to sidecars', defaultText: D.authorityHost },
  { flag: 'sidecar-image', env: 'ENTRA_WEBHOOK_SIDECAR_IMAGE', help: 'image of the injected sidecar (required)' },
  { flag: 'sidecar-image-pull-policy', env: 'ENTRA_WEBHOOK_SIDECAR_IMAGE_PULL_POLICY', help: 'Always, IfNotPresent or Never', defaultText: D.imagePullPolicy },
  { flag: 'mode', env: 'ENTRA_WEBHOOK_MODE', help: 'default mode: native or container', defaultText: 'native on Kubernetes >= 1.32, else container' },
  { flag: 'sidecar-port', env: 'ENTRA_WEBHOOK_SIDECAR_PORT', help: 'loopback token endpoint port', defaultText: String(D.port) },
  {
    flag: 'sidecar-health-port',
    env: 'ENTRA_WEBHOOK_SIDECAR_HEALTH_PORT',
    help: 'sidecar health and metrics port (entra-metrics)',
    defaultText: String(D.healthPort),
  },
  { flag: 'token-dir', env: 'ENTRA_WEBHOOK_TOKEN_DIR', help: 'where token files appear in containers', defaultText: D.tokenDir },
  { flag: 'sidecar-cpu-request', env: 'ENTRA_WEBHOOK_SIDECAR_CPU_REQUEST', help: 'sidecar CPU request', defaultText: D.cpuRequest },
  { flag: 'sidecar-memory-request', env: 'ENTRA_WEBHOOK_SIDECAR_MEMORY_REQUEST', help: 'sidecar memory request', defaultText: D.memoryRequest },
  { flag: 'sidecar-memory-limit', env: 'ENTRA_WEBHOOK_SIDECAR_MEMORY_LIMIT', help: 'sidecar memory limit', defaultText: D.memoryLimit },
  { flag: 'log-level', env: 'ENTRA_WEBHOOK_LOG_LEVEL', help: 'debug, info, warn or error', defaultText: 'info' },
];

/** `--help` text of `entra-sidecar webhook`. */
export const WEBHOOK_HELP = renderHelp(
  'entra-sidecar webhook [options]',
  'Mutating admission webhook: pods annotated entra-sidecar.io/inject: "true" get the token sidecar, its volumes and the SDK\n' +
    'environment. TLS from --tls-cert-file/--tls-key-file (reloaded on change) or --tls-self-managed. The Kubernetes client\n' +
    'uses KUBECONFIG, else the in-cluster service account.',
  WEBHOOK_OPTIONS,
);

const spec = (flag: string): OptionSpec => WEBHOOK_OPTIONS.find((o) => o.flag === flag) as OptionSpec;
const name = (flag: string): string => settingName(spec(flag));

function quantity(raw: string | undefined, flag: string, dflt: string): { text: string; value: number } {
  const text = (raw ?? dflt).trim();
  const value = parseQuantity(text);
  if (value === undefined || value <= 0) throw new ConfigError(name(flag), `must be a Kubernetes quantity above 0 (e.g. ${dflt}), got "${truncate(text)}"`);
  return { text, value };
}

/** The sidecar's own authority-host rule (the contract's), so every injected sidecar starts. */
function authorityHost(raw: string): string {
  const checked = checkAuthorityHost(raw);
  if (!checked.ok) throw new ConfigError(name('authority-host'), `${checked.problem}, got "${truncate(raw)}"`);
  return checked.value;
}

/**
 * Parses and validates the webhook's flags and environment into one settings object.
 * Throws ConfigError naming the setting and the fix.
 *
 * @example
 * const settings = parseWebhookSettings(['--sidecar-image', 'ghcr.io/x/entra-sidecar:1.0', '--tls-self-managed', ...], process.env);
 */
export function parseWebhookSettings(argv: string[], env: NodeJS.ProcessEnv): WebhookSettings {
  const raw = readOptions(WEBHOOK_OPTIONS, argv, env);
  const str = (flag: string): string | undefined => {
    const v = raw[flag];
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
  };

  const listen = parseListen(str('listen') ?? '0.0.0.0:8443', name('listen'));
  const healthListen = parseListen(str('health-listen') ?? '0.0.0.0:8080', name('health-listen'));
  if (listen.port !== 0 && listen.port === healthListen.port)
    throw new ConfigError(name('health-listen'), `must use another port than ${name('listen')} (${listen.port})`);

  let tls: TlsSettings;
  const certFile = str('tls-cert-file');
  const keyFile = str('tls-key-file');
  if (raw['tls-self-managed'] === true) {
    if (certFile || keyFile)
      throw new ConfigError(name('tls-self-managed'), `cannot be combined with ${name('tls-cert-file')} / ${name('tls-key-file')}: choose one`);
    const need = (flag: string, what: string): string => {
      const v = str(flag);
      if (!v) throw new ConfigError(name(flag), `is required with --tls-self-managed: ${what}`);
      return v;
    };
    tls = {
      kind: 'self-managed',
      secretName: need('tls-secret-name', 'the Secret that holds the CA and certificate'),
      webhookConfigName: need('webhook-config-name', 'the MutatingWebhookConfiguration whose caBundle the webhook sets'),
      serviceName: need('service-name', "the webhook's Service, for the certificate's DNS names"),
      namespace: need('namespace', "the webhook's own namespace"),
    };
  } else {
    if (!certFile && !keyFile) {
      throw new ConfigError(
        name('tls-cert-file'),
        `and ${name('tls-key-file')} are required (or set --tls-self-managed): the API server only calls webhooks over HTTPS`,
      );
    }
    if (!certFile) throw new ConfigError(name('tls-cert-file'), `is required with ${name('tls-key-file')}`);
    if (!keyFile) throw new ConfigError(name('tls-key-file'), `is required with ${name('tls-cert-file')}`);
    tls = { kind: 'files', certFile, keyFile };
  }

  const defaultTenantId = str('default-tenant-id');
  if (defaultTenantId) {
    const checked = checkTenantId(defaultTenantId);
    if (!checked.ok) throw new ConfigError(name('default-tenant-id'), `${checked.problem}, got "${truncate(defaultTenantId)}"`);
  }

  const image = str('sidecar-image');
  if (!image) throw new ConfigError(name('sidecar-image'), 'is required: the image the webhook injects as the sidecar (normally its own image)');
  if (/\s/.test(image)) throw new ConfigError(name('sidecar-image'), `must be an image reference without spaces, got "${truncate(image)}"`);

  const pull = str('sidecar-image-pull-policy') ?? D.imagePullPolicy;
  if (!['Always', 'IfNotPresent', 'Never'].includes(pull))
    throw new ConfigError(name('sidecar-image-pull-policy'), `must be Always, IfNotPresent or Never, got "${truncate(pull)}"`);

  let mode: DefaultMode | undefined;
  const modeRaw = str('mode');
  if (modeRaw) {
    const m = modeRaw.toLowerCase();
    if (m !== 'native' && m !== 'container') throw new ConfigError(name('mode'), `must be native or container, got "${truncate(modeRaw)}"`);
    mode = m;
  }

  const port = parseInteger(str('sidecar-port') ?? String(D.port), name('sidecar-port'), 1024, 65535);
  const healthPort = parseInteger(str('sidecar-health-port') ?? String(D.healthPort), name('sidecar-health-port'), 1024, 65535);
  if (port === healthPort) throw new ConfigError(name('sidecar-health-port'), `must differ from ${name('sidecar-port')} (${port})`);

  const tokenDir = (str('token-dir') ?? D.tokenDir).replace(/\/+$/, '') || '/';
  const dirProblem = checkMountPath(tokenDir);
  if (dirProblem) throw new ConfigError(name('token-dir'), `${dirProblem}, got "${truncate(tokenDir)}"`);

  const cpu = quantity(str('sidecar-cpu-request'), 'sidecar-cpu-request', D.cpuRequest);
  const memReq = quantity(str('sidecar-memory-request'), 'sidecar-memory-request', D.memoryRequest);
  const memLim = quantity(str('sidecar-memory-limit'), 'sidecar-memory-limit', D.memoryLimit);
  if (memReq.value > memLim.value)
    throw new ConfigError(name('sidecar-memory-request'), `(${memReq.text}) must not be above ${name('sidecar-memory-limit')} (${memLim.text})`);

  return {
    listen,
    healthListen,
    tls,
    mode,
    logLevel: parseLogLevel(str('log-level') ?? 'info', name('log-level')),
    sidecar: {
      image,
      imagePullPolicy: pull as ImagePullPolicy,
      port,
      healthPort,
      tokenDir,
      cpuRequest: cpu.text,
      memoryRequest: memReq.text,
      memoryLimit: memLim.text,
      authorityHost: authorityHost(str('authority-host') ?? D.authorityHost),
      defaultTenantId,
      tokenExpirationSeconds: D.tokenExpirationSeconds,
    },
  };
}
