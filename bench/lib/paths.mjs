// Where things are: the built CLI, the repository, a scratch folder removed at exit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const REPO = dirname(BENCH_DIR);
export const DIST = join(REPO, 'dist');
/** The CLI the sidecar and webhook run from; BENCH_DIST points at another build (to try a change). */
export const CLI = join(process.env.BENCH_DIST ?? DIST, 'cli.js');

let scratch;
/** One temporary folder per bench run (logs, token folders, configs); removed at exit unless BENCH_KEEP=1. */
export function scratchDir() {
  if (!scratch) {
    scratch = mkdtempSync(join(tmpdir(), 'entra-bench-'));
    process.on('exit', () => {
      if (process.env.BENCH_KEEP !== '1') rmSync(scratch, { recursive: true, force: true });
    });
  }
  return scratch;
}
