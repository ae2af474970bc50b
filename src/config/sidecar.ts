import type { CredentialSource } from '../identity/credential-source.js';
import { DEFAULT_NEW_SCOPE_BUDGET, type NewScopeBudgetOptions } from '../identity/new-scope-budget.js';
import { CREDENTIAL_OPTIONS, parseCredentialSource } from './credential.js';
import { ConfigError } from './errors.js';
import {
  isLoopbackHost,
  parseDurationMs,
  parseInteger,
  parseListen,
  parseLogLevel,
  readOptions,
  settingName,
  truncate,
  type ListenAddress,
  type LogLevel,
  type OptionSpec,
} from './options.js';
import { DEFAULT_ENDPOINT_PORT, DEFAULT_HEALTH_PORT, DEFAULT_TOKEN_DIR, endpointListen, healthListen as healthListenOf } from '../contract/endpoint.js';
import { ALL_FLAVOURS_TEXT, FLAVOUR_NAMES, parseFlavours, type Flavour } from '../contract/flavours.js';
import { checkAuthorityHost, checkClientId, checkTenantId, DEFAULT_AUTHORITY_HOST } from '../contract/identity.js';
import { ONCE_FLAG, SIDECAR_ENV as E } from '../contract/sidecar-env.js';
import { parseFilesSetting, type FileSpec } from '../contract/rendered-files.js';
import { DEFAULT_REFRESH_POLICY, type RefreshPolicy } from '../identity/refresh-policy.js';
import { normaliseScope, parseTargets as parseTargetsText, type Target } from '../contract/targets.js';

/** The sidecar's whole configuration, validated once at start. */
export interface SidecarConfig {
  clientId: string;
  tenantId: string;
  /** exactly one: federated token file, client secret or client certificate */
  credential: CredentialSource;
  authorityHost: string;
  targets: Target[];
  /** rendered files (pgpass, dotenv, template), written next to the token files */
  files: FileSpec[];
  tokenDir: string;
  fileMode: number;
  listen: ListenAddress;
  healthListen: ListenAddress;
  identityHeader: string | undefined;
  allowedScopes: string[] | undefined;
  logLevel: LogLevel;
  exchangeTimeoutMs: number;
  maxOnDemand: number;
  /** how many scopes not held yet may start an exchange on demand: at once, then per minute */
  newScopeBudget: NewScopeBudgetOptions;
  flavours: Flavour[];
  identityResourceId: string | undefined;
  once: boolean;
  /** the product's policy, or a faster backoff for tests against a loopback emulator */
  refreshPolicy: RefreshPolicy;
}

