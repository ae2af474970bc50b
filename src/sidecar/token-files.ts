import { randomBytes } from 'node:crypto';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { AccessToken } from '../identity/access-token.js';

/** The `<name>.json` file's shape: a fixed contract for apps. */
export interface TokenFileJson {
  access_token: string;
  expires_on: number;
  token_type: 'Bearer';
  scope: string;
}

/**
 * Writes `<dir>/<name>` (the raw token, no trailing newline) and `<dir>/<name>.json`, each
 * atomically: a temp file in the same folder, fsync, rename over the old one. A reader sees the
 * old content or the new, never a partial or empty file; on failure the old files stay whole.
 *
 * @example
 * await writeTokenFiles('/var/run/secrets/entra', 'storage', token, 0o644);
 */
export async function writeTokenFiles(dir: string, name: string, token: AccessToken, mode: number): Promise<void> {
  const json: TokenFileJson = { access_token: token.token, expires_on: Math.floor(token.expiresOnMs / 1000), token_type: 'Bearer', scope: token.scope };
  await writeFileAtomic(join(dir, `${name}.json`), JSON.stringify(json), mode);
  await writeFileAtomic(join(dir, name), token.token, mode);
}

/** Atomic replace of one file (see writeTokenFiles). */
export async function writeFileAtomic(path: string, content: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  let handle;
  try {
    handle = await open(tmp, 'wx', mode);
    await handle.writeFile(content, 'utf8');
    await handle.chmod(mode);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Removes temp files a killed process may have left behind (never the token files themselves). */
export async function removeStaleTempFiles(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  await Promise.all(names.filter((n) => /\.tmp-[0-9a-f]{12}$/.test(n)).map((n) => unlink(join(dir, n)).catch(() => undefined)));
}
