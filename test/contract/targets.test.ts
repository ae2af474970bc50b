import { describe, expect, it } from 'vitest';
import { parseTargets } from '../../src/contract/targets.js';

describe('token targets (entra-sidecar.io/tokens, ENTRA_SIDECAR_TOKENS)', () => {
  it('name=scope pairs, trimmed, empty entries ignored; the pod annotation and the sidecar env both go through it', () => {
    expect(parseTargets(' storage = https://storage.azure.com/.default , ,pg=https://ossrdbms-aad.database.windows.net/.default')).toEqual({
      targets: [
        { name: 'storage', scope: 'https://storage.azure.com/.default' },
        { name: 'pg', scope: 'https://ossrdbms-aad.database.windows.net/.default' },
      ],
    });
    expect(parseTargets('')).toEqual({ targets: [] });
    expect(parseTargets('x.json=https://a/.default')).toHaveProperty('problem');
    expect(parseTargets('.hidden=https://a/.default')).toHaveProperty('problem');
    // the sidecar's own parser: a scope it would refuse at start is refused at admission
    expect(parseTargets('storage=not a scope')).toHaveProperty('problem');
    expect(parseTargets('storage=https://storage.azure.com/')).toEqual({ targets: [{ name: 'storage', scope: 'https://storage.azure.com/.default' }] });
    expect(parseTargets(Array.from({ length: 33 }, (_, i) => `t${i}=https://r${i}.example/.default`).join(','))).toEqual({
      problem: 'has 33 targets; at most 32 are allowed',
    });
  });
});
