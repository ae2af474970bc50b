// Row 9: time to first token as the app sees it, per language: process start of an app → its
// first token through DefaultAzureCredential with the environment the webhook injects (the
// sidecar already running and holding the token, as in a pod whose sidecar started first),
// against the same client getting the token in-process with WorkloadIdentityCredential and the
// projected service-account token (what Azure Workload Identity gives an app: one exchange with
// Entra — here the emulator — per process). Same run, same machine; the modes alternate run by run.
// Python also runs DefaultAzureCredential with every credential a pod does not use excluded (the
// Azure Identity guide's advice "to speed up authentication"), to see whether it changes anything
// with the injected environment.
//
// The clients are the interop suite's probes (test/interop/clients/), installed by
// scripts/install-interop-clients.sh: Python azure-identity 1.27.0, @azure/identity 4.13.1, Go
// azidentity v1.15.0, Java azure-identity 1.18.4.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { emulator, resultLine } from '../lib/context.mjs';
import { REPO, scratchDir } from '../lib/paths.mjs';
import { startSidecar } from '../lib/sidecar.mjs';
import { median, ratio, round } from '../lib/stats.mjs';

const SCOPE = 'https://storage.azure.com/.default';
const CLIENTS = join(REPO, 'test', 'interop', 'clients');

/** The installed clients' folders, by component (go-new, python, java …). */
function installed() {
  const out = execFileSync('bash', [join(REPO, 'scripts', 'install-interop-clients.sh'), 'python', 'go', 'java'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 25 * 60_000,
  });
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split(' ')),
  );
}

/** How to start each language's probe: command and arguments for a credential kind. */
function languages(dirs, trust) {
  return [
    {
      id: 'python',
      label: 'Python azure-identity 1.27.0',
      command: join(dirs.python, 'venv', 'bin', 'python'),
      args: (kind) => [join(CLIENTS, 'azure_identity.py'), kind, SCOPE],
      exclude: true,
    },
    {
      id: 'js',
      label: '@azure/identity 4.13.1',
      command: process.execPath,
      args: (kind) => [join(CLIENTS, 'azure-identity.mjs'), 'azure-identity-latest', kind, SCOPE],
    },
    { id: 'go', label: 'Go azidentity v1.15.0', command: join(dirs['go-new'], 'azidentity-probe'), args: (kind) => [kind, SCOPE] },
    {
      id: 'java',
      label: 'Java azure-identity 1.18.4',
      command: 'java',
      args: (kind) => [
        `-Dprobe.result=${join(mkdtempSync(join(scratchDir(), 'java-')), 'result.json')}`,
        `-Djavax.net.ssl.trustStore=${trust.javaTrustStore}`,
        '-Djavax.net.ssl.trustStoreType=PKCS12',
        '-Djavax.net.ssl.trustStorePassword=changeit',
        '-cp',
        `${dirs.java}/classes:${dirs.java}/lib/*`,
        'Probe',
        kind,
        SCOPE,
      ],
    },
  ];
}

