import type { Server } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../config/errors.js';
import type { ListenAddress } from '../config/options.js';
import { createLogger, type Logger, type LogSink } from '../log.js';
import { VERSION } from '../version.js';
import { createAdmitter } from './admit.js';
import { createHealthServer } from './health.js';
import { loadKubeConfig } from './kube-client.js';
import { detectDefaultMode } from './kube-version.js';
import { WebhookMetrics } from './metrics.js';
import { parseWebhookSettings, WEBHOOK_HELP } from './options.js';
import { startSelfManagedTls } from './self-managed-tls.js';
import { createServiceAccountLookup, kubeServiceAccountReader } from './service-accounts.js';
import { createWebhookServer } from './server.js';
import type { MutationSettings, WebhookSettings } from './settings.js';
import { watchCertificateFiles, type TlsSource } from './tls.js';

export { WEBHOOK_HELP };

/** A running webhook: its bound ports and a graceful stop. */
export interface RunningWebhook {
  /** bound HTTPS port (useful with port 0) */
  port: number;
  healthPort: number;
  settings: MutationSettings;
  metrics: WebhookMetrics;
  tls: TlsSource;
  /** stops accepting, lets in-flight admissions finish (up to 5 s), closes everything */
  close(): Promise<void>;
}

export interface StartOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  /** aborts a start that is still waiting (self-managed TLS) */
  signal?: AbortSignal;
  /** TLS file re-read interval (default 10 s) */
  tlsPollIntervalMs?: number;
  /** self-managed TLS re-check interval (default 60 s) */
  selfManagedCheckIntervalMs?: number;
}

function listenOn(server: Server, address: ListenAddress, setting: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(new ConfigError(setting, `could not listen on ${address.host}:${address.port}: ${err.code ?? err.message}`));
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : address.port);
    });
  });
}

function closeServer(
  server: { close(cb: () => void): unknown; closeIdleConnections?(): void; closeAllConnections?(): void; listening: boolean },
  graceMs: number,
): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections?.(), graceMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections?.();
  });
}

/**
 * Starts the webhook from validated settings: health server first (`/readyz` 503 until ready),
 * the default mode (flag, else the API server version), TLS, then the HTTPS admission server.
 *
 * @example
 * const webhook = await startWebhook(settings, { kubeConfig: loadKubeConfig(process.env), log });
 * await webhook.close();
 */
export async function startWebhook(settings: WebhookSettings, options: StartOptions): Promise<RunningWebhook> {
  const { log, kubeConfig } = options;
  const metrics = new WebhookMetrics(VERSION);
  let ready = false;
  const health = createHealthServer({ metrics, isReady: () => ready, log });
  const healthPort = await listenOn(health, settings.healthListen, 'ENTRA_WEBHOOK_HEALTH_LISTEN (--health-listen)');
  let tls: TlsSource | undefined;
  try {
    const mode = settings.mode ?? (await detectDefaultMode(kubeConfig, log));
    const mutation: MutationSettings = { ...settings.sidecar, mode };
    tls =
      settings.tls.kind === 'files'
        ? await watchCertificateFiles(settings.tls.certFile, settings.tls.keyFile, { log, pollIntervalMs: options.tlsPollIntervalMs })
        : await startSelfManagedTls(kubeConfig, { ...settings.tls, log, signal: options.signal, checkIntervalMs: options.selfManagedCheckIntervalMs });
    const serviceAccounts = createServiceAccountLookup(kubeServiceAccountReader(kubeConfig), { onError: (reason) => metrics.lookupError(reason) });
    const admit = createAdmitter({ settings: mutation, serviceAccounts, log });
    const server = createWebhookServer({ tls, admit, metrics, log });
    const port = await listenOn(server, settings.listen, 'ENTRA_WEBHOOK_LISTEN (--listen)');
    ready = true;
    log.info(
      { listen: `${settings.listen.host}:${port}`, health: `${settings.healthListen.host}:${healthPort}`, mode, tls: settings.tls.kind, version: VERSION },
      'webhook ready',
    );
    const tlsSource = tls;
    return {
      port,
      healthPort,
      settings: mutation,
      metrics,
      tls: tlsSource,
      async close() {
        ready = false;
        await closeServer(server, 5000);
        tlsSource.close();
        await closeServer(health, 1000);
      },
    };
  } catch (err) {
    tls?.close();
    await closeServer(health, 0);
    throw err;
  }
}

export interface RunExtras {
  /** stops the webhook like SIGTERM does (tests) */
  signal?: AbortSignal;
  /** log destination (default stdout) */
  logDestination?: LogSink;
  /** called once the webhook is ready (tests) */
  onReady?: (webhook: RunningWebhook) => void;
}

/**
 * `entra-sidecar webhook`: parses flags and environment (a bad value throws ConfigError, which
 * the CLI prints in one line with exit 2), runs until SIGTERM or SIGINT, then shuts down
 * gracefully and resolves.
 *
 * @example
 * await runWebhookCommand(['--tls-self-managed', '--tls-secret-name', 'x', ...], process.env);
 */
export async function runWebhookCommand(argv: string[], env: NodeJS.ProcessEnv, extras: RunExtras = {}): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${WEBHOOK_HELP}\n`);
    return;
  }
  const settings = parseWebhookSettings(argv, env);
  const kubeConfig = loadKubeConfig(env);
  const log = createLogger(settings.logLevel, 'webhook', extras.logDestination);
  const stop = new AbortController();
  const onSignal = (sig: string) => {
    log.info({ signal: sig }, 'shutting down');
    stop.abort();
  };
  const sigterm = () => onSignal('SIGTERM');
  const sigint = () => onSignal('SIGINT');
  process.once('SIGTERM', sigterm);
  process.once('SIGINT', sigint);
  const onExtraAbort = () => onSignal('abort');
  extras.signal?.addEventListener('abort', onExtraAbort, { once: true });
  if (extras.signal?.aborted) stop.abort();
  try {
    let webhook: RunningWebhook;
    try {
      webhook = await startWebhook(settings, { kubeConfig, log, signal: stop.signal });
    } catch (err) {
      if (stop.signal.aborted) return;
      throw err;
    }
    extras.onReady?.(webhook);
    if (!stop.signal.aborted) await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    await webhook.close();
    log.info('stopped');
  } finally {
    process.off('SIGTERM', sigterm);
    process.off('SIGINT', sigint);
    extras.signal?.removeEventListener('abort', onExtraAbort);
  }
}
