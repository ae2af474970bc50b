import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The import rule of the tree: the webhook and the sidecar share only `src/contract/` (and the
 * generic config, log and metrics helpers); neither reaches into the other's modules, and the
 * contract depends on nothing of either.
 */
const SRC = resolve(import.meta.dirname, '..', '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative import of a module, as a path under src/ without extension. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map(
    (m) => m[1] ?? m[2] ?? '',
  );
  return specs.filter((s) => s.startsWith('.')).map((s) => relative(SRC, resolve(dirname(file), s)).replace(/\.js$/, ''));
}

const SIDECAR_SIDE = (m: string) => m.startsWith('sidecar/') || m.startsWith('identity/') || m === 'config/sidecar';
const WEBHOOK_SIDE = (m: string) => m.startsWith('webhook/');

function violations(): string[] {
  const out: string[] = [];
  for (const file of files(SRC)) {
    const me = relative(SRC, file).replace(/\.ts$/, '');
    for (const dep of importsOf(file)) {
      if (WEBHOOK_SIDE(me) && SIDECAR_SIDE(dep)) out.push(`${me} imports ${dep} (the webhook may share only src/contract with the sidecar)`);
      if (SIDECAR_SIDE(me) && WEBHOOK_SIDE(dep)) out.push(`${me} imports ${dep} (the sidecar may share only src/contract with the webhook)`);
      if (me.startsWith('contract/') && !dep.startsWith('contract/')) out.push(`${me} imports ${dep} (the contract depends on nothing)`);
    }
  }
  return out;
}

describe('import boundaries', () => {
  it('webhook and sidecar meet only in src/contract', () => {
    expect(violations()).toEqual([]);
  });

  it('the check sees imports (it finds the contract imported from both sides)', () => {
    const all = files(SRC).flatMap((f) => importsOf(f).map((d) => [relative(SRC, f), d] as const));
    expect(all.some(([f, d]) => f.startsWith('webhook/') && d.startsWith('contract/'))).toBe(true);
    expect(all.some(([f, d]) => f.startsWith('config/') && d.startsWith('contract/'))).toBe(true);
  });
});
