// The sidecar process never loads @kubernetes/client-node (it alone adds ~80 MiB). A sidecar runs
// with a preload hook that records every module it loads, serves every flavour, an on-demand
// scope, /healthz, /readyz and /metrics, then stops; the record must show no path inside
// @kubernetes/client-node. A control process with the same hook imports the package, and its
// record must show it: the check demonstrably catches the package when it is loaded.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { emulator, resultLine } from '../lib/context.mjs';
import { BENCH_DIR, REPO, scratchDir } from '../lib/paths.mjs';
import { startProcess } from '../lib/proc.mjs';
import { startSidecar } from '../lib/sidecar.mjs';

const FORBIDDEN = '@kubernetes/client-node';

export async function run(ctx) {
  const em = await emulator();
  const logFile = join(scratchDir(), 'sidecar-modules.txt');
  const hook = pathToFileURL(join(BENCH_DIR, 'hooks', 'record-modules.mjs')).href;
  const controlLog = join(scratchDir(), 'control-modules.txt');
  const control = startProcess('module-audit-control', process.execPath, ['--input-type=module', '-e', `await import('${FORBIDDEN}')`], {
    cwd: REPO,
    logDir: scratchDir(),
    env: { PATH: process.env.PATH, NODE_OPTIONS: `--import=${hook}`, BENCH_MODULE_LOG: controlLog },
  });
  const sidecar = await startSidecar('module-audit-sidecar', em, { extra: { NODE_OPTIONS: `--import=${hook}`, BENCH_MODULE_LOG: logFile } });
  try {
    const h = { 'x-identity-header': sidecar.identityHeader };
    const calls = [
      fetch(`${sidecar.endpoint}/msi/token?api-version=2019-08-01&resource=https://storage.azure.com/`, { headers: h }),
      fetch(`${sidecar.endpoint}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net`, { headers: { metadata: 'true' } }),
      fetch(`${sidecar.endpoint}/msi/token`, {
        method: 'POST',
        headers: { metadata: 'true', 'content-type': 'application/x-www-form-urlencoded' },
        body: 'resource=https://graph.microsoft.com/',
      }),
      fetch(`${sidecar.endpoint}/no-such-path`),
      fetch(`${sidecar.health}/healthz`),
      fetch(`${sidecar.health}/readyz`),
      fetch(`${sidecar.health}/metrics`),
    ];
    const statuses = [];
    for (const r of await Promise.all(calls)) {
      statuses.push(r.status);
      await r.arrayBuffer();
    }
  } finally {
    await sidecar.stop();
    await em.close();
    await control.exited;
  }
  const recorded = (file) => [
    ...new Set(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.slice(4)),
    ),
  ];
  const unique = recorded(logFile);
  const forbidden = unique.filter((p) => p.includes(FORBIDDEN));
  const controlSaw = recorded(controlLog).filter((p) => p.includes(FORBIDDEN)).length;
  const pass = forbidden.length === 0 && controlSaw > 0;
  const detail = forbidden.length
    ? `${forbidden.length} module(s) from ${FORBIDDEN} loaded, e.g. ${forbidden[0]}`
    : controlSaw === 0
      ? `the hook did not record ${FORBIDDEN} in a process that imports it: the check cannot be trusted`
      : `${unique.length} modules loaded, none from ${FORBIDDEN} (the control process that imports it: ${controlSaw} recorded)`;
  ctx.log(`  module audit: ${detail}`);
  return {
    lines: [
      resultLine({
        id: '3b',
        what: `sidecar never loads ${FORBIDDEN}`,
        figure: forbidden.length,
        baseline: null,
        ratio: null,
        target: '0 modules',
        pass,
        unit: 'modules',
        details: { modulesLoaded: unique.length, forbidden: forbidden.slice(0, 5), controlRecorded: controlSaw },
      }),
    ],
    asserted: { name: `the sidecar process never loads ${FORBIDDEN}`, pass, detail },
  };
}
