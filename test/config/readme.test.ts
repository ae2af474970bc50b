import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SIDECAR_OPTIONS } from '../../src/config/sidecar.js';

describe("the README's configuration table", () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  it.each(SIDECAR_OPTIONS.map((o) => [o.env ?? '—', o.flag]))('has a row for %s (--%s)', (env, flag) => {
    const row = readme.split('\n').find((l) => l.startsWith(`| ${env === '—' ? '—' : `\`${env}\``} | \`--${flag}\` |`));
    expect(row, `README.md: add a row | \`${env}\` | \`--${flag}\` | … to the Configuration table`).toBeDefined();
  });
});
