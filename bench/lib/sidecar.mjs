// Runs `node dist/cli.js sidecar` against an emulator, the way a pod would, for the benchmarks.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, sleep } from './proc.mjs';
import { BUILD, CLI, importBuild, scratchDir } from './paths.mjs';

/** The Node.js flags the webhook injects into the sidecar container (none for a build without them). */
export const INJECTED_NODE_OPTIONS = existsSync(join(BUILD, 'contract', 'runtime.js')) ? (await importBuild('contract/runtime.js')).SIDECAR_NODE_OPTIONS ?? '' : '';

/** Three targets, like a pod that talks to storage, Key Vault and ARM. */
export const THREE_TARGETS = 'storage=https://storage.azure.com/.default,vault=https://vault.azure.net/.default,arm=https://management.azure.com/.default';

/**
 * The environment a sidecar gets in a pod, pointed at the emulator, NODE_OPTIONS included as the
 * webhook injects it. BENCH_SIDECAR_NODE_OPTIONS, when set, replaces those flags (to measure
 * other runtime flags).
 */
export function sidecarEnv(emulator, { tokens = THREE_TARGETS, tokenDir, tokenFile, identityHeader, extra = {} } = {}) {
  const nodeOptions = [process.env.BENCH_SIDECAR_NODE_OPTIONS ?? INJECTED_NODE_OPTIONS, extra.NODE_OPTIONS].filter(Boolean).join(' ');
  return {
    PATH: process.env.PATH,
    NODE_EXTRA_CA_CERTS: emulator.caFile,
    AZURE_CLIENT_ID: emulator.clientId,
    AZURE_TENANT_ID: emulator.tenantId,
    AZURE_FEDERATED_TOKEN_FILE: tokenFile,
    AZURE_AUTHORITY_HOST: emulator.url,
    ENTRA_SIDECAR_TOKENS: tokens,
    ENTRA_SIDECAR_TOKEN_DIR: tokenDir,
    ENTRA_SIDECAR_LISTEN: '127.0.0.1:0',
    ENTRA_SIDECAR_HEALTH_LISTEN: '127.0.0.1:0',
    ENTRA_SIDECAR_IDENTITY_HEADER: identityHeader,
    ENTRA_SIDECAR_LOG_LEVEL: 'info',
    ...extra,
    ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
  };
}

/**
 * Starts a sidecar process and waits for its "sidecar started" line (and, with `ready`, for
 * /readyz: every target held and written). Returns its addresses and a stop().
 */
export async function startSidecar(name, emulator, { tokens, ready = true, extra, nodeArgs = [], logDir, cli = CLI } = {}) {
  const tokenDir = mkdtempSync(join(scratchDir(), 'tokens-'));
  const tokenFile = emulator.writeProjectedToken(mkdtempSync(join(scratchDir(), 'sa-'))).path;
  const identityHeader = randomBytes(24).toString('hex');
  const env = sidecarEnv(emulator, { tokens, tokenDir, tokenFile, identityHeader, extra });
  const p = startProcess(name, process.execPath, [...nodeArgs, cli, 'sidecar'], { env, logDir: logDir ?? scratchDir() });
  const started = await p.waitForLine((l) => l.msg === 'sidecar started');
  const endpoint = `http://127.0.0.1:${started.endpoint.port}`;
  const health = `http://127.0.0.1:${started.health.port}`;
  const sc = { ...p, endpoint, health, tokenDir, identityHeader, tokenFile };
  if (ready) await waitReady(sc);
  return sc;
}

/** Polls /readyz until it answers 200. */
export async function waitReady(sc, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await fetch(`${sc.health}/readyz`).catch(() => undefined);
    if (r) await r.arrayBuffer();
    if (r?.status === 200) return;
    if (Date.now() > until) throw new Error(`${sc.name}: not ready within ${timeoutMs} ms`);
    await sleep(25);
  }
}

/** The App Service flavour request for a resource, as autocannon options. */
export function appServiceRequest(sc, resource = 'https://storage.azure.com/') {
  return {
    url: `${sc.endpoint}/msi/token?api-version=2019-08-01&resource=${encodeURIComponent(resource)}`,
    headers: { 'x-identity-header': sc.identityHeader },
  };
}
