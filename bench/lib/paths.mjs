// Where things are: the built code the bench runs, the repository, a scratch folder removed at exit.
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const REPO = dirname(BENCH_DIR);
export const DIST = join(REPO, 'dist');

/**
 * The build every process of one bench run uses: BENCH_DIST when set (to try a change; a folder
 * from which the packages resolve, e.g. a dist/ beside a node_modules), else a
 * snapshot of dist/ taken at start, inside the repository (so packages resolve from its
 * node_modules) — a `npm run build` elsewhere during the run cannot mix two builds in one table.
 */
export const BUILD = process.env.BENCH_DIST ?? snapshotDist();
/** The CLI the sidecar and webhook run from. */
export const CLI = join(BUILD, 'cli.js');

/** Imports a module of the build in use, e.g. importBuild('identity/token-store.js'). */
export function importBuild(relative) {
  return import(pathToFileURL(join(BUILD, relative)).href);
}

function snapshotDist() {
  if (!existsSync(join(DIST, 'cli.js'))) throw new Error('dist/ is not built: run npm run build (npm run bench does)');
  const parent = join(REPO, '.cache');
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, 'bench-dist-'));
  cpSync(DIST, dir, { recursive: true });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

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
