import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The container image, without a container engine: the Dockerfile is parsed and checked for what
 * the issue requires, and its runtime stage is emulated — package.json and the lock file in an
 * empty folder, `npm ci --omit=dev`, dist/ copied in, `entra-sidecar` linked on PATH — and both
 * commands are started from there as UID 65532 in a folder it cannot write. That proves the
 * production dependencies suffice and nothing needs a writable root filesystem to start.
 */

const ROOT = process.cwd();
const DIST = join(ROOT, 'dist');
const isRoot = process.getuid?.() === 0;

interface Instruction {
  cmd: string;
  args: string;
}
interface Stage {
  base: string;
  name?: string;
  instructions: Instruction[];
}

/** Parses a Dockerfile into stages (comments dropped, continuations joined, global ARGs expanded). */
function parseDockerfile(text: string): Stage[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw) && pending === '') continue;
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full) lines.push(full);
  }
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const cmd = (m[1] as string).toUpperCase();
    const args = m[2] as string;
    if (cmd === 'ARG' && stages.length === 0) {
      const [k, v] = args.split('=');
      globalArgs.set(k as string, v ?? '');
      continue;
    }
    if (cmd === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      const base = (f?.[1] as string).replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => globalArgs.get(a ?? b) ?? '');
      stages.push({ base, name: f?.[2], instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push({ cmd, args });
  }
  return stages;
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const runtime = stages.at(-1) as Stage;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };

function runs(stage: Stage | undefined): string[] {
  return (stage?.instructions ?? []).filter((i) => i.cmd === 'RUN').map((i) => i.args);
}

describe('Dockerfile', () => {
  it('builds with dev dependencies and runs with production dependencies only', () => {
    const build = stages.find((s) => s.name === 'build');
    expect(runs(build).some((r) => /\bnpm ci\b/.test(r) && !r.includes('--omit=dev'))).toBe(true);
    expect(runs(build).some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    // the runtime's node_modules come from an `npm ci --omit=dev` (in the runtime stage or one it copies from)
    const copies = runtime.instructions.filter((i) => i.cmd === 'COPY').map((i) => i.args);
    const modulesFrom = /--from=(\S+)\s+\S*node_modules/.exec(copies.join('\n'))?.[1];
    const depsStage = modulesFrom ? stages.find((s) => s.name === modulesFrom) : runtime;
    expect(runs(depsStage).some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(copies.some((c) => /--from=build\s+\S*dist\b/.test(c))).toBe(true);
    expect(runs(runtime).some((r) => /npm (ci|install)(?!.*--omit=dev)/.test(r))).toBe(false);
  });

  it('uses a small official Node.js LTS base in every stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.base).toMatch(/^node:(22|24)(\.\d+)*-(bookworm|trixie|bullseye)-slim(@sha256:[a-f0-9]{64})?$/);
  });

  it('runs as 65532:65532 in production mode, with ENTRYPOINT ["entra-sidecar"] linked to the package bin', () => {
    const last = (cmd: string) => runtime.instructions.filter((i) => i.cmd === cmd).at(-1)?.args;
    expect(last('USER')).toBe('65532:65532');
    expect(last('ENTRYPOINT')).toBe('["entra-sidecar"]');
    expect(runtime.instructions.some((i) => i.cmd === 'ENV' && /\bNODE_ENV=production\b/.test(i.args))).toBe(true);
    const workdir = last('WORKDIR') as string;
    const bin = pkg.bin['entra-sidecar'] as string;
    expect(runs(runtime).some((r) => r.includes(`ln -s ${join(workdir, bin)} /usr/local/bin/entra-sidecar`))).toBe(true);
    // USER comes after every RUN, so nothing at run time owns a file it could write
    const userIndex = runtime.instructions.findIndex((i) => i.cmd === 'USER');
    expect(runtime.instructions.slice(userIndex).filter((i) => i.cmd === 'RUN')).toEqual([]);
  });

  it('sends only what the build needs (.dockerignore)', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
    expect(ignore).toMatch(/^\*\*$/m);
    const allowed = ignore.split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1));
    expect(allowed.sort()).toEqual(['package-lock.json', 'package.json', 'src/**', 'tsconfig.build.json', 'tsconfig.json']);
    for (const c of stages.flatMap((s) => s.instructions.filter((i) => i.cmd === 'COPY' && !i.args.startsWith('--from')))) {
      for (const source of c.args.split(/\s+/).slice(0, -1)) {
        expect(allowed.some((a) => a === source || (a.endsWith('/**') && source.replace(/\/$/, '') === a.slice(0, -3))), `COPY ${source}`).toBe(true);
      }
    }
  });
});

