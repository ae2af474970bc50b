import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mutatePod } from '../../src/webhook/mutate.js';
import { createJsonPatch, serializePatch } from '../../src/webhook/patch.js';
import { checkPodShape } from '../../src/webhook/pod.js';
import { podArbitrary, serviceAccountArbitrary, settingsArbitrary } from './arbitraries.js';
import { applyJsonPatch, applyJsonPatchStrictly, assertValidPod, deepFreeze, secretSequence } from './pod-checks.js';

const RUNS = { seed: Number(process.env.PROP_SEED ?? 20250611), numRuns: Number(process.env.PROP_RUNS ?? 400) };

describe('mutation properties over random pods', () => {
  it('the generator makes valid pods (so the properties below mean something)', () => {
    fc.assert(
      fc.property(podArbitrary, (pod) => {
        expect(checkPodShape(pod)).toBeUndefined();
        assertValidPod(pod);
      }),
      { ...RUNS, numRuns: 100 },
    );
  });

  it('never throws; every patch applies cleanly and yields a valid pod; a second pass is a no-op', () => {
    const seen = { mutated: 0, denied: 0, skipped: 0 };
    fc.assert(
      fc.property(podArbitrary, serviceAccountArbitrary, settingsArbitrary, (pod, sa, s) => {
        const before = structuredClone(pod);
        const out = mutatePod(deepFreeze(pod), sa, s, secretSequence());
        expect(pod).toEqual(before);
        seen[out.kind]++;
        if (out.kind === 'denied') {
          expect(out.message).toMatch(/^(entra-sidecar cannot inject this pod: |pods with hostNetwork)/);
          return;
        }
        if (out.kind === 'skipped') return;
        const patch = createJsonPatch(pod, out.pod);
        const patched = applyJsonPatch(pod, patch);
        expect(patched).toEqual(out.pod);
        // the patch recorded while mutating (the one the webhook sends) yields the same pod
        expect(applyJsonPatchStrictly(pod, out.patch)).toEqual(out.pod);
        expect(out.patch.length === 0).toBe(patch.length === 0);
        // and its JSON, with the parts serialised once for many pods, is JSON.stringify's
        expect(serializePatch(out.patch)).toBe(JSON.stringify(out.patch));
        assertValidPod(patched);
        const again = mutatePod(deepFreeze(structuredClone(patched)), sa, s, secretSequence());
        expect(again.kind).toBe('mutated');
        if (again.kind === 'mutated') expect(createJsonPatch(patched, again.pod)).toEqual([]);
        if (again.kind === 'mutated') expect(again.patch).toEqual([]);
      }),
      RUNS,
    );
    // the random pods exercise every outcome, not just denials (pods that name a container
    // entra-sidecar without the webhook's work are denied as forgeries, so fewer are mutated)
    expect(seen.mutated).toBeGreaterThan(30);
    expect(seen.denied).toBeGreaterThan(40);
    expect(seen.skipped).toBeGreaterThan(40);
  });
});
