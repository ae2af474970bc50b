import { fork } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeStaleTempFiles, writeTokenFiles } from '../../src/sidecar/token-files.js';
import type { AccessToken } from '../../src/identity/access-token.js';

const token = (i: number): AccessToken => {
  // tokens of varying length, so a torn read would show as a wrong length or a bad suffix
  const body = `${'x'.repeat(200 + (i % 97) * 13)}-${i}`;
  return { token: `eyJ.${body}.end`, scope: 's/.default', obtainedAtMs: 0, expiresOnMs: 1_000_000 + i, extExpiresOnMs: 1_000_000 + i };
};

/** A reader in another process, reading both files in a tight loop until told to stop. */
const READER = `
const fs = require('node:fs');
const [dir] = process.argv.slice(2);
let reads = 0, bad = [], stop = false;
process.on('message', () => { stop = true; });
(function loop() {
  for (let i = 0; i < 200; i++) {
    for (const f of ['t', 't.json']) {
      let c;
      try { c = fs.readFileSync(dir + '/' + f, 'utf8'); } catch (e) { bad.push(f + ': ' + e.code); continue; }
      reads++;
      if (f === 't') { if (!/^eyJ\\.x+-\\d+\\.end$/.test(c)) bad.push('raw: ' + c.length); }
      else { try { const j = JSON.parse(c); if (!/^eyJ\\.x+-\\d+\\.end$/.test(j.access_token)) bad.push('json token'); } catch { bad.push('json: ' + c.length); } }
    }
  }
  if (stop) { process.send({ reads, bad: bad.slice(0, 10), badCount: bad.length }); return; }
  setImmediate(loop);
})();
`;

describe('token files', () => {
  it('a reader looping over the files during 5 000 rewrites never sees partial or empty content', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    await writeTokenFiles(dir, 't', token(0), 0o644);
    const script = join(dir, '..', `reader-${process.pid}.cjs`);
    writeFileSync(script, READER);
    const reader = fork(script, [dir], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    for (let i = 1; i <= 5_000; i++) await writeTokenFiles(dir, 't', token(i), 0o644);
    const result = await new Promise<{ reads: number; bad: string[]; badCount: number }>((resolve) => {
      reader.once('message', (m) => resolve(m as { reads: number; bad: string[]; badCount: number }));
      reader.send('stop');
    });
    reader.kill();
    expect(result.badCount).toBe(0);
    expect(result.reads).toBeGreaterThan(5_000);
    expect(readdirSync(dir).sort()).toEqual(['t', 't.json']);
  }, 120_000);

  it('writes the mode asked for, the raw file without a trailing newline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mode-'));
    await writeTokenFiles(dir, 'a', token(1), 0o600);
    expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'a.json')).mode & 0o777).toBe(0o600);
  });

  it('leaves the old files whole and no temp file when a write fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fail-'));
    await writeTokenFiles(dir, 'a', token(1), 0o644);
    await expect(writeTokenFiles(join(dir, 'missing-subdir'), 'a', token(2), 0o644)).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir).sort()).toEqual(['a', 'a.json']);
  });

  it('cleans temp files left by a killed process, and nothing else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stale-'));
    await writeTokenFiles(dir, 'a', token(1), 0o644);
    writeFileSync(join(dir, 'a.tmp-0123456789ab'), 'partial');
    await removeStaleTempFiles(dir);
    expect(readdirSync(dir).sort()).toEqual(['a', 'a.json']);
  });
});
