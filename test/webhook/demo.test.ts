import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { runWebhookDemo, samplePod, WEBHOOK_DEMO_HELP } from '../../src/webhook/demo.js';
import { applyJsonPatch, assertValidPod, FIXTURES } from './pod-checks.js';
import type { Pod } from '../../src/webhook/pod.js';

const dir = mkdtempSync(join(tmpdir(), 'webhook-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});

async function capture(argv: string[]): Promise<string> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  });
  try {
    await runWebhookDemo(argv);
  } finally {
    spy.mockRestore();
  }
  return chunks.join('');
}

const patchOf = (out: string) =>
  out
    .split('# ---- JSONPatch')[1]
    ?.split('\n')
    .slice(1)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l)) ?? [];

describe('demo webhook', () => {
  it('shows the sample pod before and after, a summary, and a patch that applies to it', async () => {
    const out = await capture([]);
    expect(out).toContain('# ---- before ----');
    expect(out).toContain('# ---- after ----');
    expect(out).toContain('+ init container entra-sidecar (native sidecar)');
    expect(out).toMatch(
      /~ api: \+env IDENTITY_ENDPOINT, \+env IDENTITY_HEADER, \+env AZURE_CLIENT_ID, \+env ENTRA_TOKEN_DIR, \+mount \/var\/run\/secrets\/entra \(read-only\)/,
    );
    expect(out).toContain('generateName: api-7d9f8b6c5d-');
    const patched = applyJsonPatch(samplePod(), patchOf(out));
    assertValidPod(patched);
    expect(patched.spec.initContainers?.[0]?.name).toBe('entra-sidecar');
  });

  it('takes a Deployment YAML file and uses its pod template; --mode container and --json', async () => {
    const file = join(dir, 'deploy.yaml');
    writeFileSync(
      file,
      `apiVersion: apps/v1
kind: Deployment
metadata:
  name: reports
  namespace: finance
spec:
  selector: { matchLabels: { app: reports } }
  template:
    metadata:
      labels: { app: reports }
      annotations:
        entra-sidecar.io/inject: "true"
        entra-sidecar.io/tokens: graph=https://graph.microsoft.com/.default
    spec:
      serviceAccountName: reports
      containers:
        - name: reports
          image: ghcr.io/example/reports:1
`,
    );
    const out = await capture([file, '--mode', 'container', '--json']);
    expect(out).toContain('# ServiceAccount finance/reports (assumed)');
    expect(out).toContain('"generateName": "reports-"');
    expect(out).toContain('+ init container entra-sidecar-init (sidecar --once)');
    expect(out).toContain('+ container entra-sidecar (sidecar)');
  });

  it('takes a JSON pod file; a denied pod prints the reason and sets exit code 1', async () => {
    const out = await capture([join(FIXTURES, 'pods', 'host-network-pod.json')]);
    expect(out).toContain('# ---- result: denied ----');
    expect(out).toContain('hostNetwork');
    expect(process.exitCode).toBe(1);
  });

  it('says how to opt in when the pod does not', async () => {
    const out = await capture([join(FIXTURES, 'pods', 'not-opted-in-pod.json')]);
    expect(out).toContain('result: not injected');
    expect(out).toContain('entra-sidecar.io/inject: "true"');
  });

  it('bad input is a ConfigError with one clear line', async () => {
    await expect(runWebhookDemo([join(dir, 'missing.yaml')])).rejects.toThrow(/could not be read: ENOENT/);
    const notPod = join(dir, 'svc.yaml');
    writeFileSync(notPod, 'apiVersion: v1\nkind: Service\nmetadata: { name: x }\nspec: { ports: [] }\n');
    await expect(runWebhookDemo([notPod])).rejects.toThrow(ConfigError);
    await expect(runWebhookDemo(['--mode', 'x'])).rejects.toThrow('--mode must be native or container');
    await expect(runWebhookDemo(['--bogus'])).rejects.toThrow(ConfigError);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, JSON.stringify({ kind: 'Pod', spec: { containers: [] } } satisfies Partial<Pod>));
    await expect(runWebhookDemo([broken])).rejects.toThrow('spec.containers must not be empty');
  });

  it('--help', async () => {
    expect(await capture(['--help'])).toBe(`${WEBHOOK_DEMO_HELP}\n`);
  });
});
