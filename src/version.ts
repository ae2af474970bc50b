import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package version, read once from the nearest package.json above this module. */
export const VERSION: string = (() => {
  try {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 5; i++) {
      const file = join(dir, 'package.json');
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'entra-sidecar' && pkg.version) return pkg.version;
      }
      dir = dirname(dir);
    }
  } catch {
    // fall through
  }
  return '0.0.0';
})();
