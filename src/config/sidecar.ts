import { ConfigError } from './errors.js';
import {
  isLoopbackHost, parseDurationMs, parseInteger, parseListen, parseLogLevel, readOptions, settingName, truncate,
  type ListenAddress, type LogLevel, type OptionSpec,
} from './options.js';
import type { Target } from '../identity/token-store.js';
import type { Flavour } from '../sidecar/endpoint/protocol.js';

/** The sidecar's whole configuration, validated once at start. */
export interface SidecarConfig {
  clientId: string;
  tenantId: string;
  federatedTokenFile: string;
  authorityHost: string;
  targets: Target[];
  tokenDir: string;
  fileMode: number;
  listen: ListenAddress;
  healthListen: ListenAddress;
  identityHeader: string | undefined;
  allowedScopes: string[] | undefined;
  logLevel: LogLevel;
  exchangeTimeoutMs: number;
  maxOnDemand: number;
  flavours: Flavour[];
  identityResourceId: string | undefined;
  once: boolean;
}

export const SIDECAR_OPTIONS: OptionSpec[] = [
  { flag: 'client-id', env: 'AZURE_CLIENT_ID', help: 'client id of the Entra app or user-assigned identity (required)' },
  { flag: 'tenant-id', env: 'AZURE_TENANT_ID', help: 'tenant id (required)' },
  { flag: 'federated-token-file', env: 'AZURE_FEDERATED_TOKEN_FILE', help: 'projected service-account token, read afresh for every exchange (required)' },
  { flag: 'authority-host', env: 'AZURE_AUTHORITY_HOST', help: 'authority host, for sovereign and private clouds too', defaultText: 'https://login.microsoftonline.com' },
  { flag: 'tokens', env: 'ENTRA_SIDECAR_TOKENS', help: 'comma-separated name=scope targets written as files', defaultText: 'none' },
  { flag: 'token-dir', env: 'ENTRA_SIDECAR_TOKEN_DIR', help: 'folder for <name> and <name>.json', defaultText: '/var/run/secrets/entra' },
  { flag: 'file-mode', env: 'ENTRA_SIDECAR_FILE_MODE', help: 'octal mode of the token files', defaultText: '0644' },
  { flag: 'listen', env: 'ENTRA_SIDECAR_LISTEN', help: 'token endpoint address (loopback only)', defaultText: '127.0.0.1:42350' },
  { flag: 'health-listen', env: 'ENTRA_SIDECAR_HEALTH_LISTEN', help: '/healthz, /readyz and /metrics address', defaultText: '0.0.0.0:42351' },
  { flag: 'identity-header', env: 'ENTRA_SIDECAR_IDENTITY_HEADER', help: 'secret callers send as X-IDENTITY-HEADER (required for the daemon, not for --once)' },
  { flag: 'allowed-scopes', env: 'ENTRA_SIDECAR_ALLOWED_SCOPES', help: 'comma-separated scopes the endpoint may serve; others get 403', defaultText: 'any' },
  { flag: 'exchange-timeout', env: 'ENTRA_SIDECAR_EXCHANGE_TIMEOUT', help: 'timeout of one exchange with Entra', defaultText: '10s' },
  { flag: 'max-on-demand', env: 'ENTRA_SIDECAR_MAX_ON_DEMAND', help: 'most scopes held on demand (least recently used evicted)', defaultText: '32' },
  { flag: 'flavours', env: 'ENTRA_SIDECAR_FLAVOURS', help: 'protocol flavours served: app-service, imds, msi (imds and msi need only Metadata: true, like the real services)', defaultText: 'app-service,imds,msi' },
  { flag: 'identity-resource-id', env: 'ENTRA_SIDECAR_IDENTITY_RESOURCE_ID', help: 'ARM resource id of the user-assigned identity, so mi_res_id selectors naming it are accepted' },
  { flag: 'log-level', env: 'ENTRA_SIDECAR_LOG_LEVEL', help: 'debug, info, warn or error', defaultText: 'info' },
  { flag: 'once', boolean: true, help: 'fetch every target, write the files and exit (init containers, Jobs)' },
];

const spec = (flag: string): string => settingName(SIDECAR_OPTIONS.find((s) => s.flag === flag) as OptionSpec);

/**
 * Parses and validates the sidecar's settings from flags and environment (flags win).
 * Throws ConfigError naming the first setting that is wrong; never echoes a secret.
 *
 * @example
 * const config = parseSidecarConfig(['--once'], process.env);
 */
