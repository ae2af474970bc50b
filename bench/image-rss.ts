// The bench's row 3 (RSS, 3 targets held, after 30 s idle), repeated with the sidecar running from
// the container image under runc as the webhook injects it (NODE_OPTIONS heap flags included),
// beside the same baseline as the bench: a bare `node` keeping a timer — here the image's own node,
// in a container with the same security context. Pairs run side by side; medians are reported.
//
//   sudo npm run bench:image            (builds the image first when it is not up to date)
//
// Output: one line per pair and a JSON summary line. Not part of `npm test`: a measurement, not a check.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../src/emulator/index.js';
import { mutatePod } from '../src/webhook/mutate.js';
import type { Container, Pod } from '../src/webhook/pod.js';
import { DEFAULT_SIDECAR_SETTINGS, type MutationSettings } from '../src/webhook/settings.js';
import { buildImage, imageTestsUnavailable, unpackImage } from '../test/image/oci-image.js';
import { podContainerConfig } from '../test/image/pod-container.js';
import { runContainer, type RuncContainer } from '../test/image/runc.js';

const THREE_TARGETS = 'storage=https://storage.azure.com/.default,vault=https://vault.azure.net/.default,arm=https://management.azure.com/.default';
const IDLE_MS = 30_000;
const PAIRS = Number(process.env.PAIRS ?? 3);
const MiB = 1024 * 1024;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function rssOf(c: RuncContainer): number {
  const state = JSON.parse(spawnSync('runc', ['state', c.id], { encoding: 'utf8' }).stdout) as { pid: number };
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${state.pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${c.id}`);
  return Number(m[1]) * 1024;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const why = imageTestsUnavailable();
if (why) {
  console.error(`bench:image: ${why}`);
  process.exit(1);
}
await buildImage();
const image = await unpackImage();
const emulator = await startEmulator();
const containers: RuncContainer[] = [];
const cleanups: (() => void)[] = [];
try {
  let nodeOptions = '';
  const pairs = await Promise.all(
    Array.from({ length: PAIRS }, async (_, i) => {
      const settings: MutationSettings = {
        ...DEFAULT_SIDECAR_SETTINGS,
        image: image.ref,
        mode: 'native',
        authorityHost: emulator.url,
        port: await freePort(),
        healthPort: await freePort(),
      };
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `rss-${i}`,
          namespace: 'default',
          annotations: {
            'entra-sidecar.io/inject': 'true',
            'entra-sidecar.io/client-id': emulator.clientId,
            'entra-sidecar.io/tenant-id': emulator.tenantId,
            'entra-sidecar.io/tokens': THREE_TARGETS,
          },
        },
        spec: { containers: [{ name: 'app', image: 'example/app:1' }] },
      } as Pod;
      const out = mutatePod(pod, undefined, settings, () => 'cd'.repeat(32));
      if (out.kind !== 'mutated') throw new Error(`no injection: ${JSON.stringify(out)}`);
      const sidecar = out.pod.spec.initContainers?.find((c) => c.name === 'entra-sidecar') as Container;
      nodeOptions = sidecar.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
      const saDir = mkdtempSync(join(tmpdir(), 'entra-rss-sa-'));
      chmodSync(saDir, 0o755);
      emulator.writeProjectedToken(saDir);
      const tokenDir = mkdtempSync(join(tmpdir(), 'entra-rss-tokens-'));
      chmodSync(tokenDir, 0o777);
      cleanups.push(
        () => rmSync(saDir, { recursive: true, force: true }),
        () => rmSync(tokenDir, { recursive: true, force: true }),
      );
      const common = {
        rootfs: image.rootfs,
        image: image.config,
        extraBinds: [{ hostPath: emulator.caFile, containerPath: '/etc/entra-test/emulator-ca.pem' }],
      };
      const s = runContainer(
        `rss-sidecar-${i}`,
        podContainerConfig({
          ...common,
          container: sidecar,
          volumes: { 'entra-sidecar-sa-token': { hostPath: saDir }, 'entra-sidecar-tokens': { hostPath: tokenDir } },
          extraEnv: { NODE_EXTRA_CA_CERTS: '/etc/entra-test/emulator-ca.pem', ENTRA_SIDECAR_LOG_LEVEL: 'warn' },
          cgroupsPath: `/entra-image-bench/sidecar-${process.pid}-${i}`,
        }),
      );
      containers.push(s);
      // the baseline: the image's node running the bench's idle-timer, same user, no capabilities, read-only root
      const bare: Container = { name: 'bare', command: ['node', '/opt/bench/idle-timer.mjs'], securityContext: sidecar.securityContext };
      const b = runContainer(
        `rss-bare-${i}`,
        podContainerConfig({
          ...common,
          container: bare,
          volumes: {},
          extraBinds: [{ hostPath: join(process.cwd(), 'bench', 'servers', 'idle-timer.mjs'), containerPath: '/opt/bench/idle-timer.mjs' }],
          cgroupsPath: `/entra-image-bench/bare-${process.pid}-${i}`,
        }),
      );
      containers.push(b);
      await b.waitForLog((l) => l.event === 'ready');
      // every target held: /readyz answers 200 only once each token is written
      for (;;) {
        const r = await fetch(`http://127.0.0.1:${settings.healthPort}/readyz`).catch(() => undefined);
        if (r?.status === 200) break;
        if (s.proc.exitCode !== null) throw new Error(`sidecar exited: ${s.stderr.join(' | ')}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return { sidecar: s, bare: b };
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS)); // the bench's idle period: a measurement window, not a wait for a signal
  const rss = pairs.map((p) => ({ sidecar: rssOf(p.sidecar), bare: rssOf(p.bare) }));
  rss.forEach((r, i) =>
    console.log(
      `pair ${i}: RSS sidecar ${(r.sidecar / MiB).toFixed(1)} MiB, bare node ${(r.bare / MiB).toFixed(1)} MiB, ratio ${(r.sidecar / r.bare).toFixed(2)}`,
    ),
  );
  const summary = {
    row: 3,
    what: `RSS, 3 targets held, after ${IDLE_MS / 1000} s idle, sidecar from the image under runc`,
    sidecarMiB: +(median(rss.map((r) => r.sidecar)) / MiB).toFixed(1),
    bareMiB: +(median(rss.map((r) => r.bare)) / MiB).toFixed(1),
    ratio: +median(rss.map((r) => r.sidecar / r.bare)).toFixed(2),
    pairs: PAIRS,
    nodeOptions,
  };
  console.log(JSON.stringify(summary));
} finally {
  await Promise.all(
    containers.map(async (c) => {
      await c.stop('SIGTERM');
      c.remove();
    }),
  );
  for (const f of cleanups) f();
  await emulator.close();
}
