import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The Dockerfile, read as text: the checks that need no build. What the built image holds and how
 * it runs is checked on the real image in image.test.ts.
 */

const ROOT = process.cwd();

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
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

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
    const allowed = ignore
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1));
    expect(allowed.sort()).toEqual(['package-lock.json', 'package.json', 'scripts/bundle.mjs', 'src/**', 'tsconfig.build.json', 'tsconfig.json']);
    for (const c of stages.flatMap((s) => s.instructions.filter((i) => i.cmd === 'COPY' && !i.args.startsWith('--from')))) {
      for (const source of c.args.split(/\s+/).slice(0, -1)) {
        expect(
          allowed.some((a) => a === source || (a.endsWith('/**') && source.replace(/\/$/, '') === a.slice(0, -3))),
          `COPY ${source}`,
        ).toBe(true);
      }
    }
  });
});
