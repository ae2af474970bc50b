import { appendFileSync, createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';

function auditDir(): string | undefined {
  return process.env.ENTRA_TEST_AUDIT_DIR;
}

/** Records a secret value (token, service-account token, identity header) that must never be logged. */
export function recordSecret(value: string | undefined): void {
  const dir = auditDir();
  if (!dir || !value) return;
  appendFileSync(join(dir, `secrets-${process.pid}.txt`), `${value}\n`);
}

/** A write stream whose content is checked for secrets at the end of the suite. */
export function auditLog(name: string): WriteStream | undefined {
  const dir = auditDir();
  if (!dir) return undefined;
  const safe = name.replace(/[^a-zA-Z0-9._-]/g, '_');
  return createWriteStream(join(dir, `${safe}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.log`));
}
