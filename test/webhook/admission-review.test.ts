import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allowPatchJson, utf8Base64 } from '../../src/webhook/admission-review.js';

describe('utf8Base64', () => {
  it('is the base64 of the UTF-8 bytes, for any string (non-ASCII, lone surrogates, past the scratch buffer)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string()), (s) => {
        expect(utf8Base64(s)).toBe(Buffer.from(s).toString('base64'));
      }),
      { numRuns: 500 },
    );
    for (const s of ['', 'é'.repeat(30_000), '😀'.repeat(11_000), 'x'.repeat(21_845), 'x'.repeat(21_846), '\ud800']) {
      expect(utf8Base64(s)).toBe(Buffer.from(s).toString('base64'));
    }
  });

  it('a long patch after a short one: nothing of the earlier one is left in the answer', () => {
    const a = utf8Base64('é'.repeat(1000));
    expect(Buffer.from(utf8Base64('ab'), 'base64').toString()).toBe('ab');
    expect(Buffer.from(a, 'base64').toString()).toBe('é'.repeat(1000));
    expect(allowPatchJson('u', '[{"op":"add","path":"/x","value":"ü"}]').response.patch).toBe(
      Buffer.from('[{"op":"add","path":"/x","value":"ü"}]').toString('base64'),
    );
  });
});