export const SIDECAR_OPTIONS: OptionSpec[] = [
  { flag: 'client-id', env: E.clientId, help: 'client id of the Entra app or user-assigned identity (required)' },
  { flag: 'tenant-id', env: E.tenantId, help: 'tenant id (required)' },
  {
    flag: 'federated-token-file',
    env: E.federatedTokenFile,
    help: 'projected service-account token, read afresh for every exchange (federation; one credential is required)',
  },
  ...CREDENTIAL_OPTIONS,
  { flag: 'authority-host', env: E.authorityHost, help: 'authority host, for sovereign and private clouds too', defaultText: DEFAULT_AUTHORITY_HOST },
  { flag: 'tokens', env: E.tokens, help: 'comma-separated name=scope targets written as files', defaultText: 'none' },
  {
    flag: 'files',
    env: E.files,
    help: 'rendered files as a JSON object of file name to spec, e.g. {"pgpass":"pgpass target=pg host=db.example.com user=app"} (README: Passwords for tools)',
    defaultText: 'none',
  },
  { flag: 'token-dir', env: E.tokenDir, help: 'folder for <name> and <name>.json', defaultText: DEFAULT_TOKEN_DIR },
  { flag: 'file-mode', env: E.fileMode, help: 'octal mode of the token files', defaultText: '0644' },
  { flag: 'listen', env: E.listen, help: 'token endpoint address (loopback only)', defaultText: endpointListen(DEFAULT_ENDPOINT_PORT) },
  { flag: 'health-listen', env: E.healthListen, help: '/healthz, /readyz and /metrics address', defaultText: healthListenOf(DEFAULT_HEALTH_PORT) },
  { flag: 'identity-header', env: E.identityHeader, help: 'secret callers send as X-IDENTITY-HEADER (required for the daemon, not for --once)' },
  { flag: 'allowed-scopes', env: E.allowedScopes, help: 'comma-separated scopes the endpoint may serve; others get 403', defaultText: 'any' },
  { flag: 'exchange-timeout', env: E.exchangeTimeout, help: 'timeout of one exchange with Entra', defaultText: '10s' },
  { flag: 'max-on-demand', env: E.maxOnDemand, help: 'most scopes held on demand (least recently used evicted)', defaultText: '32' },
  {
    flag: 'new-scope-burst',
    env: E.newScopeBurst,
    help: 'scopes not held yet that callers may make the sidecar ask Entra for at once (targets do not count); more get 503 with Retry-After',
    defaultText: String(DEFAULT_NEW_SCOPE_BUDGET.burst),
  },
  {
    flag: 'new-scopes-per-minute',
    env: E.newScopesPerMinute,
    help: 'new scopes allowed per minute once the burst is used (0: only the burst)',
    defaultText: String(DEFAULT_NEW_SCOPE_BUDGET.perMinute),
  },
  {
    flag: 'flavours',
    env: E.flavours,
    help: `protocol flavours served: ${FLAVOUR_NAMES.join(', ')} (imds and msi need only Metadata: true, like the real services)`,
    defaultText: ALL_FLAVOURS_TEXT,
  },
  {
    flag: 'identity-resource-id',
    env: E.identityResourceId,
    help: 'ARM resource id of the user-assigned identity, so mi_res_id selectors naming it are accepted',
  },
  { flag: 'log-level', env: E.logLevel, help: 'debug, info, warn or error', defaultText: 'info' },
  {
    flag: 'test-backoff',
    env: E.testBackoff,
    help: 'TESTS ONLY: <base>/<cap> retry backoff, e.g. 200ms/5s; refused unless the authority host is loopback (an emulator)',
    defaultText: '1s/60s',
  },
  { flag: ONCE_FLAG.slice(2), boolean: true, help: 'fetch every target, write the files and exit (init containers, Jobs)' },
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

  const checked = <T>(flag: string, r: { ok: true; value: T } | { ok: false; problem: string }, raw: string): T => {
    if (!r.ok) throw new ConfigError(spec(flag), `${r.problem}, got "${truncate(raw)}"`);
    return r.value;
  };
  const clientIdRaw = required('client-id', 'set it to the client id (a GUID) of the Entra app or user-assigned identity');
  const clientId = checked('client-id', checkClientId(clientIdRaw), clientIdRaw);
  const tenantIdRaw = required('tenant-id', 'set it to the tenant id (a GUID) or a verified domain of the tenant');
  const tenantId = checked('tenant-id', checkTenantId(tenantIdRaw), tenantIdRaw);
  const credential = parseCredentialSource(raw, env, spec('federated-token-file'));

  const authorityRaw = str('authority-host') ?? DEFAULT_AUTHORITY_HOST;
  const authorityHost = checked('authority-host', checkAuthorityHost(authorityRaw), authorityRaw);
  const targets = parseTargets(str('tokens') ?? '', spec('tokens'));
  const filesParsed = parseFilesSetting(
    str('files') ?? '',
    targets.map((t) => t.name),
  );
  if (!filesParsed.ok) throw new ConfigError(spec('files'), filesParsed.problem);
  const files = filesParsed.value;
  const tokenDir = str('token-dir') ?? DEFAULT_TOKEN_DIR;
  if (!tokenDir.startsWith('/')) throw new ConfigError(spec('token-dir'), `must be an absolute path, got "${truncate(tokenDir)}"`);
  const modeText = str('file-mode') ?? '0644';
  if (!/^0?[0-7]{3}$/.test(modeText)) throw new ConfigError(spec('file-mode'), `must be an octal mode such as 0644 or 0600, got "${truncate(modeText)}"`);
  const fileMode = parseInt(modeText, 8);

  const listen = parseListen(str('listen') ?? endpointListen(DEFAULT_ENDPOINT_PORT), spec('listen'));
  if (!isLoopbackHost(listen.host)) {
    throw new ConfigError(
      spec('listen'),
      `must be a loopback address (127.0.0.1 or [::1]): the token endpoint must never be reachable from outside the pod, got "${listen.host}"`,
    );
  }
  const healthListen = parseListen(str('health-listen') ?? healthListenOf(DEFAULT_HEALTH_PORT), spec('health-listen'));
  if (healthListen.port !== 0 && healthListen.port === listen.port && healthListen.host === listen.host) {
    throw new ConfigError(spec('health-listen'), 'must differ from the token endpoint address');
  }

  const identityHeader = str('identity-header');
  if (!once && !identityHeader)
    throw new ConfigError(
      spec('identity-header'),
      'is required for the daemon: set it to a random secret (at least 16 characters) that apps send as X-IDENTITY-HEADER',
    );
  if (identityHeader !== undefined && identityHeader.length < 16)
    throw new ConfigError(spec('identity-header'), `is too short (${identityHeader.length} characters): use a random secret of at least 16 characters`);
  if (identityHeader !== undefined && !/^[\x21-\x7e]+$/.test(identityHeader))
    throw new ConfigError(spec('identity-header'), 'must be printable ASCII without spaces (it travels in an HTTP header)');

  const allowedText = str('allowed-scopes');
  const allowedScopes = allowedText
    ? allowedText
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => checkScope(s, spec('allowed-scopes')))
    : undefined;

  return {
    clientId,
    tenantId,
    credential,
    authorityHost,
    targets,
    files,
    tokenDir,
    fileMode,
    listen,
    healthListen,
    identityHeader,
    allowedScopes,
    logLevel: parseLogLevel(str('log-level') ?? 'info', spec('log-level')),
    exchangeTimeoutMs: parseDurationMs(str('exchange-timeout') ?? '10s', spec('exchange-timeout'), 100, 120_000),
    maxOnDemand: parseInteger(str('max-on-demand') ?? '32', spec('max-on-demand'), 0, 1000),
    newScopeBudget: {
      burst: parseInteger(str('new-scope-burst') ?? String(DEFAULT_NEW_SCOPE_BUDGET.burst), spec('new-scope-burst'), 1, 1000),
      perMinute: parseInteger(str('new-scopes-per-minute') ?? String(DEFAULT_NEW_SCOPE_BUDGET.perMinute), spec('new-scopes-per-minute'), 0, 6000),
    },
    flavours: flavoursOf(str('flavours') ?? ALL_FLAVOURS_TEXT),
    identityResourceId: str('identity-resource-id') || undefined,
    once,
    refreshPolicy: testBackoff(str('test-backoff'), authorityHost),
  };
}

