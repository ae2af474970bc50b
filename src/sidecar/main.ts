import { EntraSidecarError } from '../errors.js';
import type http from 'node:http';
import { mkdir } from 'node:fs/promises';
import type { SidecarConfig } from '../config/sidecar.js';
import type { AccessToken } from '../identity/access-token.js';
import { systemClock } from '../identity/clock.js';
import { backoffDelayMs } from '../identity/refresh-policy.js';
import { ExchangeError } from '../identity/errors.js';
import { createExchange, type Exchange } from '../identity/exchange.js';
import { sourceName } from '../identity/credential-source.js';
import { credentialFiles, CredentialChangeWatch, isCredentialFailure } from './credential-watch.js';
import { TokenStore, type EntryView } from '../identity/token-store.js';
import type { Logger } from '../log.js';
import { createEndpointServer } from './endpoint/server.js';
import { createHealthServer, type TargetReadiness } from './health.js';
import { ON_DEMAND_TARGET, SidecarMetrics } from './metrics.js';
import { RenderedFiles, type FileReadiness } from './rendered-files.js';
import { removeStaleTempFiles, writeTokenFiles } from './token-files.js';

/** A running sidecar, for tests and for shutdown. */
export interface RunningSidecar {
  endpointAddress(): { host: string; port: number };
  healthAddress(): { host: string; port: number };
  store: TokenStore;
  stop(): Promise<void>;
}

/**
 * Wires the token store to token files, the loopback endpoint, the health listener and metrics,
 * then fetches every target. Resolves once both listeners are bound.
 */
