import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import type { Emulator } from '../../src/emulator/index.js';
import { createCertificateAuthority, createServerCertificate } from '../../src/emulator/certs.js';
import { auditLog } from '../helpers/audit.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { CLI, startSidecarProcess, type SidecarProcess } from '../helpers/sidecar.js';
import { CHART, ensureHelm, ensurePrometheus, helmTemplate, NAMESPACE, only, RELEASE, ROOT } from '../chart/tools.js';

/**
 * End to end with a real Prometheus: it scrapes a real sidecar (exchanging with the Entra emulator)
 * and a real webhook (which has answered admissions), both on loopback, with the chart's alerting
 * rules loaded. Prometheus's HTTP API must show the sidecar's expiry and refresh series and the
 * webhook's admission series; the rules must evaluate cleanly and stay quiet; `promtool check
 * metrics` must pass both expositions; and the dashboard and alerts must only name metrics the
 * processes really expose. The chart's `helm test` script and the example app run against them too.
 */

const helmTools = ensureHelm();
const prom = ensurePrometheus();
const haveDist = existsSync(CLI);
if (!haveDist && process.env.CI === 'true') throw new Error('dist/cli.js is missing: run `npm run build` first');

const SERVICE_HOST = `${RELEASE}.${NAMESPACE}.svc`;
const APP_LABELS = { namespace: 'apps', pod: 'token-reader-1' };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface RunningProcess {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

/** Spawns a process whose output goes to the suite's audited logs. */
function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): RunningProcess {
  const proc = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const audit = auditLog(name);
  const lines: string[] = [];
  for (const stream of [proc.stdout, proc.stderr]) {
    createInterface({ input: stream! }).on('line', (line) => {
      audit?.write(`${line}\n`);
      lines.push(line);
    });
  }
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  void exited.then(() => audit?.end());
  return { proc, lines, exited };
}

async function stop(p: RunningProcess | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  p.proc.kill('SIGTERM');
  const t = setTimeout(() => p.proc.kill('SIGKILL'), 8_000);
  await p.exited;
  clearTimeout(t);
}