export function parseSidecarConfig(argv: string[], env: NodeJS.ProcessEnv): SidecarConfig {
  const raw = readOptions(SIDECAR_OPTIONS, argv, env);
  const str = (flag: string): string | undefined => {
    const v = raw[flag];
    return typeof v === 'string' ? v.trim() : undefined;
  };
  const required = (flag: string, what: string): string => {
    const v = str(flag);
    if (!v) throw new ConfigError(spec(flag), `is required: ${what}`);
    return v;
  };
  const once = raw.once === true;

  const clientId = required('client-id', 'set it to the client id (a GUID) of the Entra app or user-assigned identity');
  if (!/^[0-9a-fA-F-]{8,64}$/.test(clientId)) throw new ConfigError(spec('client-id'), `must be a client id such as 00000000-0000-0000-0000-000000000000, got "${truncate(clientId)}"`);
  const tenantId = required('tenant-id', 'set it to the tenant id (a GUID) or a verified domain of the tenant');
  if (!/^[0-9a-zA-Z.-]{1,256}$/.test(tenantId)) throw new ConfigError(spec('tenant-id'), `must be a tenant id (GUID) or domain, got "${truncate(tenantId)}"`);
  const federatedTokenFile = required('federated-token-file', 'set it to the path of the projected service-account token');

  const authorityHost = parseAuthorityHost(str('authority-host') ?? 'https://login.microsoftonline.com');
  const targets = parseTargets(str('tokens') ?? '', spec('tokens'));
  const tokenDir = str('token-dir') ?? '/var/run/secrets/entra';
  if (!tokenDir.startsWith('/')) throw new ConfigError(spec('token-dir'), `must be an absolute path, got "${truncate(tokenDir)}"`);
  const modeText = str('file-mode') ?? '0644';
  if (!/^0?[0-7]{3}$/.test(modeText)) throw new ConfigError(spec('file-mode'), `must be an octal mode such as 0644 or 0600, got "${truncate(modeText)}"`);
  const fileMode = parseInt(modeText, 8);

  const listen = parseListen(str('listen') ?? '127.0.0.1:42350', spec('listen'));
  if (!isLoopbackHost(listen.host)) {
    throw new ConfigError(spec('listen'), `must be a loopback address (127.0.0.1 or [::1]): the token endpoint must never be reachable from outside the pod, got "${listen.host}"`);
  }
  const healthListen = parseListen(str('health-listen') ?? '0.0.0.0:42351', spec('health-listen'));
  if (healthListen.port !== 0 && healthListen.port === listen.port && healthListen.host === listen.host) {
    throw new ConfigError(spec('health-listen'), 'must differ from the token endpoint address');
  }

  const identityHeader = str('identity-header');
  if (!once && !identityHeader) throw new ConfigError(spec('identity-header'), 'is required for the daemon: set it to a random secret (at least 16 characters) that apps send as X-IDENTITY-HEADER');
  if (identityHeader !== undefined && identityHeader.length < 16) throw new ConfigError(spec('identity-header'), `is too short (${identityHeader.length} characters): use a random secret of at least 16 characters`);
  if (identityHeader !== undefined && !/^[\x21-\x7e]+$/.test(identityHeader)) throw new ConfigError(spec('identity-header'), 'must be printable ASCII without spaces (it travels in an HTTP header)');

  const allowedText = str('allowed-scopes');
  const allowedScopes = allowedText ? allowedText.split(',').map((s) => s.trim()).filter(Boolean).map((s) => checkScope(s, spec('allowed-scopes'))) : undefined;

  return {
    clientId, tenantId, federatedTokenFile, authorityHost, targets, tokenDir, fileMode, listen, healthListen, identityHeader, allowedScopes,
    logLevel: parseLogLevel(str('log-level') ?? 'info', spec('log-level')),
    exchangeTimeoutMs: parseDurationMs(str('exchange-timeout') ?? '10s', spec('exchange-timeout'), 100, 120_000),
    maxOnDemand: parseInteger(str('max-on-demand') ?? '32', spec('max-on-demand'), 0, 1000),
    flavours: parseFlavours(str('flavours') ?? 'app-service,imds,msi'),
    identityResourceId: str('identity-resource-id') || undefined,
    once,
  };
}

const FLAVOUR_NAMES: Record<string, Flavour> = { 'app-service': 'app_service', imds: 'imds', msi: 'msi' };

function parseFlavours(text: string): Flavour[] {
  const out = new Set<Flavour>();
  for (const name of text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    const f = FLAVOUR_NAMES[name];
    if (!f) throw new ConfigError(spec('flavours'), `has "${truncate(name)}": accepted flavours are app-service, imds and msi`);
    out.add(f);
  }
  if (out.size === 0) throw new ConfigError(spec('flavours'), 'must name at least one flavour: app-service, imds or msi');
  return [...out];
}

/** https only; a trailing `/` is accepted (Azure Workload Identity injects one). */
function parseAuthorityHost(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(spec('authority-host'), `must be a URL such as https://login.microsoftonline.com, got "${truncate(value)}"`);
  }
  if (url.protocol !== 'https:') throw new ConfigError(spec('authority-host'), `must use https (Entra and msal-node require it), got "${truncate(value)}"`);
  if (url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) throw new ConfigError(spec('authority-host'), `must be a bare host such as https://login.microsoftonline.com (no path), got "${truncate(value)}"`);
  return `${url.protocol}//${url.host}`;
}

const TARGET_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;

/**
 * Parses `name=scope,...`. Names become file names (letters, digits, `.`, `_`, `-`); a scope is
 * an absolute URI or GUID-style resource, `/.default` added when missing.
 *
 * @example
 * parseTargets('storage=https://storage.azure.com/.default', 'ENTRA_SIDECAR_TOKENS')
 */
export function parseTargets(text: string, setting: string): Target[] {
  const targets: Target[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(setting, `has "${truncate(part)}": each target must be name=scope, e.g. storage=https://storage.azure.com/.default`);
    const name = part.slice(0, eq).trim();
    const scope = checkScope(part.slice(eq + 1).trim(), setting);
    if (!TARGET_NAME.test(name) || name.endsWith('.json')) throw new ConfigError(setting, `has target name "${truncate(name)}": use letters, digits, '.', '_' or '-' (it becomes a file name)`);
    if (targets.some((t) => t.name === name)) throw new ConfigError(setting, `names target "${name}" twice`);
    targets.push({ name, scope });
  }
  return targets;
}

function checkScope(scope: string, setting: string): string {
  if (!scope) throw new ConfigError(setting, 'has an empty scope');
  if (/\s/.test(scope) || !/^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$|^[0-9a-fA-F-]{36}(\/\.default)?$/.test(scope)) {
    throw new ConfigError(setting, `has scope "${truncate(scope)}": a scope is a resource URI followed by /.default, e.g. https://storage.azure.com/.default`);
  }
  return scope.endsWith('/.default') ? scope : `${scope.replace(/\/+$/, '')}/.default`;
}