export async function startSidecar(config: SidecarConfig, log: Logger): Promise<RunningSidecar> {
  const metrics = new SidecarMetrics();
  const exchange = exchangeFor(config);
  metrics.credentialInfo.labels(sourceName(config.credential)).set(1);
  await mkdir(config.tokenDir, { recursive: true }).catch(() => undefined);
  await removeStaleTempFiles(config.tokenDir);
  // after Entra refuses the client secret or certificate, retry as soon as the Secret is rotated
  const credentialWatch = new CredentialChangeWatch(credentialFiles(config.credential), () => {
    log.info({ credential: sourceName(config.credential) }, 'credential file changed: retrying the failed targets now');
    store.retryFailedNow();
  });

  /** expiry of the token whose files are on disk, per target name */
  const written = new Map<string, number>();
  const writes = new Map<string, Promise<void>>();
  const label = (e: EntryView): string => e.name ?? ON_DEMAND_TARGET;

  const rendered = new RenderedFiles({ dir: config.tokenDir, files: config.files, fileMode: config.fileMode, metrics, log });

  /** set by stop(): a write started after it could be cut off by the exit, leaving a temp file */
  let stopping = false;
  const writeFiles = (name: string, token: AccessToken): void => {
    if (stopping) return;
    const previous = writes.get(name) ?? Promise.resolve();
    const next = previous.then(async () => {
      try {
        await writeTokenFiles(config.tokenDir, name, token, config.fileMode);
        written.set(name, token.expiresOnMs);
      } catch (err) {
        metrics.fileWriteErrors.labels(name).inc();
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        log.error(
          { target: name, dir: config.tokenDir, code },
          `cannot write token files for ${name} in ${config.tokenDir} (${code}): the endpoint keeps serving; the old files stay as they were`,
        );
      }
      // the files rendered from this target's token, each rewritten with the newest tokens
      await rendered.tokenChanged(name, token);
      log.debug({ target: name, files: rendered.usersOf(name).map((f) => f.name) }, 'files written');
    });
    writes.set(name, next);
  };

  let lastBudgetLogMs = -Infinity;
  const store = new TokenStore({
    exchange: trackCredential(exchange, metrics, log),
    clock: systemClock,
    targets: config.targets,
    maxOnDemand: config.maxOnDemand,
    newScopeBudget: config.newScopeBudget,
    policy: config.refreshPolicy,
    events: {
      refreshed(entry, token, durationMs) {
        const target = label(entry);
        metrics.refreshes.labels(target, 'success').inc();
        metrics.refreshDuration.labels(target).observe(durationMs / 1000);
        if (entry.name !== undefined) metrics.tokenExpiry.labels(entry.name).set(Math.floor(token.expiresOnMs / 1000));
        metrics.tokensHeld.set(store.heldCount());
        log.info(
          {
            target,
            scope: entry.scope,
            expiresOn: new Date(token.expiresOnMs).toISOString(),
            durationMs,
            nextRefreshInS: entry.nextAttemptAtMs ? Math.round((entry.nextAttemptAtMs - Date.now()) / 1000) : undefined,
          },
          'token refreshed',
        );
        if (entry.name !== undefined) writeFiles(entry.name, token);
      },
      failed(entry, error, durationMs, retryInMs) {
        const target = label(entry);
        if (stopping) {
          // an exchange aborted by the shutdown: not a failure, and nothing will retry it
          log.info({ target, scope: entry.scope }, 'exchange in flight abandoned: shutting down');
          return;
        }
        metrics.refreshes.labels(target, 'failure').inc();
        metrics.refreshDuration.labels(target).observe(durationMs / 1000);
        metrics.exchangeErrors.labels(target, error.reason).inc();
        metrics.tokensHeld.set(store.heldCount());
        log[error.retryable ? 'warn' : 'error'](failureFields(target, entry, error, retryInMs, exchange, config), `token refresh failed: ${error.message}`);
        if (isCredentialFailure(error)) credentialWatch.arm();
      },
      assertionRetried(entry, error) {
        metrics.exchangeErrors.labels(label(entry), error.reason).inc();
        log.warn(
          { target: label(entry), scope: entry.scope, reason: error.reason, aadsts: error.aadsts },
          `Entra refused the service-account token as expired or not yet valid (AADSTS700024): reading ${config.credential.kind === 'federated' ? config.credential.tokenFile : 'the token file'} again and retrying at once`,
        );
      },
      newScopeRefused(scope, retryInMs) {
        metrics.newScopesRefused.inc();
        // one line per minute at most: a caller looping over scopes must not flood the log either
        const now = Date.now();
        if (now - lastBudgetLogMs < 60_000) return;
        lastBudgetLogMs = now;
        log.warn(
          { scope, retryInS: Math.ceil(retryInMs / 1000), burst: config.newScopeBudget.burst, perMinute: config.newScopeBudget.perMinute },
          'new-scope budget used up: requests for scopes not held get 503 until it refills (counted in entra_sidecar_new_scopes_refused_total; further lines suppressed for a minute)',
        );
      },
      evicted(scope) {
        metrics.tokensHeld.set(store.heldCount());
        log.info({ scope }, 'on-demand scope dropped (idle or over the limit)');
      },
    },
  });

  const readiness = (): { ready: boolean; targets: TargetReadiness[]; files: FileReadiness[]; credential: Record<string, unknown> } => {
    const now = Date.now();
    const byScope = new Map(store.entriesView().map((e) => [e.scope, e]));
    const targets = config.targets.map((t): TargetReadiness => {
      const e = byScope.get(t.scope);
      const held = e?.expiresOnMs !== undefined && e.expiresOnMs > now;
      const fileWritten = (written.get(t.name) ?? 0) > now;
      return {
        name: t.name,
        scope: t.scope,
        ready: held && fileWritten,
        expiresOn: e?.expiresOnMs ? new Date(e.expiresOnMs).toISOString() : undefined,
        fileWritten,
        lastError: e?.lastError?.message,
      };
    });
    const c = exchange.lastCredential();
    const credential = {
      source: sourceName(config.credential),
      ...(c?.thumbprintSha256 ? { thumbprintSha256: c.thumbprintSha256, notAfter: new Date(c.notAfterMs ?? 0).toISOString() } : {}),
    };
    const files = rendered.readiness(now);
    return { ready: targets.every((t) => t.ready) && files.every((f) => f.ready), targets, files, credential };
  };

  const endpoint = createEndpointServer({
    store,
    clientId: config.clientId,
    identityHeader: config.identityHeader ?? '',
    allowedScopes: config.allowedScopes,
    identityResourceId: config.identityResourceId,
    flavours: config.flavours,
    metrics,
    log,
  });
  const health = createHealthServer({ metrics, readiness });
  await listen(endpoint, config.listen.host, config.listen.port, 'ENTRA_SIDECAR_LISTEN');
  await listen(health, config.healthListen.host, config.healthListen.port, 'ENTRA_SIDECAR_HEALTH_LISTEN');
  store.start();
  const address = (s: http.Server): { host: string; port: number } => {
    const a = s.address();
    return typeof a === 'object' && a ? { host: a.address, port: a.port } : { host: '', port: 0 };
  };
  log.info(
    {
      endpoint: address(endpoint),
      health: address(health),
      targets: config.targets.map((t) => t.name),
      authorityHost: config.authorityHost,
      credential: sourceName(config.credential),
    },
    'sidecar started',
  );

  return {
    endpointAddress: () => address(endpoint),
    healthAddress: () => address(health),
    store,
    async stop() {
      stopping = true;
      credentialWatch.stop();
      store.stop();
      // abort exchanges in flight (a hung Entra): apps waiting on one get a 503 now, and the
      // servers can close instead of waiting out the grace period
      exchange.close();
      const closing = Promise.all([closeServer(endpoint), closeServer(health)]);
      await Promise.race([Promise.all([closing, ...writes.values(), rendered.settled()]), new Promise((r) => setTimeout(r, 4_000).unref())]);
    },
  };
}

