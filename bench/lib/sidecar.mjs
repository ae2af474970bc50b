// Runs `node dist/cli.js sidecar` against an emulator, the way a pod would, for the benchmarks.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, sleep } from './proc.mjs';
import { CLI, importBuild, scratchDir } from './paths.mjs';

// The one environment of an injected sidecar pointed at an emulator (src/emulator/sidecar-env.ts),
// from the build in use, as the demo, the soak and the tests run it.
const injected = await importBuild('emulator/sidecar-env.js');
const { SIDECAR_NODE_OPTIONS } = await importBuild('contract/runtime.js');

/** The Node.js flags the webhook injects into the sidecar container. */
export const INJECTED_NODE_OPTIONS = SIDECAR_NODE_OPTIONS;

/** Three targets, like a pod that talks to storage, Key Vault and ARM. */
export const THREE_TARGETS = 'storage=https://storage.azure.com/.default,vault=https://vault.azure.net/.default,arm=https://management.azure.com/.default';

/**
 * The environment a sidecar gets in a pod, pointed at the emulator: the emulator's sidecarEnv()
 * (NODE_OPTIONS as the webhook injects them), `extra` on top. BENCH_SIDECAR_NODE_OPTIONS, when
 * set, replaces the injected flags (to measure other runtime flags); `extra.NODE_OPTIONS` is
 * appended to them.
 */
export function sidecarEnv(emulator, { tokens = THREE_TARGETS, tokenDir, tokenFile, identityHeader, extra = {} } = {}) {
  const nodeOptions = [process.env.BENCH_SIDECAR_NODE_OPTIONS ?? INJECTED_NODE_OPTIONS, extra.NODE_OPTIONS].filter(Boolean).join(' ');
  const env = { PATH: process.env.PATH, ...injected.sidecarEnv(emulator, { tokens, tokenDir, tokenFile, identityHeader }), ...extra };
  if (nodeOptions) env.NODE_OPTIONS = nodeOptions;
  else delete env.NODE_OPTIONS;
  return env;
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

/**
 * Asks a sidecar once (App Service flavour) and writes its answer — status, content headers and
 * body — to a file for bench/servers/bare-http.mjs, so a baseline answers exactly the sidecar's bytes.
 */
export async function answerFileOf(sc, name) {
  const req = appServiceRequest(sc);
  const first = await fetch(req.url, { headers: req.headers });
  const body = await first.text();
  if (first.status !== 200) throw new Error(`sidecar answered ${first.status}`);
  const answer = { status: 200, headers: { 'content-type': first.headers.get('content-type'), 'cache-control': first.headers.get('cache-control') }, body };
  const file = join(scratchDir(), `${name}-answer.json`);
  writeFileSync(file, JSON.stringify(answer));
  return { file, answer };
}

/** The App Service flavour request for a resource, as autocannon options. */
export function appServiceRequest(sc, resource = 'https://storage.azure.com/') {
  return {
    url: `${sc.endpoint}/msi/token?api-version=2019-08-01&resource=${encodeURIComponent(resource)}`,
    headers: { 'x-identity-header': sc.identityHeader },
  };
}
