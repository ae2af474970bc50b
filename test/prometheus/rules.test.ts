import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ensureHelm, ensurePrometheus, helmTemplate, NAMESPACE, only, RELEASE, ROOT } from '../chart/tools.js';

/**
 * The alerting rules the chart ships, checked by the real promtool: `promtool check rules` on the
 * PrometheusRule's groups (and on deploy/prometheus-rules.yaml), and `promtool test rules` with
 * synthetic series proving every alert fires when it should — with the labels and text a person
 * on call reads — and stays quiet when things are healthy.
 */

const helmTools = ensureHelm();
const prom = ensurePrometheus();
const dir = mkdtempSync(join(tmpdir(), 'entra-rules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Group {
  name: string;
  rules: Rule[];
}

function renderRules(values: Record<string, unknown> = {}): Group[] {
  const r = helmTemplate(helmTools?.helm as string, { 'monitoring.prometheusRule.enabled': true, ...values }, ['--show-only', 'templates/prometheusrule.yaml']);
  if (r.status !== 0) throw new Error(r.stderr);
  return only<{ spec: { groups: Group[] } }>(r.objects, 'PrometheusRule').spec.groups;
}

function promtool(args: string[]) {
  return spawnSync(prom?.promtool as string, args, { encoding: 'utf8', cwd: dir, timeout: 60_000 });
}

const APP = { namespace: 'apps', pod: 'api-7d9f-1' };
const WEBHOOK = { namespace: NAMESPACE, job: RELEASE };

interface Case {
  alert: string;
  /** series (Prometheus test notation) that should make the alert fire */
  series: { series: string; values: string }[];
  at: string;
  /** labels of each expected alert (severity is added from the rule) */
  fires: Record<string, string>[];
  /** an earlier time at which nothing fires yet (still pending or not yet true) */
  quietAt?: string;
}

const labels = (l: Record<string, string>) =>
  `{${Object.entries(l)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;

const CASES: Case[] = [
  {
    alert: 'EntraSidecarTokenExpiringSoon',
    series: [
      // expires at t=1500 s: under 10 minutes left from t=900 s on
      { series: `entra_sidecar_token_expiry_timestamp_seconds${labels({ ...APP, target: 'storage' })}`, values: '1500+0x30' },
      // healthy: refreshed tokens keep over 50 minutes
      { series: `entra_sidecar_token_expiry_timestamp_seconds${labels({ ...APP, target: 'vault' })}`, values: '4500+60x30' },
      // no token yet (0) is NotReady's business, not an expiring token
      { series: `entra_sidecar_token_expiry_timestamp_seconds${labels({ namespace: 'apps', pod: 'api-new', target: 'storage' })}`, values: '0x30' },
    ],
    at: '20m',
    fires: [{ ...APP, target: 'storage' }],
    quietAt: '14m',
  },
  {
    alert: 'EntraSidecarCredentialExpiringSoon',
    series: [
      // the client certificate's notAfter is 30 days and 10 minutes away at t=0: inside the 30-day threshold from t=10m on
      { series: `entra_sidecar_credential_expiry_timestamp_seconds${labels(APP)}`, values: '2592600x40' },
      // a certificate good for a year
      { series: `entra_sidecar_credential_expiry_timestamp_seconds${labels({ namespace: 'apps', pod: 'web-1' })}`, values: '31536000x40' },
    ],
    at: '25m',
    fires: [APP],
    quietAt: '15m',
  },
  {
    alert: 'EntraSidecarRefreshFailing',
    series: [
      // every refresh fails (backoff retries once a minute)
      { series: `entra_sidecar_refreshes_total${labels({ ...APP, target: 'storage', result: 'failure' })}`, values: '0+1x30' },
      { series: `entra_sidecar_refreshes_total${labels({ ...APP, target: 'storage', result: 'success' })}`, values: '3+0x30' },
      // a flaky target that still succeeds is not "failing"
      { series: `entra_sidecar_refreshes_total${labels({ ...APP, target: 'vault', result: 'failure' })}`, values: '0+1x30' },
      { series: `entra_sidecar_refreshes_total${labels({ ...APP, target: 'vault', result: 'success' })}`, values: '0+1x30' },
      // healthy
      { series: `entra_sidecar_refreshes_total${labels({ namespace: 'apps', pod: 'web-1', target: 'storage', result: 'success' })}`, values: '0+1x30' },
    ],
    at: '12m',
    fires: [{ ...APP, target: 'storage' }],
    quietAt: '4m',
  },
  {
    alert: 'EntraSidecarNotReady',
    series: [
      { series: `entra_sidecar_ready${labels(APP)}`, values: '0x30' },
      { series: `entra_sidecar_ready${labels({ namespace: 'apps', pod: 'web-1' })}`, values: '1x30' },
    ],
    at: '15m',
    fires: [APP],
    quietAt: '8m',
  },
  {
    alert: 'EntraSidecarWebhookErrors',
    series: [
      { series: `entra_sidecar_webhook_admissions_total${labels({ ...WEBHOOK, pod: 'w-1', result: 'error' })}`, values: '0+2x30' },
      { series: `entra_sidecar_webhook_admissions_total${labels({ ...WEBHOOK, pod: 'w-1', result: 'injected' })}`, values: '0+10x30' },
    ],
    at: '12m',
    fires: [WEBHOOK],
    quietAt: '4m',
  },
  {
    alert: 'EntraSidecarWebhookDenials',
    series: [
      // a ReplicaSet retrying a pod without a client id, summed over both replicas
      { series: `entra_sidecar_webhook_admissions_total${labels({ ...WEBHOOK, pod: 'w-1', result: 'denied' })}`, values: '0+1x40' },
      { series: `entra_sidecar_webhook_admissions_total${labels({ ...WEBHOOK, pod: 'w-2', result: 'denied' })}`, values: '0+1x40' },
    ],
    at: '25m',
    fires: [WEBHOOK],
    quietAt: '10m',
  },
  {
    alert: 'EntraSidecarWebhookSlow',
    series: [
      // every admission takes between 2.5 s and 5 s
      { series: `entra_sidecar_webhook_admission_duration_seconds_bucket${labels({ ...WEBHOOK, pod: 'w-1', le: '0.5' })}`, values: '0+0x30' },
      { series: `entra_sidecar_webhook_admission_duration_seconds_bucket${labels({ ...WEBHOOK, pod: 'w-1', le: '2.5' })}`, values: '0+0x30' },
      { series: `entra_sidecar_webhook_admission_duration_seconds_bucket${labels({ ...WEBHOOK, pod: 'w-1', le: '5' })}`, values: '0+10x30' },
      { series: `entra_sidecar_webhook_admission_duration_seconds_bucket${labels({ ...WEBHOOK, pod: 'w-1', le: '+Inf' })}`, values: '0+10x30' },
    ],
    at: '20m',
    fires: [WEBHOOK],
    quietAt: '5m',
  },
  {
    alert: 'EntraSidecarWebhookDown',
    series: [
      { series: `up${labels({ ...WEBHOOK, instance: '10.0.0.1:8080', pod: 'w-1' })}`, values: '0x10' },
      { series: `up${labels({ ...WEBHOOK, instance: '10.0.0.2:8080', pod: 'w-2' })}`, values: '0x10' },
    ],
    at: '5m',
    fires: [WEBHOOK],
    quietAt: '1m',
  },
];

/** Healthy series for every alert at once: nothing may fire. */
const HEALTHY = [
  { series: `entra_sidecar_token_expiry_timestamp_seconds${labels({ ...APP, target: 'storage' })}`, values: '3600+60x40' },
  { series: `entra_sidecar_refreshes_total${labels({ ...APP, target: 'storage', result: 'success' })}`, values: '0+1x40' },
  { series: `entra_sidecar_ready${labels(APP)}`, values: '1x40' },
  { series: `entra_sidecar_credential_expiry_timestamp_seconds${labels(APP)}`, values: '31536000x40' },
  { series: `entra_sidecar_webhook_admissions_total${labels({ ...WEBHOOK, pod: 'w-1', result: 'injected' })}`, values: '0+5x40' },
  { series: `entra_sidecar_webhook_admissions_total${labels({ ...WEBHOOK, pod: 'w-1', result: 'skipped' })}`, values: '0+50x40' },
  { series: `entra_sidecar_webhook_admission_duration_seconds_bucket${labels({ ...WEBHOOK, pod: 'w-1', le: '0.5' })}`, values: '0+55x40' },
  { series: `entra_sidecar_webhook_admission_duration_seconds_bucket${labels({ ...WEBHOOK, pod: 'w-1', le: '+Inf' })}`, values: '0+55x40' },
  // one replica down, one up: not "down"
  { series: `up${labels({ ...WEBHOOK, instance: '10.0.0.1:8080', pod: 'w-1' })}`, values: '0x40' },
  { series: `up${labels({ ...WEBHOOK, instance: '10.0.0.2:8080', pod: 'w-2' })}`, values: '1x40' },
];

/** Renders the `{{ $labels.x }}` placeholders the rules use (and refuses any other template). */
function renderAnnotation(template: string, l: Record<string, string>): string {
  const rendered = template.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, k: string) => l[k] ?? '');
  if (rendered.includes('{{')) throw new Error(`annotation uses a template this test cannot render: ${template}`);
  return rendered;
}

describe.skipIf(!helmTools || !prom)('alerting rules (PrometheusRule) with the real promtool', () => {
  const groups = helmTools && prom ? renderRules() : [];
  const rules = groups.flatMap((g) => g.rules);

  it('pass `promtool check rules`, as rendered and as shipped in deploy/', () => {
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups }));
    const r = promtool(['check', 'rules', 'rules.yaml']);
    expect(r.stderr + r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.status).toBe(0);
    const shipped = promtool(['check', 'rules', join(ROOT, 'deploy', 'prometheus-rules.yaml')]);
    expect(shipped.status, shipped.stderr + shipped.stdout).toBe(0);
  });

  it('cover the four required conditions, each with a severity, a summary and a description', () => {
    expect(CASES.map((c) => c.alert).sort()).toEqual(rules.map((r) => r.alert).sort());
    for (const rule of rules) {
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
    }
    expect(rules.find((r) => r.alert === 'EntraSidecarTokenExpiringSoon')?.expr).toContain('< 600');
    expect(rules.find((r) => r.alert === 'EntraSidecarRefreshFailing')?.for).toBe('5m');
    expect(rules.find((r) => r.alert === 'EntraSidecarCredentialExpiringSoon')?.expr).toContain('< 2592000');
  });

  it.each(CASES)('$alert fires on its synthetic series, and not before its `for` has passed', (c) => {
    const rule = rules.find((r) => r.alert === c.alert) as Rule;
    const expected = c.fires.map((l) => {
      const all = { ...l, ...(rule.labels ?? {}) };
      return {
        exp_labels: all,
        exp_annotations: Object.fromEntries(Object.entries(rule.annotations ?? {}).map(([k, v]) => [k, renderAnnotation(v, all)])),
      };
    });
    const alertTests = [{ eval_time: c.at, alertname: c.alert, exp_alerts: expected }];
    if (c.quietAt) alertTests.push({ eval_time: c.quietAt, alertname: c.alert, exp_alerts: [] });
    const file = `test-${c.alert}.yaml`;
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups }));
    writeFileSync(
      join(dir, file),
      stringify({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests: [{ interval: '1m', input_series: c.series, alert_rule_test: alertTests }] }),
    );
    const r = promtool(['test', 'rules', file]);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('stay quiet when everything is healthy (one of two webhook replicas down included)', () => {
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups }));
    const tests = ['10m', '20m', '39m'].flatMap((t) => rules.map((rule) => ({ eval_time: t, alertname: rule.alert, exp_alerts: [] })));
    writeFileSync(
      join(dir, 'test-healthy.yaml'),
      stringify({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests: [{ interval: '1m', input_series: HEALTHY, alert_rule_test: tests }] }),
    );
    const r = promtool(['test', 'rules', 'test-healthy.yaml']);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('would catch a wrong expectation (the harness can fail)', () => {
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups }));
    const c = CASES[0] as Case;
    const wrong = [{ eval_time: c.at, alertname: c.alert, exp_alerts: [] }];
    writeFileSync(
      join(dir, 'test-wrong.yaml'),
      stringify({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests: [{ interval: '1m', input_series: c.series, alert_rule_test: wrong }] }),
    );
    const r = promtool(['test', 'rules', 'test-wrong.yaml']);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('FAILED');
  });

  it('follows the threshold value: a 5 minute threshold does not fire at 6 minutes left', () => {
    const custom = renderRules({ 'monitoring.prometheusRule.tokenExpiryThresholdSeconds': 300 });
    const rule = custom.flatMap((g) => g.rules).find((r) => r.alert === 'EntraSidecarTokenExpiringSoon') as Rule;
    expect(rule.expr).toContain('< 300');
    expect(rule.annotations?.summary).toContain('less than 5 minutes');
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: custom }));
    // 1500 - 1140 = 360 s left at 19m
    const tests = [{ eval_time: '19m', alertname: 'EntraSidecarTokenExpiringSoon', exp_alerts: [] }];
    writeFileSync(
      join(dir, 'test-threshold.yaml'),
      stringify({
        rule_files: ['rules.yaml'],
        evaluation_interval: '1m',
        tests: [{ interval: '1m', input_series: (CASES[0] as Case).series, alert_rule_test: tests }],
      }),
    );
    const r = promtool(['test', 'rules', 'test-threshold.yaml']);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
  });
});