/**
 * The test-only backoff override: `<base>/<cap>` (e.g. `200ms/5s`), so process tests need not wait
 * out the 60 s cap. Accepted only when the authority host is a loopback address — an emulator on
 * the same machine — so no sidecar talking to Entra can run with it; the webhook never injects it.
 */
function testBackoff(text: string | undefined, authorityHost: string): RefreshPolicy {
  if (text === undefined || text === '') return DEFAULT_REFRESH_POLICY;
  const host = new URL(authorityHost).hostname.replace(/^\[|\]$/g, '');
  if (!isLoopbackHost(host)) {
    throw new ConfigError(
      spec('test-backoff'),
      `is for tests against a loopback Entra emulator only (the authority host is ${authorityHost}): remove it; sidecars talking to Entra back off from 1 s to 60 s`,
    );
  }
  const [base, cap, extra] = text.split('/');
  if (base === undefined || cap === undefined || extra !== undefined)
    throw new ConfigError(spec('test-backoff'), `must be <base>/<cap> such as 200ms/5s, got "${truncate(text)}"`);
  const backoffBaseMs = parseDurationMs(base, spec('test-backoff'), 10, 60_000);
  const backoffCapMs = parseDurationMs(cap, spec('test-backoff'), backoffBaseMs, 60_000);
  return { ...DEFAULT_REFRESH_POLICY, backoffBaseMs, backoffCapMs };
}

function flavoursOf(text: string): Flavour[] {
  const r = parseFlavours(text);
  if ('problem' in r) throw new ConfigError(spec('flavours'), r.problem);
  return r.flavours;
}

/**
 * Parses `name=scope,...` (the contract's rule) and throws ConfigError naming the setting.
 *
 * @example
 * parseTargets('storage=https://storage.azure.com/.default', 'ENTRA_SIDECAR_TOKENS')
 */
export function parseTargets(text: string, setting: string): Target[] {
  const r = parseTargetsText(text);
  if ('problem' in r) throw new ConfigError(setting, r.problem);
  return r.targets;
}

function checkScope(scope: string, setting: string): string {
  const r = normaliseScope(scope);
  if ('problem' in r) throw new ConfigError(setting, r.problem);
  return r.scope;
}
