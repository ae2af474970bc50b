import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Log hygiene for the whole suite: every process a test starts writes its log under the audit
 * folder, and every secret the tests see (issued access tokens, service-account tokens, identity
 * headers) is recorded there too. At the end, no secret may appear in any log line.
 */
export default function setup(): () => void {
  const dir = join(process.cwd(), '.cache', 'log-audit', String(process.pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.env.ENTRA_TEST_AUDIT_DIR = dir;
  return () => {
    const files = readdirSync(dir);
    const secrets = new Set<string>();
    for (const f of files.filter((f) => f.startsWith('secrets-'))) {
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) if (line.length >= 16) secrets.add(line);
    }
    const logs = files.filter((f) => f.endsWith('.log'));
    const leaks: string[] = [];
    let lines = 0;
    for (const f of logs) {
      const text = readFileSync(join(dir, f), 'utf8');
      lines += text.split('\n').length;
      for (const s of secrets) if (text.includes(s)) leaks.push(`${f} contains a secret starting ${s.slice(0, 8)}`);
    }
    if (leaks.length > 0) {
      throw new Error(`log hygiene: ${leaks.length} secret(s) found in logs:\n${leaks.slice(0, 20).join('\n')}`);
    }
    console.log(`log hygiene: ${secrets.size} secrets checked against ${lines} log lines in ${logs.length} logs: none found`);
  };
}