/** The exchange with Entra the sidecar's settings describe (the daemon and `--once` alike). */
function exchangeFor(config: SidecarConfig): ReturnType<typeof createExchange> {
  return createExchange({
    clientId: config.clientId,
    tenantId: config.tenantId,
    authorityHost: config.authorityHost,
    credential: config.credential,
    timeoutMs: config.exchangeTimeoutMs,
  });
}

/** Exchanges `--once` tries per target before it reports the failure. */
const ONCE_ATTEMPTS = 4;

/**
 * `sidecar --once`: fetch every target, write its files, and report. Transient failures are
 * retried a few times on the refresh policy's backoff (at least Entra's Retry-After; an init
 * container that fails is restarted, but slowly).
 */
export async function runOnce(config: SidecarConfig, log: Logger): Promise<{ ok: boolean; failures: string[] }> {
  const exchange = exchangeFor(config);
  await mkdir(config.tokenDir, { recursive: true }).catch(() => undefined);
  await removeStaleTempFiles(config.tokenDir);
  let warned = false;
  const failures: string[] = [];
  const rendered = new RenderedFiles({ dir: config.tokenDir, files: config.files, fileMode: config.fileMode, log });
  await Promise.all(
    config.targets.map(async (t) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const token = await exchange(t.scope).finally(() => {
            const key = exchange.lastCredential()?.worldReadableKey;
            if (key && !warned) {
              warned = true;
              log.warn({ file: key }, worldReadableWarning(key));
            }
          });
          await writeTokenFiles(config.tokenDir, t.name, token, config.fileMode);
          await rendered.tokenChanged(t.name, token);
          log.info({ target: t.name, scope: t.scope, expiresOn: new Date(token.expiresOnMs).toISOString() }, 'token written');
          return;
        } catch (err) {
          const retryable = err instanceof ExchangeError ? err.retryable : false;
          const message = err instanceof Error ? err.message : String(err);
          if (retryable && attempt < ONCE_ATTEMPTS && err instanceof ExchangeError) {
            const waitMs = Math.min(backoffDelayMs(attempt, err, Math.random, config.refreshPolicy), config.refreshPolicy.backoffCapMs);
            log.warn({ target: t.name, attempt, retryInMs: waitMs }, `token fetch failed, retrying: ${message}`);
            await new Promise((r) => setTimeout(r, waitMs));
            continue;
          }
          if (err instanceof ExchangeError)
            log.error(failureFields(t.name, { scope: t.scope }, err, undefined, exchange, config), `token fetch failed: ${message}`);
          else log.error({ target: t.name }, `cannot write token files: ${message}`);
          failures.push(`${t.name}: ${message}`);
          return;
        }
      }
    }),
  );
  exchange.close();
  await rendered.settled();
  // a file is missing when its render failed, or when a target it reads failed (reported above)
  if (failures.length === 0) failures.push(...rendered.failures());
  return { ok: failures.length === 0, failures };
}

