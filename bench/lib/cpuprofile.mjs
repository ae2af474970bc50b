// Summarises a V8 .cpuprofile: self time per function and per package, and inclusive time of
// functions whose name matches, so "where does the time go" has a number.
import { readFileSync } from 'node:fs';

/** Where a call frame's code lives: a package name, `entra-sidecar`, `node:<x>` or `(v8)`. */
export function ownerOf(url) {
  if (!url) return '(v8/native)';
  if (url.startsWith('node:')) return url;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 14).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.includes('/dist/')) return `entra-sidecar:${url.slice(url.indexOf('/dist/') + 6)}`;
  return url;
}

/** Self-time shares by function and by owner, and total sampled ms. */
export function summarise(path, { top = 25 } = {}) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  const dts = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (dts[i] ?? 0));
  }
  let total = 0;
  const fnSelf = new Map();
  const ownerSelf = new Map();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    total += us;
    const cf = n.callFrame;
    const fn = `${cf.functionName || '(anonymous)'} ${ownerOf(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    fnSelf.set(fn, (fnSelf.get(fn) ?? 0) + us);
    const owner = ['(idle)', '(program)', '(garbage collector)'].includes(cf.functionName) ? cf.functionName : ownerOf(cf.url);
    ownerSelf.set(owner, (ownerSelf.get(owner) ?? 0) + us);
  }
  // inclusive time per function name (a function counted once per sample even when recursive)
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map();
  for (const [id, us] of selfUs) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur).callFrame;
      const key = `${cf.functionName || '(anonymous)'} ${ownerOf(cf.url)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const busy = total - (ownerSelf.get('(idle)') ?? 0);
  const pct = (us) => Math.round((1000 * us) / busy) / 10;
  const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    sampledMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    selfByOwner: sorted(ownerSelf)
      .filter(([k]) => k !== '(idle)')
      .slice(0, top)
      .map(([k, us]) => ({ owner: k, pctOfBusy: pct(us) })),
    selfByFunction: sorted(fnSelf)
      .filter(([k]) => !k.startsWith('(idle)'))
      .slice(0, top)
      .map(([k, us]) => ({ fn: k, pctOfBusy: pct(us) })),
    inclusiveByFunction: sorted(inclusive)
      .filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(root)'))
      .slice(0, top)
      .map(([k, us]) => ({ fn: k, pctOfBusy: pct(us) })),
  };
}
