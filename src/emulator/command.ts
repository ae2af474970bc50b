import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/errors.js';
import {
  parseDurationMs,
  parseInteger,
  parseListen,
  parseLogLevel,
  readOptions,
  renderHelp,
  truncate,
  type ListenAddress,
  type LogLevel,
  type OptionSpec,
} from '../config/options.js';
import { createLogger } from '../log.js';
import { DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID, startEmulator } from './emulator.js';

/** Flags of `entra-sidecar emulator` (flag-only: AZURE_* variables of the caller are never picked up). */
export const EMULATOR_OPTIONS: OptionSpec[] = [
  { flag: 'listen', help: 'host:port for the HTTPS server (port 0 picks a free port)', defaultText: '127.0.0.1:0' },
  { flag: 'dir', help: 'folder for ca.pem and emulator.json', defaultText: 'a new temporary folder' },
  { flag: 'token-dir', help: 'write a projected service-account token here (kubelet layout) and rotate it' },
  { flag: 'rotate-every', help: 'how often to rotate the token in --token-dir (e.g. 60s, 500ms, 2m)', defaultText: '60s' },
  { flag: 'token-lifetime', help: 'access-token lifetime in seconds (expires_in)', defaultText: '3599' },
  { flag: 'tenant-id', help: 'tenant id of the emulated directory', defaultText: DEFAULT_TENANT_ID },
  { flag: 'client-id', help: 'application (client) id registered with a federated credential', defaultText: DEFAULT_CLIENT_ID },
  { flag: 'log-level', help: 'debug, info, warn or error', defaultText: 'info' },
];

/** `entra-sidecar emulator --help`. */
export const EMULATOR_HELP = renderHelp(
  'entra-sidecar emulator [options]',
  [
    'Runs a local stand-in for Microsoft Entra ID and a cluster OIDC issuer on loopback HTTPS, for tests,',
    'the demo and benchmarks. Prints one JSON line {"event":"ready","url","caFile","tenantId","clientId",',
    '"issuer","tokenFile"} on stdout, then JSON log lines. Trust caFile (NODE_EXTRA_CA_CERTS) and use url as',
    'AZURE_AUTHORITY_HOST. Control it at <url>/_emulator/ (state, faults, lifetime). Stops on SIGTERM/SIGINT.',
  ].join('\n'),
  EMULATOR_OPTIONS,
);

/** Typed settings of the emulator command. */
export interface EmulatorCommandSettings {
  listen: ListenAddress;
  dir?: string;
  tokenDir?: string;
  rotateEveryMs: number;
  tokenLifetimeSec: number;
  tenantId: string;
  clientId: string;
  logLevel: LogLevel;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function guid(value: string | undefined, flag: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (!GUID.test(value.trim())) throw new ConfigError(`--${flag}`, `must be a GUID such as ${fallback}, got "${truncate(value)}"`);
  return value.trim();
}

/**
 * Parses the emulator's flags into settings; throws ConfigError naming the flag to fix.
 *
 * @example
 * parseEmulatorSettings(['--token-dir', '/tmp/sa', '--rotate-every', '5s'], {})
 */
export function parseEmulatorSettings(argv: string[], env: NodeJS.ProcessEnv): EmulatorCommandSettings {
  const raw = readOptions(EMULATOR_OPTIONS, argv, env);
  const str = (k: string) => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined);
  const nonEmpty = (k: string) => {
    const v = str(k);
    if (v !== undefined && v.trim() === '') throw new ConfigError(`--${k}`, 'must not be empty');
    return v;
  };
  return {
    listen: parseListen(str('listen') ?? '127.0.0.1:0', '--listen'),
    dir: nonEmpty('dir'),
    tokenDir: nonEmpty('token-dir'),
    rotateEveryMs: parseDurationMs(str('rotate-every') ?? '60s', '--rotate-every', 100, 24 * 3600_000),
    tokenLifetimeSec: parseInteger(str('token-lifetime') ?? '3599', '--token-lifetime', 1, 86_400),
    tenantId: guid(str('tenant-id'), 'tenant-id', DEFAULT_TENANT_ID),
    clientId: guid(str('client-id'), 'client-id', DEFAULT_CLIENT_ID),
    logLevel: parseLogLevel(str('log-level') ?? 'info', '--log-level'),
  };
}

/**
 * `entra-sidecar emulator`: starts the emulator, prints the ready line, rotates the token in
 * --token-dir, and on SIGTERM/SIGINT closes everything and resolves (the process then exits 0).
 * Bad flags throw ConfigError before anything starts. Never logs a token.
 *
 * @example
 * await runEmulatorCommand(process.argv.slice(3), process.env);
 */
export async function runEmulatorCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    writeSync(1, `${EMULATOR_HELP}\n`);
    return;
  }
  const s = parseEmulatorSettings(argv, env);
  const log = createLogger(s.logLevel, 'emulator');
  const emulator = await startEmulator({
    host: s.listen.host,
    port: s.listen.port,
    dir: s.dir,
    tenantId: s.tenantId,
    clientId: s.clientId,
    tokenLifetimeSec: s.tokenLifetimeSec,
    logger: log,
  });
  let tokenFile: string | null = null;
  if (s.tokenDir !== undefined) {
    try {
      emulator.startRotation(s.tokenDir, s.rotateEveryMs);
    } catch (err) {
      await emulator.close();
      throw new ConfigError('--token-dir', `cannot be written: ${err instanceof Error ? err.message : String(err)}`);
    }
    tokenFile = join(s.tokenDir, 'token');
  }
  const { url, caFile, tenantId, clientId, issuer } = emulator;
  writeSync(1, `${JSON.stringify({ event: 'ready', url, caFile, tenantId, clientId, issuer, tokenFile })}\n`);
  log.info({ url, caFile, tokenFile, rotateEveryMs: s.tokenDir ? s.rotateEveryMs : undefined }, 'emulator ready');

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(sig);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await emulator.close();
  log.info({ signal }, 'emulator stopped');
}
