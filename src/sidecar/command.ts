import { parseSidecarConfig, SIDECAR_OPTIONS } from '../config/sidecar.js';
import { renderHelp } from '../config/options.js';
import { createLogger } from '../log.js';
import { runOnce, startSidecar } from './main.js';

export const SIDECAR_HELP = renderHelp(
  'entra-sidecar sidecar [--once] [options]',
  "Exchanges the pod's projected service-account token for Entra access tokens, keeps them fresh,\nwrites them as files and serves them on a loopback managed-identity endpoint.",
  SIDECAR_OPTIONS,
);

/**
 * `entra-sidecar sidecar`: the daemon, or `--once` for init containers and Jobs.
 * Resolves with the exit code; configuration errors are thrown as ConfigError.
 */
export async function runSidecarCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = parseSidecarConfig(argv, env);
  const log = createLogger(config.logLevel, config.once ? 'sidecar-once' : 'sidecar');
  if (config.once) {
    const result = await runOnce(config, log);
    if (!result.ok) process.stderr.write(`entra-sidecar: ${result.failures.join('; ')}\n`);
    return result.ok ? 0 : 1;
  }
  const running = await startSidecar(config, log);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      const force = setTimeout(() => resolve(0), 4_500);
      force.unref();
      void running.stop().then(() => {
        clearTimeout(force);
        log.info('stopped');
        resolve(0);
      });
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}
