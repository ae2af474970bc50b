import { parseArgs } from 'node:util';
import { ConfigError } from './errors.js';

/** One setting that can come from a flag or an environment variable (the flag wins). */
export interface OptionSpec {
  /** long flag name without dashes, e.g. `client-id` */
  flag: string;
  /** environment variable, e.g. `AZURE_CLIENT_ID`; absent for flag-only settings */
  env?: string;
  /** boolean flags take no value */
  boolean?: boolean;
  /** one-line description for --help */
  help: string;
  /** shown in --help */
  defaultText?: string;
}

export type RawOptions = Record<string, string | boolean | undefined>;

/** Human name of a setting for error messages: `AZURE_CLIENT_ID (--client-id)`. */
export function settingName(spec: OptionSpec): string {
  return spec.env ? `${spec.env} (--${spec.flag})` : `--${spec.flag}`;
}

/**
 * Reads every option from argv and env; flags win over variables. Unknown flags and stray
 * positional arguments are a ConfigError, never an exception from node:util.
 *
 * @example
 * const raw = readOptions(specs, ['--client-id', 'abc'], process.env); // { 'client-id': 'abc', ... }
 */
export function readOptions(specs: OptionSpec[], argv: string[], env: NodeJS.ProcessEnv): RawOptions {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const s of specs) options[s.flag] = { type: s.boolean ? 'boolean' : 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new ConfigError('command line', `is invalid: ${describeArgvError(err, argv)}. Run with --help to see the accepted flags`);
  }
  const out: RawOptions = {};
  for (const s of specs) {
    const fromFlag = parsed.values[s.flag];
    if (fromFlag !== undefined) {
      out[s.flag] = fromFlag as string | boolean;
    } else if (s.env !== undefined && env[s.env] !== undefined && env[s.env] !== '') {
      out[s.flag] = s.boolean ? parseBoolean(env[s.env] as string, settingName(s)) : (env[s.env] as string);
    }
  }
  return out;
}

/**
 * What is wrong with the command line, without echoing any value: an argument may be a secret
 * (`--identity-header=…`, or anything after `--`), so only a well-formed flag name is quoted.
 */
function describeArgvError(err: unknown, argv: string[]): string {
  const code = (err as { code?: string })?.code;
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return 'it has an argument that is not a flag (flags look like --name value or --name=value)';
  const flag = argv
    .map((a) => /^--?([a-zA-Z0-9][a-zA-Z0-9-]{0,40})(?:=|$)/.exec(a)?.[1])
    .find((name) => name !== undefined && String((err as Error)?.message ?? '').includes(`-${name}`));
  const named = flag ? ` --${flag}` : ' a flag';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `it has the unknown flag${named}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return `the flag${named.trimEnd()} needs a value, or takes none`;
  return 'it cannot be parsed';
}

/** `true`/`false`/`1`/`0`/`yes`/`no`, case-insensitive. */
export function parseBoolean(value: string, setting: string): boolean {
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  throw new ConfigError(setting, `must be true or false, got "${truncate(value)}"`);
}

/** A host:port listen address; IPv6 hosts in brackets: `[::1]:42350`. */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses `host:port`. Port 0 is allowed (an ephemeral port, for tests).
 *
 * @example
 * parseListen('127.0.0.1:42350', 'ENTRA_SIDECAR_LISTEN') // { host: '127.0.0.1', port: 42350 }
 */
export function parseListen(value: string, setting: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value.trim());
  if (!m) throw new ConfigError(setting, `must be host:port (e.g. 127.0.0.1:42350, [::1]:42350), got "${truncate(value)}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(setting, `has port ${port}, which is above 65535`);
  return { host: (m[1] ?? m[2]) as string, port };
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255);
  const mapped = /^::ffff:(127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(host);
  return mapped ? isLoopbackHost(mapped[1] as string) : false;
}

/** Parses a whole number within [min, max]. */
export function parseInteger(value: string, setting: string, min: number, max: number): number {
  const v = value.trim();
  if (!/^-?\d+$/.test(v)) throw new ConfigError(setting, `must be a whole number between ${min} and ${max}, got "${truncate(value)}"`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(setting, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** Duration in seconds: `10`, `10s`, `500ms`, `2m`. Returns milliseconds. */
export function parseDurationMs(value: string, setting: string, minMs: number, maxMs: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw new ConfigError(setting, `must be a duration such as 10s, 500ms or 2m, got "${truncate(value)}"`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms < minMs || ms > maxMs) throw new ConfigError(setting, `must be between ${minMs / 1000}s and ${maxMs / 1000}s, got ${value}`);
  return Math.round(ms);
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function parseLogLevel(value: string, setting: string): LogLevel {
  const v = value.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new ConfigError(setting, `must be one of ${LOG_LEVELS.join(', ')}, got "${truncate(value)}"`);
}

/** Keeps user input short in messages; never used for secrets. */
export function truncate(value: string, max = 60): string {
  const clean = value.replace(/[\r\n\t]/g, ' ');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** Renders --help text for a command. */
export function renderHelp(usage: string, summary: string, specs: OptionSpec[]): string {
  const lines = [`Usage: ${usage}`, '', summary, '', 'Options (a flag wins over its environment variable):'];
  for (const s of specs) {
    const left = `  --${s.flag}${s.boolean ? '' : ' <value>'}`;
    const env = s.env ? ` [${s.env}]` : '';
    const def = s.defaultText ? ` (default: ${s.defaultText})` : '';
    lines.push(`${left.padEnd(34)} ${s.help}${env}${def}`);
  }
  lines.push(`${'  --help'.padEnd(34)} show this help`);
  return lines.join('\n');
}
