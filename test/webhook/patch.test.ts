import fjp from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { createJsonPatch } from '../../src/webhook/patch.js';
import { applyJsonPatch, assertValidPod, loadPod } from './pod-checks.js';

const roundTrip = (a: unknown, b: unknown) => {
  const patch = createJsonPatch(a, b);
  expect(applyJsonPatch(a, patch)).toEqual(b);
  return patch;
};

describe('createJsonPatch', () => {
  it('is empty for equal documents, whatever the key order', () => {
    expect(createJsonPatch({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toEqual([]);
  });

  it('escapes "/" and "~" in keys (annotation names)', () => {
    const patch = roundTrip(
      { metadata: { annotations: { 'a~b': 'x' } } },
      { metadata: { annotations: { 'a~b': 'x', 'entra-sidecar.io/status': 'injected' } } },
    );
    expect(patch).toEqual([{ op: 'add', path: '/metadata/annotations/entra-sidecar.io~1status', value: 'injected' }]);
    roundTrip({ 'a~b': 1, 'c/d': 2 }, { 'a~b': 3, 'c/d': 4, 'e~/f': 5 });
  });

  it('inserts into a list of named objects with one add at the right index', () => {
    const patch = roundTrip({ c: [{ name: 'a' }, { name: 'b' }] }, { c: [{ name: 'x' }, { name: 'a', env: [1] }, { name: 'y' }, { name: 'b' }] });
    expect(patch).toEqual([
      { op: 'add', path: '/c/0', value: { name: 'x' } },
      { op: 'add', path: '/c/1/env', value: [1] },
      { op: 'add', path: '/c/2', value: { name: 'y' } },
    ]);
  });

  it('appends to unnamed lists and replaces lists it cannot align', () => {
    expect(roundTrip({ l: [1, 2] }, { l: [1, 2, 3] })).toEqual([{ op: 'add', path: '/l/2', value: 3 }]);
    expect(roundTrip({ l: [1, 2] }, { l: [2, 1] })).toEqual([{ op: 'replace', path: '/l', value: [2, 1] }]);
    roundTrip({ l: [{ name: 'a' }, { name: 'b' }] }, { l: [{ name: 'b' }, { name: 'a' }] });
    roundTrip({ l: [{ name: 'a' }, { name: 'a' }] }, { l: [{ name: 'a' }, { name: 'b' }, { name: 'a' }] });
  });

  it('handles keys named like Object.prototype members', () => {
    const a = JSON.parse('{"labels":{"x":"1"}}');
    const b = JSON.parse('{"labels":{"x":"1","constructor":"c","toString":"t","__proto__":"p","hasOwnProperty":"h"}}');
    const patch = createJsonPatch(a, b);
    expect(patch).toEqual([
      { op: 'add', path: '/labels/constructor', value: 'c' },
      { op: 'add', path: '/labels/toString', value: 't' },
      { op: 'add', path: '/labels/__proto__', value: 'p' },
      { op: 'add', path: '/labels/hasOwnProperty', value: 'h' },
    ]);
    const safe = patch.filter((o) => o.path !== '/labels/__proto__' && o.path !== '/labels/constructor');
    expect(fjp.applyPatch(structuredClone(a), safe, true, false).newDocument).toEqual(JSON.parse('{"labels":{"x":"1","toString":"t","hasOwnProperty":"h"}}'));
    expect(createJsonPatch(b, a).map((o) => o.op)).toEqual(['remove', 'remove', 'remove', 'remove']);
    expect(createJsonPatch(b, JSON.parse(JSON.stringify(b)))).toEqual([]);
  });

  it('removes, replaces scalars and changes types', () => {
    roundTrip({ a: 1, b: 2, c: { d: 1 } }, { a: 2, c: [1] });
    roundTrip({ a: null }, { a: { b: 1 } });
  });
});

describe('the pod checker used by these tests', () => {
  it('rejects what the API server would reject', () => {
    const good = loadPod('deployment-pod');
    expect(() => assertValidPod(good)).not.toThrow();
    const bad = [
      (p: typeof good) => p.spec.containers.push({ name: 'api' }),
      (p: typeof good) => p.spec.containers[0]!.volumeMounts!.push({ name: 'missing', mountPath: '/x' }),
      (p: typeof good) => p.spec.containers[0]!.volumeMounts!.push({ name: 'config', mountPath: '/etc/orders' }),
      (p: typeof good) => (p.spec.containers[0]!.restartPolicy = 'Always'),
      (p: typeof good) => (p.spec.initContainers![0]!.startupProbe = { exec: { command: ['true'] } }),
      (p: typeof good) => p.spec.volumes!.push({ name: 'config', emptyDir: {} }),
      (p: typeof good) => (p.spec.containers[0]!.readinessProbe = { httpGet: { path: '/', port: 'nope' } }),
      (p: typeof good) => (p.spec.containers[0]!.image = 42 as never),
      (p: typeof good) =>
        p.spec.volumes!.push({ name: 'fed', projected: { sources: [{ serviceAccountToken: { audience: 'api://AzureADTokenExchange', path: 't' } }] } }) &&
        p.spec.containers[0]!.volumeMounts!.push({ name: 'fed', mountPath: '/fed' }),
    ];
    for (const edit of bad) {
      const p = structuredClone(good);
      edit(p);
      expect(() => assertValidPod(p)).toThrow();
    }
  });
});
