// Row 6: cold start, process start → first token file written, for a sidecar with one target,
// against a script that gets the same token in-process with @azure/identity's
// WorkloadIdentityCredential and writes it to a file. Same emulator, same environment, same
// detection (fs.watch on the folder); the two alternate run by run.
import { mkdtempSync, watch, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { emulator, resultLine } from '../lib/context.mjs';
import { BENCH_DIR, CLI, REPO, scratchDir } from '../lib/paths.mjs';
import { sidecarEnv } from '../lib/sidecar.mjs';
import { median, ratio, round } from '../lib/stats.mjs';

const SCOPE = 'https://storage.azure.com/.default';

export async function run(ctx) {
  const runs = ctx.quick ? 3 : Math.max(7, ctx.runs);
  const em = await emulator();
  const tokenFile = em.writeProjectedToken(mkdtempSync(join(scratchDir(), 'sa-'))).path;
  const samples = { sidecar: [], identity: [] };
  try {
    // one untimed round each: disk caches warm for both
    await coldStart('sidecar', em, tokenFile);
    await coldStart('identity', em, tokenFile);
    for (let r = 0; r < runs; r++) {
      for (const kind of r % 2 ? ['identity', 'sidecar'] : ['sidecar', 'identity']) {
        samples[kind].push(await coldStart(kind, em, tokenFile));
      }
      ctx.log(`  row 6: run ${r}: sidecar ${samples.sidecar[r].toFixed(0)} ms, @azure/identity ${samples.identity[r].toFixed(0)} ms`);
    }
  } finally {
    await em.close();
  }
  const s = median(samples.sidecar);
  const b = median(samples.identity);
  const pairRatio = median(samples.sidecar.map((x, i) => ratio(x, samples.identity[i])));
  return {
    lines: [
      resultLine({
        id: '6',
        what: 'cold start → token file (vs @azure/identity in-process)',
        figure: round(s),
        baseline: round(b),
        ratio: round(pairRatio),
        target: '≤ 1.0×',
        pass: pairRatio <= 1,
        unit: 'ms',
        details: {
          runs,
          sidecarMs: samples.sidecar.map((x) => round(x)),
          azureIdentityMs: samples.identity.map((x) => round(x)),
          baselinePackage: 'azure-identity-latest (@azure/identity 4.13.1) WorkloadIdentityCredential',
        },
      }),
    ],
  };
}

/** Spawns one process and resolves with ms from just before spawn to its token file appearing. */
function coldStart(kind, em, tokenFile) {
  const dir = mkdtempSync(join(scratchDir(), `cold-${kind}-`));
  const name = 'storage';
  const target = join(dir, name);
  const env = sidecarEnv(em, { tokens: `${name}=${SCOPE}`, tokenDir: dir, tokenFile, identityHeader: randomBytes(24).toString('hex') });
  return new Promise((resolve, reject) => {
    let done = false;
    const watcher = watch(dir, (_event, file) => {
      if (done || file !== name || !existsSync(target)) return;
      done = true;
      const ms = performance.now() - t0;
      watcher.close();
      clearTimeout(timer);
      proc.kill('SIGTERM');
      proc.once('exit', () => resolve(ms));
    });
    const args = kind === 'sidecar' ? [CLI, 'sidecar'] : [join(BENCH_DIR, 'clients', 'azure-identity-cold.mjs'), dir, name, SCOPE];
    const t0 = performance.now();
    const proc = spawn(process.execPath, args, { env, cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (c) => (stderr += c));
    proc.on('exit', (code) => {
      if (done) return;
      done = true;
      watcher.close();
      clearTimeout(timer);
      reject(new Error(`${kind} exited (${code}) before writing its token file: ${stderr.slice(0, 500)}`));
    });
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      watcher.close();
      proc.kill('SIGKILL');
      reject(new Error(`${kind}: no token file within 30 s`));
    }, 30_000);
  });
}