export async function run(ctx) {
  let dirs;
  try {
    dirs = installed();
  } catch (err) {
    const why = `scripts/install-interop-clients.sh failed: ${String(err.stderr ?? err.message)
      .trim()
      .split('\n')
      .slice(-2)
      .join(' | ')}`;
    if (process.env.CI === 'true') throw new Error(why);
    return { skipped: why };
  }
  const runs = ctx.quick ? 1 : Math.max(5, ctx.runs);
  const em = await emulator();
  const sc = await startSidecar('first-token', em, { tokens: `storage=${SCOPE}` });
  const javaTrustStore = join(mkdtempSync(join(scratchDir(), 'trust-')), 'emulator.p12');
  execFileSync(
    'keytool',
    ['-importcert', '-noprompt', '-alias', 'emulator', '-file', em.caFile, '-keystore', javaTrustStore, '-storetype', 'PKCS12', '-storepass', 'changeit'],
    { stdio: 'ignore' },
  );
  // every mode gets the same trust settings, so only the identity variables differ
  const trust = { NODE_EXTRA_CA_CERTS: em.caFile, SSL_CERT_FILE: em.caFile, REQUESTS_CA_BUNDLE: em.caFile };
  const modes = {
    sidecar: { kind: 'default', env: { IDENTITY_ENDPOINT: `${sc.endpoint}/msi/token`, IDENTITY_HEADER: sc.identityHeader, AZURE_CLIENT_ID: em.clientId } },
    exclude: {
      kind: 'default-exclude',
      env: { IDENTITY_ENDPOINT: `${sc.endpoint}/msi/token`, IDENTITY_HEADER: sc.identityHeader, AZURE_CLIENT_ID: em.clientId },
    },
    workload: {
      kind: 'workload',
      env: { AZURE_CLIENT_ID: em.clientId, AZURE_TENANT_ID: em.tenantId, AZURE_FEDERATED_TOKEN_FILE: sc.tokenFile, AZURE_AUTHORITY_HOST: em.url },
    },
  };
  const lines = [];
  try {
    for (const lang of languages(dirs, { javaTrustStore })) {
      const order = lang.exclude ? ['sidecar', 'exclude', 'workload'] : ['sidecar', 'workload'];
      const samples = Object.fromEntries(order.map((m) => [m, []]));
      // one untimed round: disk caches warm for every mode (skipped in the quick run)
      if (!ctx.quick) for (const m of order) await firstToken(lang, modes[m], trust);
      for (let r = 0; r < runs; r++) {
        for (const m of r % 2 ? [...order].reverse() : order) samples[m].push(await firstToken(lang, modes[m], trust));
        ctx.log(`  row 9: ${lang.id} run ${r}: ${order.map((m) => `${m} ${samples[m][r].toFixed(0)} ms`).join(', ')}`);
      }
      const s = median(samples.sidecar);
      const b = median(samples.workload);
      const pairRatio = median(samples.sidecar.map((x, i) => ratio(x, samples.workload[i])));
      lines.push(
        resultLine({
          id: `9${lang.id === 'python' ? 'a' : lang.id === 'js' ? 'b' : lang.id === 'go' ? 'c' : 'd'}`,
          what: `first token, ${lang.label}: DefaultAzureCredential via the sidecar (vs WorkloadIdentityCredential in-process)`,
          figure: round(s),
          baseline: round(b),
          ratio: round(pairRatio),
          target: '≤ 1.0×',
          pass: pairRatio <= 1,
          unit: 'ms',
          details: { runs, ...Object.fromEntries(order.map((m) => [`${m}Ms`, samples[m].map((x) => round(x))])) },
        }),
      );
      if (lang.exclude) {
        const e = median(samples.exclude);
        lines.push(
          resultLine({
            id: '9a-exclude',
            what: `first token, ${lang.label}: DefaultAzureCredential with unused credentials excluded (vs without)`,
            figure: round(e),
            baseline: round(s),
            ratio: round(median(samples.exclude.map((x, i) => ratio(x, samples.sidecar[i])))),
            target: null,
            pass: null,
            unit: 'ms',
            details: { runs, excludeMs: samples.exclude.map((x) => round(x)), defaultMs: samples.sidecar.map((x) => round(x)) },
          }),
        );
      }
    }
  } finally {
    await sc.stop();
    await em.close();
  }
  return { lines };
}

/** ms from just before spawn to the app process's exit with its token (exit 0), else throws. */
function firstToken(lang, mode, trust) {
  const home = mkdtempSync(join(scratchDir(), 'app-home-'));
  const env = { PATH: process.env.PATH, HOME: home, ...trust, ...mode.env };
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const proc = spawn(lang.command, lang.args(mode.kind), { env, cwd: home, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let result = '';
    proc.stderr.on('data', (c) => (stderr += c));
    proc.stdio[3].on('data', (c) => (result += c));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 120_000);
    proc.on('close', (code) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      if (code === 0) resolve(ms);
      else
        reject(
          new Error(
            `${lang.id} ${mode.kind} exited ${code}: ${result
              .replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, '<jwt>')
              .replace(/\\n|-{10,}/g, ' ')
              .slice(0, 900)} ${stderr.slice(-300)}`,
          ),
        );
    });
  });
}