/** Log fields for a failed exchange; for a federation mismatch, the assertion's iss/sub/aud. */
function failureFields(
  target: string,
  entry: { scope: string },
  error: ExchangeError,
  retryInMs: number | undefined,
  exchange: Exchange,
  config: SidecarConfig,
): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    target,
    scope: entry.scope,
    reason: error.reason,
    retryable: error.retryable,
    status: error.status,
    aadsts: error.aadsts,
    retryInS: retryInMs !== undefined ? Math.round(retryInMs / 1000) : undefined,
  };
  if (!error.retryable) {
    const a = exchange.lastAssertion();
    fields.clientId = config.clientId;
    fields.tenantId = config.tenantId;
    const c = exchange.lastCredential();
    fields.credential = c?.thumbprintSha256
      ? { source: c.source, thumbprintSha256: c.thumbprintSha256, subject: c.subject, notAfter: new Date(c.notAfterMs ?? 0).toISOString() }
      : { source: sourceName(config.credential) };
    if (a && config.credential.kind === 'federated') fields.assertionClaims = { iss: a.iss, sub: a.sub, aud: a.aud };
  }
  return fields;
}

/**
 * Keeps the credential metrics current after each exchange (the service-account token's or the
 * certificate's expiry) and warns, once per certificate, about a key file every user can read.
 */
function trackCredential(exchange: Exchange, metrics: SidecarMetrics, log: Logger): (scope: string) => Promise<AccessToken> {
  let warnedFor: string | undefined;
  return async (scope) => {
    try {
      return await exchange(scope);
    } finally {
      const exp = exchange.lastAssertion()?.exp;
      if (exp !== undefined) metrics.federatedTokenExpiry.set(exp);
      const c = exchange.lastCredential();
      if (c?.notAfterMs !== undefined) metrics.credentialExpiry.set(Math.floor(c.notAfterMs / 1000));
      if (c?.worldReadableKey && warnedFor !== c.thumbprintSha256) {
        warnedFor = c.thumbprintSha256;
        log.warn({ file: c.worldReadableKey }, worldReadableWarning(c.worldReadableKey));
      }
    }
  };
}

function worldReadableWarning(file: string): string {
  return `the private key file ${file} can be read by every user: restrict it to the sidecar's user (chmod 0400, or defaultMode 0440 with the pod's fsGroup); when only the sidecar container mounts it, as the webhook does, only the sidecar's own container can see it`;
}

function listen(server: http.Server, host: string, port: number, setting: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        new ListenError(
          `${setting}: cannot listen on ${host}:${port} (${err.code ?? err.message})${err.code === 'EADDRINUSE' ? ': another process uses that port; pick another with ' + setting : ''}`,
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** A listener could not bind: a startup failure with a one-line message. */
export class ListenError extends EntraSidecarError {
  readonly code = 'LISTEN_FAILED' as const;
  constructor(message: string) {
    super(message, 'ListenError');
  }
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    // a keep-alive connection turns idle once its in-flight request is answered: close it then,
    // rather than wait for the client to drop it
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}