function listJs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listJs(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : [],
  );
}

describe.skipIf(!existsSync(join(DIST, 'cli.js')) && process.env.CI !== 'true')('the runtime stage, emulated', () => {
  let app: string;
  let bin: string;

  beforeAll(() => {
    if (!existsSync(join(DIST, 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` first');
    const base = mkdtempSync(join(tmpdir(), 'entra-image-'));
    chmodSync(base, 0o755);
    app = join(base, 'app');
    bin = join(base, 'bin');
    mkdirSync(app);
    mkdirSync(bin);
    for (const f of ['package.json', 'package-lock.json']) cpSync(join(ROOT, f), join(app, f));
    const install = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: app,
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (install.status !== 0) throw new Error(`npm ci --omit=dev failed: ${install.stderr.slice(-800)}`);
    cpSync(DIST, join(app, 'dist'), { recursive: true });
    chmodSync(join(app, 'dist', 'cli.js'), 0o755);
    symlinkSync(join(app, pkg.bin['entra-sidecar'] as string), join(bin, 'entra-sidecar'));
  }, 300_000);

  afterAll(() => {
    if (app) rmSync(dirname(app), { recursive: true, force: true });
  });

  /** Runs a command as the image would: production mode, UID 65532 when we can, nothing writable. */
  function inImage(args: string[]) {
    return spawnSync(join(bin, 'entra-sidecar'), args, {
      cwd: app,
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin`, NODE_ENV: 'production' },
      ...(isRoot ? { uid: 65532, gid: 65532 } : {}),
    });
  }

  it('installed the production dependencies and no package that only the dev dependencies need', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([path, p]) => path !== '' && p.dev === true).map(([path]) => path);
    expect(devOnly).toEqual(expect.arrayContaining(['node_modules/vitest', 'node_modules/typescript']));
    expect(devOnly.filter((path) => existsSync(join(app, path)))).toEqual([]);
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(app, 'node_modules', dep, 'package.json')), dep).toBe(true);
  });

  it.each([
    ['sidecar', /Usage: entra-sidecar sidecar/],
    ['webhook', /Usage: entra-sidecar webhook/],
  ])('starts `entra-sidecar %s --help` from the production install', (command, usage) => {
    const r = inImage([command, '--help']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(usage);
  });

  it('loads every module of dist/ with production dependencies only', () => {
    const modules = listJs(join(app, 'dist')).filter((f) => !f.endsWith(`${'/'}cli.js`));
    expect(modules.length).toBeGreaterThan(10);
    const script = join(dirname(app), 'import-all.mjs');
    writeFileSync(
      script,
      `const failed = [];\nfor (const m of ${JSON.stringify(modules)}) { try { await import(m); } catch (e) { failed.push(m + ': ' + e.message); } }\n` +
        `if (failed.length) { console.error(failed.join('\\n')); process.exit(1); }\nprocess.exit(0);\n`,
    );
    const r = spawnSync(process.execPath, [script], {
      cwd: app,
      encoding: 'utf8',
      timeout: 60_000,
      env: { NODE_ENV: 'production', PATH: '/usr/bin:/bin' },
      ...(isRoot ? { uid: 65532, gid: 65532 } : {}),
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('imports (statically) no package outside `dependencies` anywhere in dist/', () => {
    // a static import of a missing package breaks the module on load; dynamic import() is how
    // optional extras are loaded (e.g. YAML output in `demo webhook`, with a JSON fallback)
    const allowed = new Set([...Object.keys(pkg.dependencies), ...builtinModules]);
    const offenders: string[] = [];
    for (const file of listJs(join(app, 'dist'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)\s(?:[^'"]*?\sfrom\s)?\s*['"]([^'"]+)['"]/gm)) {
        const spec = m[1] as string;
        if (spec.startsWith('.') || spec.startsWith('node:')) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
        if (!allowed.has(name)) offenders.push(`${relative(app, file)} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('as UID 65532 cannot write the app folder (a stand-in for the read-only root filesystem)', () => {
    if (!isRoot) return; // only root can switch to 65532
    const r = spawnSync(process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(join(app, 'probe'))}, 'x')`], {
      encoding: 'utf8',
      uid: 65532,
      gid: 65532,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/EACCES/);
  });
});
