import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/** The folder-name prefix kubelet's AtomicWriter uses: `..2006_01_02_15_04_05.` (UTC). */
export function timestampPrefix(at: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `..${at.getUTCFullYear()}_${p(at.getUTCMonth() + 1)}_${p(at.getUTCDate())}_${p(at.getUTCHours())}_${p(at.getUTCMinutes())}_${p(at.getUTCSeconds())}.`;
}

/**
 * Writes files into a folder the way kubelet updates a projected volume:
 *
 * ```
 * dir/..2026_11_26_06_00_00.123456/token   the payload, in a fresh timestamped folder
 * dir/..data -> ..2026_11_26_06_00_00.123456   swapped atomically (..data_tmp, then rename)
 * dir/token -> ..data/token                     the path applications open
 * ```
 *
 * The previous timestamped folder is removed after the swap. Kubelet removes it at once, which
 * lets a reader that resolved `..data` just before the swap miss the file in a rare race; here
 * removal waits `graceMs` so tests that assert "never missing" are deterministic.
 */
export class ProjectedVolumeWriter {
  private readonly pending = new Map<string, NodeJS.Timeout>();

  constructor(private readonly graceMs = 250) {}

  /**
   * Publishes `files` (name → content) as the new content of `dir`; returns the user-visible paths.
   *
   * @example
   * writer.write('/tmp/sa', { token: jwt }) // ['/tmp/sa/token']
   */
  write(dir: string, files: Record<string, string | Uint8Array>, mode = 0o644): string[] {
    mkdirSync(dir, { recursive: true });
    const fresh = mkdtempSync(join(dir, timestampPrefix(new Date())));
    chmodSync(fresh, 0o755); // as kubelet does after MkdirTemp
    for (const [name, content] of Object.entries(files)) writeFileSync(join(fresh, name), content, { mode });

    const dataLink = join(dir, '..data');
    let previous: string | undefined;
    try {
      previous = readlinkSync(dataLink);
    } catch {
      previous = undefined;
    }
    const tmpLink = join(dir, '..data_tmp');
    rmSync(tmpLink, { force: true });
    symlinkSync(basename(fresh), tmpLink);
    renameSync(tmpLink, dataLink);

    const paths: string[] = [];
    for (const name of Object.keys(files)) {
      const link = join(dir, name);
      if (!isSymlink(link)) {
        rmSync(link, { force: true, recursive: true });
        symlinkSync(join('..data', name), link);
      }
      paths.push(link);
    }
    if (previous !== undefined && previous !== basename(fresh) && previous.startsWith('..')) this.removeLater(join(dir, previous));
    return paths;
  }

  /** Removes every superseded folder now (on close). */
  flush(): void {
    for (const [path, timer] of this.pending) {
      clearTimeout(timer);
      rmSync(path, { recursive: true, force: true });
    }
    this.pending.clear();
  }

  private removeLater(path: string): void {
    if (this.pending.has(path)) return;
    const timer = setTimeout(() => {
      this.pending.delete(path);
      rmSync(path, { recursive: true, force: true });
    }, this.graceMs);
    timer.unref();
    this.pending.set(path, timer);
  }
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
