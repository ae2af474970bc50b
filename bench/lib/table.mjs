// The results table, as printed on stdout and copied into the README.

const COLUMNS = [
  ['#', (l) => l.id],
  ['what', (l) => l.what],
  ['figure', (l) => fmt(l.figure, l.unit)],
  ['baseline', (l) => fmt(l.baseline, l.unit)],
  ['ratio', (l) => (l.ratio === null || l.ratio === undefined ? '—' : `${l.ratio}×`)],
  ['target', (l) => l.target ?? '—'],
  ['result', (l) => (l.details?.skipped ? 'skipped' : l.details?.error ? 'ERROR' : l.pass === null ? 'reported' : l.pass ? 'pass' : 'MISS')],
];

function fmt(v, unit) {
  if (v === null || v === undefined) return '—';
  return unit ? `${v} ${unit}` : String(v);
}

/** Prints the rows as a Markdown table (readable as text, pasteable into the README). */
export function printTable(lines, log) {
  const cells = lines.map((l) => COLUMNS.map(([, f]) => String(f(l))));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const row = (c) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  log(row(COLUMNS.map(([h]) => h)));
  log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const c of cells) log(row(c));
}
