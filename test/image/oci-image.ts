import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ImageConfig } from './pod-container.js';

const ROOT = process.cwd();
export const IMAGE_CACHE = process.env.ENTRA_IMAGE_CACHE ?? join(homedir(), '.cache', 'entra-sidecar', 'image');
export const IMAGE_ARCHIVE = process.env.ENTRA_IMAGE_OUT ?? join(ROOT, '.cache', 'image', 'entra-sidecar.oci.tar');
const TOOLS = ['buildah', 'runc', 'umoci', 'skopeo', 'debootstrap'];

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`], { encoding: 'utf8' }).status === 0;
}

/**
 * Why the image tests cannot run here, or undefined when they can: they need root (runc, buildah's
 * chroot isolation, and scripts/build-image.sh installs the tools it lacks from Debian as root).
 */
export function imageTestsUnavailable(): string | undefined {
  if (process.arch !== 'x64') return `the local base image is x86_64 only (this is ${process.arch})`;
  if (process.getuid?.() !== 0) {
    const missing = TOOLS.filter((t) => !onPath(t));
    const tools = missing.length > 0 ? `; ${missing.join(', ')} not installed (scripts/install-image-tools.sh)` : '';
    return `the image tests need root (buildah --isolation chroot, runc)${tools}: run them as root`;
  }
  return undefined;
}

/** Builds (or finds up to date) the image with scripts/build-image.sh; returns the script's output. */
export async function buildImage(): Promise<string> {
  const r = await runAsync('bash', [join(ROOT, 'scripts', 'build-image.sh')], 1_500_000);
  if (r.status !== 0) throw new Error(`scripts/build-image.sh failed (${r.status}):\n${(r.stdout + r.stderr).slice(-3000)}`);
  return r.stdout;
}

/** A child process run without blocking the test worker (long builds would stall vitest's RPC). */
function runAsync(cmd: string, args: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

export interface UnpackedImage {
  /** manifest digest (sha256:…) */
  digest: string;
  /** the image's tag in the archive */
  ref: string;
  config: ImageConfig;
  /** unpacked root filesystem (shared, mounted read-only by every container) */
  rootfs: string;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const r = await runAsync(cmd, args, 600_000);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.slice(-2000)}`);
}

/**
 * Unpacks the OCI archive with umoci (layers applied in order, whiteouts honoured, owners and modes
 * kept) into a cached folder named by the manifest digest, so that each build is unpacked once.
 */
export async function unpackImage(archive = IMAGE_ARCHIVE): Promise<UnpackedImage> {
  const layout = mkdtempSync(join(IMAGE_CACHE, 'layout-'));
  try {
    await run('tar', ['-xf', archive, '-C', layout]);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    const top = index.manifests[0];
    if (!top) throw new Error(`${archive} holds no image`);
    const ref = top.annotations?.['org.opencontainers.image.ref.name'] ?? '';
    const blob = (digest: string) => JSON.parse(readFileSync(join(layout, 'blobs', ...digest.split(':')), 'utf8'));
    const manifest = blob(top.digest) as { config: { digest: string } };
    const config = (blob(manifest.config.digest) as { config: ImageConfig }).config;
    const dir = join(IMAGE_CACHE, 'unpacked', top.digest.replace(':', '-'));
    if (!existsSync(join(dir, 'rootfs'))) {
      mkdirSync(join(IMAGE_CACHE, 'unpacked'), { recursive: true });
      const tmp = `${dir}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      await run('umoci', ['unpack', '--image', `${layout}:${ref}`, tmp]);
      try {
        renameSync(tmp, dir);
      } catch {
        rmSync(tmp, { recursive: true, force: true }); // another process unpacked it first
      }
    }
    pruneUnpacked(dir);
    return { digest: top.digest, ref, config, rootfs: join(dir, 'rootfs') };
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}

/** Removes images unpacked by earlier builds and unused for a day (each is ~300 MB); marks `keep` as used. */
function pruneUnpacked(keep: string): void {
  const now = new Date();
  utimesSync(keep, now, now);
  const parent = join(IMAGE_CACHE, 'unpacked');
  for (const name of readdirSync(parent)) {
    const path = join(parent, name);
    if (path === keep) continue;
    try {
      if (now.getTime() - statSync(path).mtimeMs > 24 * 3600_000) rmSync(path, { recursive: true, force: true });
    } catch {
      // another process removed it first
    }
  }
}