/** POSTs an AdmissionReview to the webhook over TLS checked against its CA. */
function admit(port: number, ca: string, review: unknown): Promise<{ status: number; body: string }> {
  const body = JSON.stringify(review);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: '/mutate?timeout=5s', method: 'POST', ca, servername: SERVICE_HOST, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

type Sample = { metric: Record<string, string>; value: [number, string] };

describe.skipIf(!helmTools || !prom || !haveDist)('Prometheus scrapes a real sidecar and a real webhook', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entra-prometheus-'));
  let emulator: Emulator;
  let sidecar: SidecarProcess;
  let webhook: RunningProcess;
  let prometheus: RunningProcess;
  let webhookHealth: string;
  let webhookPort: number;
  let prometheusUrl: string;
  let caPem: string;
  let rules: { groups: { rules: { alert: string; expr: string }[] }[] };

  beforeAll(async () => {
    // the sidecar, exchanging with the Entra emulator
    emulator = await startTestEmulator();
    sidecar = await startSidecarProcess({ emulator, tokens: 'storage=https://storage.azure.com/.default' });
    await sidecar.waitReady();

    // the webhook, with a certificate for its Service name from a CA of our own
    const ca = createCertificateAuthority(generateKeyPairSync('rsa', { modulusLength: 2048 }), 'entra-sidecar test webhook CA');
    const serving = createServerCertificate(ca, generateKeyPairSync('rsa', { modulusLength: 2048 }), [SERVICE_HOST, '127.0.0.1']);
    caPem = ca.certPem;
    writeFileSync(join(dir, 'ca.crt'), ca.certPem);
    writeFileSync(join(dir, 'tls.crt'), serving.certPem);
    writeFileSync(join(dir, 'tls.key'), serving.keyPem, { mode: 0o600 });
    // an API server nobody answers on: pods that did not opt in (and hostNetwork denials) need none
    writeFileSync(
      join(dir, 'kubeconfig'),
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'none', cluster: { server: 'https://127.0.0.1:9' } }],
        users: [{ name: 'none', user: { token: 'unused' } }],
        contexts: [{ name: 'none', context: { cluster: 'none', user: 'none' } }],
        'current-context': 'none',
      }),
    );
    webhook = start(
      'webhook',
      process.execPath,
      [
        CLI,
        'webhook',
        '--listen=127.0.0.1:0',
        '--health-listen=127.0.0.1:0',
        `--tls-cert-file=${join(dir, 'tls.crt')}`,
        `--tls-key-file=${join(dir, 'tls.key')}`,
        '--mode=native',
        '--sidecar-image=entra-sidecar:test',
      ],
      { PATH: process.env.PATH, KUBECONFIG: join(dir, 'kubeconfig') },
    );
    const ready = await until('the webhook logs "webhook ready"', async () => {
      if (webhook.proc.exitCode !== null) throw new Error(`webhook exited: ${webhook.lines.join(' | ')}`);
      const line = webhook.lines
        .map((l) => {
          try {
            return JSON.parse(l) as { msg?: string; listen?: string; health?: string };
          } catch {
            return {};
          }
        })
        .find((l) => l.msg === 'webhook ready');
      return line;
    });
    webhookPort = Number(String(ready.listen).split(':').pop());
    webhookHealth = `127.0.0.1:${String(ready.health).split(':').pop()}`;

    // the chart's alerting rules, as Prometheus loads them
    const rendered = helmTemplate(helmTools?.helm as string, { 'monitoring.prometheusRule.enabled': true }, ['--show-only', 'templates/prometheusrule.yaml']);
    rules = only<{ spec: typeof rules }>(rendered.objects, 'PrometheusRule').spec;
    writeFileSync(join(dir, 'rules.yaml'), stringify(rules));

    const sidecarHealth = new URL(sidecar.health).host;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [join(dir, 'rules.yaml')],
        scrape_configs: [
          // what a PodMonitor produces for an injected pod: namespace and pod labels
          { job_name: 'entra-sidecar-pods', static_configs: [{ targets: [sidecarHealth], labels: APP_LABELS }] },
          // what the chart's ServiceMonitor produces: job = the Service name
          { job_name: RELEASE, static_configs: [{ targets: [webhookHealth], labels: { namespace: NAMESPACE } }] },
        ],
      }),
    );
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    prometheus = start(
      'prometheus',
      prom?.prometheus as string,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { PATH: process.env.PATH },
    );
    await until('Prometheus is ready', async () => {
      if (prometheus.proc.exitCode !== null) throw new Error(`prometheus exited: ${prometheus.lines.slice(-5).join(' | ')}`);
      const r = await fetch(`${prometheusUrl}/-/ready`);
      return r.ok ? true : undefined;
    });
  }, 120_000);

  afterAll(async () => {
    await stop(prometheus);
    await stop(webhook);
    await sidecar?.stop();
    await emulator?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function query(promql: string): Promise<Sample[]> {
    const r = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await r.json()) as { status: string; data: { result: Sample[] }; error?: string };
    if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error}`);
    return body.data.result;
  }

  const found = (promql: string) =>
    until(`Prometheus has ${promql}`, async () => {
      const samples = await query(promql);
      return samples.length > 0 ? samples : undefined;
    });

  it('runs the chart’s `helm test` script against the webhook: /healthz and a dry-run admission over verified TLS', () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', readFileSync(join(CHART, 'files', 'helm-test.mjs'), 'utf8')], {
      encoding: 'utf8',
      timeout: 30_000,
      env: {
        PATH: process.env.PATH,
        WEBHOOK_HEALTH_URL: `http://${webhookHealth}/healthz`,
        WEBHOOK_MUTATE_URL: `https://127.0.0.1:${webhookPort}/mutate?timeout=5s`,
        WEBHOOK_SERVER_NAME: SERVICE_HOST,
        WEBHOOK_CA_FILE: join(dir, 'ca.crt'),
      },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('entra-sidecar webhook answers');
    expect(r.status).toBe(0);
    // and it fails, naming the problem, when the certificate cannot be verified
    const wrongName = spawnSync(process.execPath, ['--input-type=module', '-e', readFileSync(join(CHART, 'files', 'helm-test.mjs'), 'utf8')], {
      encoding: 'utf8',
      timeout: 30_000,
      env: {
        PATH: process.env.PATH,
        WEBHOOK_HEALTH_URL: `http://${webhookHealth}/healthz`,
        WEBHOOK_MUTATE_URL: `https://127.0.0.1:${webhookPort}/mutate`,
        WEBHOOK_SERVER_NAME: 'other.example.svc',
        WEBHOOK_CA_FILE: join(dir, 'ca.crt'),
      },
    });
    expect(wrongName.status).toBe(1);
    expect(wrongName.stderr).toMatch(/FAILED: .*(altnames|other\.example\.svc)/);
  });

  it('finds the webhook’s admission series, by result', async () => {
    const review = (uid: string, metadata: Record<string, unknown>, spec: Record<string, unknown>) => ({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid,
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        namespace: 'apps',
        operation: 'CREATE',
        userInfo: { username: 'test' },
        object: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { generateName: 'p-', namespace: 'apps', ...metadata },
          spec: { containers: [{ name: 'app', image: 'busybox' }], ...spec },
        },
      },
    });
    // a pod that did not opt in is skipped; an opted-in pod on the host network is denied (no API call needed for either)
    const skippedAnswer = await admit(webhookPort, caPem, review('7b1b2c2e-0000-4000-8000-000000000001', {}, {}));
    expect(skippedAnswer.status).toBe(200);
    expect(JSON.parse(skippedAnswer.body).response).toMatchObject({ uid: '7b1b2c2e-0000-4000-8000-000000000001', allowed: true });
    const denied = await admit(
      webhookPort,
      caPem,
      review('7b1b2c2e-0000-4000-8000-000000000002', { annotations: { 'entra-sidecar.io/inject': 'true' } }, { hostNetwork: true }),
    );
    expect(denied.status).toBe(200);
    expect(JSON.parse(denied.body).response.allowed).toBe(false);
    const skipped = await found(`entra_sidecar_webhook_admissions_total{job="${RELEASE}",result="skipped"} >= 1`);
    expect(skipped[0]?.metric.namespace).toBe(NAMESPACE);
    await found(`entra_sidecar_webhook_admissions_total{job="${RELEASE}",result="denied"} >= 1`);
    await found(`entra_sidecar_webhook_admission_duration_seconds_count{job="${RELEASE}"} >= 2`);
    await found(`entra_sidecar_webhook_build_info{job="${RELEASE}"}`);
  });

  it('finds the sidecar’s token expiry (equal to the token file’s) and refresh series', async () => {
    const meta = JSON.parse(readFileSync(join(sidecar.tokenDir, 'storage.json'), 'utf8')) as { expires_on: number };
    const expiry = await found('entra_sidecar_token_expiry_timestamp_seconds{job="entra-sidecar-pods",target="storage"}');
    expect(expiry[0]?.metric).toMatchObject({ ...APP_LABELS, target: 'storage' });
    expect(Number(expiry[0]?.value[1])).toBe(meta.expires_on);
    const refreshes = await found('entra_sidecar_refreshes_total{job="entra-sidecar-pods",target="storage",result="success"} >= 1');
    expect(refreshes[0]?.metric).toMatchObject(APP_LABELS);
    await found('entra_sidecar_ready{job="entra-sidecar-pods"} == 1');
    await found('entra_sidecar_federated_token_expiry_timestamp_seconds{job="entra-sidecar-pods"} > time()');
    const up = await found('up == 1');
    expect(up.map((s) => s.metric.job).sort()).toEqual(['entra-sidecar-pods', RELEASE].sort());
  });

  it('loads the chart’s alerting rules; they evaluate without error and nothing fires for a healthy setup', async () => {
    type ApiRule = { name: string; health: string; lastError?: string; state: string; lastEvaluation: string };
    // both targets scraped first, then a rule evaluation after that
    await found(`up{job="${RELEASE}"} == 1`);
    await found('up{job="entra-sidecar-pods"} == 1');
    const since = Date.now() + 1000;
    const loaded = await until('every rule evaluated after both targets were up', async () => {
      const r = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as { data: { groups: { rules: ApiRule[] }[] } };
      const all = r.data.groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((x) => Date.parse(x.lastEvaluation) > since) ? all : undefined;
    });
    expect(loaded.map((r) => r.name).sort()).toEqual(rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort());
    for (const rule of loaded) {
      expect(rule.health, `${rule.name}: ${rule.lastError}`).toBe('ok');
      expect(rule.state, rule.name).toBe('inactive');
    }
  });

  it('lints both expositions with `promtool check metrics`', async () => {
    for (const url of [`${sidecar.health}/metrics`, `http://${webhookHealth}/metrics`]) {
      const text = await (await fetch(url)).text();
      expect(text).toContain('# TYPE entra_sidecar_');
      const r = spawnSync(prom?.promtool as string, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      const problems = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
      expect(problems, url).toEqual([]);
      expect(r.status, url).toBe(0);
      // the linter did read the exposition: a broken one is reported
      const broken = spawnSync(prom?.promtool as string, ['check', 'metrics'], {
        input: `${text}\n# TYPE entra_sidecar_bad counter\nentra_sidecar_bad 1\n`,
        encoding: 'utf8',
      });
      expect(`${broken.stdout}${broken.stderr}`).toContain('entra_sidecar_bad');
    }
  });

  it('has a dashboard and alerts that name only metrics the sidecar and webhook expose', async () => {
    const exposed = new Set(['up']);
    for (const url of [`${sidecar.health}/metrics`, `http://${webhookHealth}/metrics`]) {
      const text = await (await fetch(url)).text();
      for (const m of text.matchAll(/^# TYPE (\S+) (\S+)/gm)) {
        const [name, type] = [m[1] as string, m[2] as string];
        exposed.add(name);
        if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exposed.add(`${name}${s}`);
      }
    }
    const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards', 'entra-sidecar.json'), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
    const expressions = [...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...rules.groups.flatMap((g) => g.rules.map((r) => r.expr))];
    const named = new Set(expressions.flatMap((e) => [...e.matchAll(/\b((?:entra_sidecar|process|nodejs)_[a-z0-9_]+|up)\b/g)].map((m) => m[1] as string)));
    expect([...named].filter((n) => !exposed.has(n))).toEqual([]);
    expect(named.size).toBeGreaterThan(10);
    // and every dashboard query is valid PromQL that Prometheus runs
    for (const expr of dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr))) {
      const promql = expr.replaceAll('$namespace', '.*').replaceAll('$__rate_interval', '1m');
      await expect(query(promql), promql).resolves.toBeDefined();
    }
  });

  it('runs the example app of deploy/example-deployment.yaml against the sidecar: the file and the endpoint', async () => {
    const deployment = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'example-deployment.yaml'), 'utf8'))
      .map((d) => d.toJS() as { kind: string; spec?: { template: { spec: { containers: { args: string[] }[] } } } })
      .find((o) => o.kind === 'Deployment');
    const script = deployment?.spec?.template.spec.containers[0]?.args[0] as string;
    const app = start('example-app', process.execPath, ['--input-type=module', '-e', script], {
      PATH: process.env.PATH,
      IDENTITY_ENDPOINT: `${sidecar.endpoint}/msi/token`,
      IDENTITY_HEADER: sidecar.identityHeader,
      ENTRA_TOKEN_DIR: sidecar.tokenDir,
    });
    try {
      const lines = await until('the example app reports both tokens', async () => (app.lines.some((l) => l.startsWith('endpoint:')) ? app.lines : undefined));
      expect(lines.find((l) => l.startsWith('failed'))).toBeUndefined();
      expect(lines.find((l) => l.startsWith('file:'))).toMatch(/^file: token of \d+ characters, expires \d{4}-\d\d-\d\dT/);
      expect(lines.find((l) => l.startsWith('endpoint:'))).toMatch(/^endpoint: Bearer token for https:\/\/vault\.azure\.net, expires \d{4}-/);
    } finally {
      await stop(app);
    }
  });
});
