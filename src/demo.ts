import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ConfigError } from './config/errors.js';
import { parseDurationMs, parseListen, readOptions, renderHelp, type OptionSpec } from './config/options.js';
import { sidecarEnv, startEmulator } from './emulator/index.js';

const DEMO_OPTIONS: OptionSpec[] = [
  { flag: 'listen', help: 'token endpoint address', defaultText: '127.0.0.1:42350' },
  { flag: 'health-listen', help: 'health and metrics address', defaultText: '127.0.0.1:42351' },
  { flag: 'rotate-every', help: 'how often the fake kubelet rotates the service-account token', defaultText: '30s' },
  { flag: 'token-lifetime', help: 'lifetime of the access tokens the emulator issues, in seconds', defaultText: '120' },
  { flag: 'exit-after', help: 'stop by itself after this long (default: run until Ctrl-C)' },
];

export const DEMO_HELP = renderHelp(
  'entra-sidecar demo [options]',
  'Runs the whole thing on one machine with no cluster and no Azure: the Entra emulator,\na service-account token rotated like kubelet does, and a sidecar with two targets.',
  DEMO_OPTIONS,
);

/**
 * `entra-sidecar demo`: the emulator plus a real sidecar process, and what to try. Ctrl-C stops
 * everything and removes the temp folders.
 */
export async function runDemo(argv: string[]): Promise<number> {
  const raw = readOptions(DEMO_OPTIONS, argv, {});
  const listenText = (raw.listen as string | undefined) ?? '127.0.0.1:42350';
  const healthText = (raw['health-listen'] as string | undefined) ?? '127.0.0.1:42351';
  const listen = parseListen(listenText, '--listen');
  const health = parseListen(healthText, '--health-listen');
  const rotateMs = parseDurationMs((raw['rotate-every'] as string | undefined) ?? '30s', '--rotate-every', 1_000, 3_600_000);
  const lifetime = Number((raw['token-lifetime'] as string | undefined) ?? '120');
  if (!Number.isInteger(lifetime) || lifetime < 5 || lifetime > 86_400)
    throw new ConfigError('--token-lifetime', 'must be a whole number of seconds between 5 and 86400');
  const exitAfterMs = raw['exit-after'] ? parseDurationMs(raw['exit-after'] as string, '--exit-after', 1_000, 86_400_000) : undefined;

  const work = mkdtempSync(join(tmpdir(), 'entra-sidecar-demo-'));
  const saDir = join(work, 'serviceaccount');
  const tokenDir = join(work, 'tokens');
  const emulator = await startEmulator({ dir: join(work, 'emulator'), tokenLifetimeSec: lifetime });
  const { path: tokenFile } = emulator.writeProjectedToken(saDir);
  const stopRotation = emulator.startRotation(saDir, rotateMs);
  const identityHeader = randomBytes(32).toString('hex');
  // the entry script that is running (dist/cli.js, or the installed entra-sidecar bin)
  const cli = process.argv[1] ?? fileURLToPath(new URL('./cli.js', import.meta.url));

  const sidecar = spawn(process.execPath, [cli, 'sidecar'], {
    env: {
      PATH: process.env.PATH,
      ...sidecarEnv(emulator, {
        tokenFile,
        tokenDir,
        identityHeader,
        tokens: 'storage=https://storage.azure.com/.default,pg=https://ossrdbms-aad.database.windows.net/.default',
      }),
      // the demo's fixed ports (the env above has ephemeral ones)
      ENTRA_SIDECAR_LISTEN: listenText,
      ENTRA_SIDECAR_HEALTH_LISTEN: healthText,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const say = (text: string): void => {
    process.stdout.write(`${text}\n`);
  };
  createInterface({ input: sidecar.stdout }).on('line', (line) => {
    try {
      const l = JSON.parse(line) as { level?: string; msg?: string; target?: string; expiresOn?: string };
      if (l.msg === 'token refreshed') say(`[sidecar] ${l.target}: token refreshed, expires ${l.expiresOn}`);
      else if (l.level !== 'debug') say(`[sidecar] ${l.level}: ${l.msg}`);
    } catch {
      say(`[sidecar] ${line}`);
    }
  });
  createInterface({ input: sidecar.stderr }).on('line', (line) => say(`[sidecar] ${line}`));

  let stopping = false;
  const done = new Promise<number>((resolve) => {
    const stop = async (why: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      say(`\n${why}: stopping the sidecar and the emulator…`);
      stopRotation();
      if (sidecar.exitCode === null) sidecar.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => (sidecar.exitCode !== null ? r(sidecar.exitCode) : sidecar.once('exit', (c) => r(c))));
      await emulator.close();
      rmSync(work, { recursive: true, force: true });
      say(`stopped (sidecar exit code ${code}).`);
      resolve(code === 0 ? 0 : 1);
    };
    process.once('SIGINT', () => void stop('Ctrl-C'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
    sidecar.once('exit', (code) => {
      if (!stopping) void stop(`the sidecar exited (${code})`);
    });
    if (exitAfterMs) setTimeout(() => void stop('time is up'), exitAfterMs).unref();
  });

  // wait until ready, then print what to try
  const healthUrl = `http://${health.host}:${health.port}`;
  for (let i = 0; i < 200 && !stopping; i++) {
    const r = await fetch(`${healthUrl}/readyz`).catch(() => undefined);
    if (r?.status === 200) break;
    await new Promise((r2) => setTimeout(r2, 100));
  }
  if (!stopping) {
    const endpoint = `http://${listen.host}:${listen.port}/msi/token`;
    say(`
entra-sidecar demo is running (Entra emulator at ${emulator.url}; access tokens live ${lifetime} s; the service-account token rotates every ${rotateMs / 1000} s).

Try, in another terminal:
  # the token files the app reads (raw token, and JSON with its expiry)
  cat ${join(tokenDir, 'storage')}; echo
  cat ${join(tokenDir, 'pg.json')}; echo

  # the managed-identity endpoint, as every Azure SDK calls it (App Service 2019-08-01 protocol)
  curl -s -H "X-IDENTITY-HEADER: ${identityHeader}" "${endpoint}?api-version=2019-08-01&resource=https://management.azure.com/"

  # the environment an injected app container gets
  export IDENTITY_ENDPOINT=${endpoint} IDENTITY_HEADER=${identityHeader} AZURE_CLIENT_ID=${emulator.clientId}

  # health, readiness and Prometheus metrics
  curl -s ${healthUrl}/readyz
  curl -s ${healthUrl}/metrics | grep ^entra_sidecar_

  # fault injection: make Entra fail for 60 s and watch the sidecar keep serving, then recover
  curl -s --cacert ${emulator.caFile} -X POST ${emulator.url}/_emulator/faults -d '{"fault":{"kind":"status","status":503},"durationMs":60000}'

Press Ctrl-C to stop.`);
  }
  return done;
}
