import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ANNOTATION,
  ANNOTATION_RECORDS,
  ANNOTATION_REFERENCE,
  checkMountPath,
  isOptedIn,
  parseInjectionOptions,
  parseSkipContainers,
  renderAnnotationTable,
} from '../../src/webhook/annotations.js';
import { parseWebhookSettings } from '../../src/webhook/options.js';
import { parseQuantity } from '../../src/webhook/quantity.js';
import { createServiceAccountLookup } from '../../src/webhook/service-accounts.js';

describe('annotation parsers', () => {
  it('inject: only "true", any case, counts', () => {
    expect(isOptedIn({ 'entra-sidecar.io/inject': ' TRUE ' })).toBe(true);
    expect(isOptedIn({ 'entra-sidecar.io/inject': 'false' })).toBe(false);
    expect(isOptedIn({ 'entra-sidecar.io/inject': 'yes' })).toBe(false);
    expect(isOptedIn(undefined)).toBe(false);
  });

  it('skip-containers: "," and ";" separated', () => {
    expect([...parseSkipContainers('a, b;c;;')]).toEqual(['a', 'b', 'c']);
  });

  it('mount paths', () => {
    expect(checkMountPath('/var/run/secrets/entra')).toBeUndefined();
    expect(checkMountPath('/')).toBeDefined();
    expect(checkMountPath('/a//b')).toBeDefined();
    expect(checkMountPath('/a/./b')).toBeDefined();
    expect(checkMountPath('/var/run/secrets')).toContain('must not overlap');
    expect(checkMountPath('/var/run/secrets/entra-sidecar/x')).toContain('must not overlap');
  });

  it('quantities', () => {
    expect(parseQuantity('48Mi')).toBe(48 * 2 ** 20);
    expect(parseQuantity('10m')).toBeCloseTo(0.01);
    expect(parseQuantity('1.5')).toBe(1.5);
    expect(parseQuantity('128M')).toBe(128e6);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('-1')).toBeUndefined();
    expect(parseQuantity('1 Mi')).toBeUndefined();
    expect(parseQuantity('Mi')).toBeUndefined();
  });

  it('the README table has one row per annotation', () => {
    const table = renderAnnotationTable();
    for (const a of ANNOTATION_REFERENCE) expect(table).toContain(`| \`${a.key}\` |`);
    expect(table.split('\n')).toHaveLength(ANNOTATION_REFERENCE.length + 2);
  });

  it('README.md holds exactly the table rendered from the annotation records (regenerate it from renderAnnotationTable())', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(renderAnnotationTable());
  });
});

describe('ServiceAccount lookup grace period (fake clock)', () => {
  it('retries a missing ServiceAccount for 2 s by default, every 200 ms', async () => {
    let now = 0;
    const reads: number[] = [];
    const lookup = createServiceAccountLookup(
      {
        read: async () => {
          reads.push(now);
          return null;
        },
      },
      { now: () => now, sleep: async (ms) => void (now += ms) },
    );
    expect(await lookup.get('ns', 'sa')).toBeNull();
    expect(reads[0]).toBe(0);
    expect(reads.at(-1)).toBeLessThanOrEqual(2000);
    expect(reads.length).toBeGreaterThanOrEqual(10);
    expect(now).toBeLessThanOrEqual(2000);
  });

  it('does not cache a missing ServiceAccount', async () => {
    let exists = false;
    const lookup = createServiceAccountLookup({ read: async () => (exists ? { namespace: 'ns', name: 'sa', annotations: {} } : null) }, { graceMs: 0 });
    expect(await lookup.get('ns', 'sa')).toBeNull();
    exists = true;
    expect(await lookup.get('ns', 'sa')).not.toBeNull();
  });
});

describe('one record per annotation (issue 10, item 2)', () => {
  const settings = {
    ...parseWebhookSettings(['--sidecar-image', 'ghcr.io/x/entra-sidecar:1', '--tls-cert-file', '/c', '--tls-key-file', '/k'], {}).sidecar,
    mode: 'native' as const,
  };
  const sa = {
    namespace: 'ns',
    name: 'sa',
    annotations: {
      'azure.workload.identity/client-id': '3f2504e0-4f89-41d3-9a0c-0305e82c3301',
      'azure.workload.identity/tenant-id': '72f988bf-86f1-41af-91ab-2d7cd011db47',
    },
  };
  const bad: Partial<Record<keyof typeof ANNOTATION_RECORDS, string>> = {
    tokens: 'no scope here',
    tokenExpiration: '60',
    mode: 'sidecar',
    port: '80',
    mountPath: '/',
    cpuRequest: 'lots',
    memoryRequest: '-1Mi',
    memoryLimit: 'x',
    injectEnv: 'yes',
    msiEndpoint: 'maybe',
  };

  it('every key of ANNOTATION has its record, and the README table is rendered from them', () => {
    expect(Object.keys(ANNOTATION_RECORDS).sort()).toEqual(Object.keys(ANNOTATION).sort());
    for (const [name, r] of Object.entries(ANNOTATION_RECORDS)) expect(r.key).toBe(ANNOTATION[name as keyof typeof ANNOTATION]);
    expect(ANNOTATION_REFERENCE).toEqual(Object.values(ANNOTATION_RECORDS));
  });

  it('every record with a parser denies a bad value with a problem naming its annotation, through parseInjectionOptions', () => {
    const withParser = Object.entries(ANNOTATION_RECORDS)
      .filter(([, r]) => 'parse' in r)
      .map(([name]) => name);
    expect(withParser.filter((n) => n !== 'skipContainers').sort()).toEqual(Object.keys(bad).sort());
    for (const [name, value] of Object.entries(bad)) {
      const key = ANNOTATION[name as keyof typeof ANNOTATION];
      const r = parseInjectionOptions({ 'entra-sidecar.io/inject': 'true', [key]: value as string }, sa, settings, 'Always');
      expect(r.ok, name).toBe(false);
      if (!r.ok) expect(r.problems.join('\n'), name).toMatch(new RegExp(`annotation ${key.replace(/[./]/g, '\\$&')} `));
    }
  });
});
