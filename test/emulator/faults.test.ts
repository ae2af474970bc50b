import { describe, expect, it } from 'vitest';
import { entraError, entraInstant } from '../../src/emulator/entra-errors.js';
import { FaultSchedule, parseFault, parseScheduleOptions } from '../../src/emulator/faults.js';

describe('FaultSchedule', () => {
  it('applies a fault once by default, and `count` times when given', () => {
    const s = new FaultSchedule(() => 0);
    s.add({ kind: 'reset' });
    expect(s.take('a')).toEqual({ kind: 'reset' });
    expect(s.take('a')).toBeUndefined();
    s.add({ kind: 'hang' }, { count: 3 });
    expect([s.take('a'), s.take('b'), s.take('c'), s.take('d')].map((f) => f?.kind)).toEqual(['hang', 'hang', 'hang', undefined]);
  });

  it('applies a duration fault to every response until it expires', () => {
    let now = 1000;
    const s = new FaultSchedule(() => now);
    s.add({ kind: 'status', status: 503 }, { durationMs: 500 });
    for (let i = 0; i < 10; i++) expect(s.take('x')?.kind).toBe('status');
    now = 1499;
    expect(s.take('x')?.kind).toBe('status');
    now = 1500;
    expect(s.take('x')).toBeUndefined();
    expect(s.size).toBe(0);
  });

  it('ends a fault with both count and duration at whichever comes first', () => {
    let now = 0;
    const s = new FaultSchedule(() => now);
    s.add({ kind: 'reset' }, { count: 2, durationMs: 100 });
    expect(s.take('x')).toBeDefined();
    now = 100;
    expect(s.take('x')).toBeUndefined();
  });

  it('says when the faults of a scope have ended: a count used up, a duration over (by itself), or cleared', async () => {
    const s = new FaultSchedule();
    const state = (p: Promise<void>) => {
      const st = { ended: false };
      void p.then(() => {
        st.ended = true;
      });
      return st;
    };
    const settle = () => new Promise((r) => setImmediate(r));
    // a count fault: ended once used up
    s.add({ kind: 'reset' }, { scope: 'a', count: 2 });
    const a = state(s.ended('a'));
    await expect(s.ended('b')).resolves.toBeUndefined(); // another scope has none
    s.take('a');
    await settle();
    expect(a.ended).toBe(false);
    s.take('a');
    await settle();
    expect(a.ended).toBe(true);
    // a duration fault ends by itself, without a request
    const added = Date.now();
    s.add({ kind: 'status', status: 503 }, { scope: 'a', durationMs: 40 });
    await s.ended('a');
    expect(Date.now() - added).toBeGreaterThanOrEqual(39);
    expect(s.take('a')).toBeUndefined();
    // an unscoped fault applies to every scope until cleared
    s.add({ kind: 'hang' }, { count: 5 });
    const c = state(s.ended('c'));
    await settle();
    expect(c.ended).toBe(false);
    s.clear();
    await settle();
    expect(c.ended).toBe(true);
  });

  it('applies a scoped fault only to its scope, oldest fault first', () => {
    const s = new FaultSchedule(() => 0);
    s.add({ kind: 'hang' }, { scope: 'https://a/.default' });
    s.add({ kind: 'reset' });
    expect(s.take('https://b/.default')?.kind).toBe('reset');
    expect(s.take('https://b/.default')).toBeUndefined();
    expect(s.take('https://a/.default')?.kind).toBe('hang');
    s.add({ kind: 'hang' });
    s.clear();
    expect(s.take('x')).toBeUndefined();
  });
});

describe('parseFault (admin API input)', () => {
  it('accepts every fault kind', () => {
    expect(parseFault({ kind: 'status', status: 502, body: 'x', headers: { a: 'b' } })).toEqual({
      kind: 'status',
      status: 502,
      body: 'x',
      headers: { a: 'b' },
    });
    expect(parseFault({ kind: 'aadsts', code: 70021 })).toEqual({ kind: 'aadsts', code: 70021 });
    expect(parseFault({ kind: 'retry-after', seconds: 5 })).toEqual({ kind: 'retry-after', seconds: 5, status: undefined });
    expect(parseFault({ kind: 'delay', ms: 10 })).toEqual({ kind: 'delay', ms: 10 });
    expect(parseFault({ kind: 'html', status: 504 })).toEqual({ kind: 'html', status: 504 });
    for (const kind of ['hang', 'reset', 'malformed-json']) expect(parseFault({ kind })).toEqual({ kind });
  });

  it('names the problem in bad input', () => {
    expect(() => parseFault(null)).toThrow('fault must be an object');
    expect(() => parseFault({ kind: 'status' })).toThrow('fault.status must be a whole number between 100 and 599');
    expect(() => parseFault({ kind: 'delay', ms: -1 })).toThrow('fault.ms');
    expect(() => parseFault({ kind: 'status', status: 500, headers: { a: 1 } })).toThrow('fault.headers');
    expect(() => parseScheduleOptions({ count: 0 })).toThrow('count must be a whole number of at least 1');
    expect(() => parseScheduleOptions({ durationMs: 'long' })).toThrow('durationMs');
  });
});

describe('Entra error text', () => {
  it('prints instants with seven fractional digits and the timestamp without them', () => {
    expect(entraInstant(Date.UTC(2024, 9, 2, 22, 5, 3, 675))).toBe('2024-10-02T22:05:03.6750000Z');
    const { body } = entraError(700024, { notBefore: 0, expiry: 1_700_000_000 }, { nowMs: Date.UTC(2023, 10, 14, 22, 13, 20), baseUrl: 'https://h' });
    expect(body.timestamp).toBe('2023-11-14 22:13:20Z');
    expect(body.error_description).toContain(
      'Current time: 2023-11-14T22:13:20.0000000Z, assertion valid from 1970-01-01T00:00:00.0000000Z, expiry time of assertion 2023-11-14T22:13:20.0000000Z.',
    );
  });

  it('gives unknown codes a generic invalid_request', () => {
    const { status, body } = entraError(123456, {}, { nowMs: 0, baseUrl: 'https://h' });
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_request');
    expect(body.error_description).toMatch(/^AADSTS123456: /);
    expect(body.error_uri).toBe('https://h/error?code=123456');
  });
});
