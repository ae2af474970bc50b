import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { CredentialSource } from '../identity/credential-source.js';
import type { ExchangeError } from '../identity/errors.js';

/** Entra's refusals of a client secret or certificate that only a new credential fixes. */
export const CREDENTIAL_REFUSALS: ReadonlySet<number> = new Set([7000215, 7000222, 700027, 7000218]);

/** True when an exchange failed because of the client secret or certificate itself. */
export function isCredentialFailure(error: ExchangeError): boolean {
  return error.reason === 'client_credential' || (error.aadsts !== undefined && CREDENTIAL_REFUSALS.has(error.aadsts));
}

/** The files a credential source reads (none for a value given in the environment). */
export function credentialFiles(source: CredentialSource): string[] {
  switch (source.kind) {
    case 'federated':
      return [];
    case 'client_secret':
      return source.file ? [source.file] : [];
    case 'client_certificate':
      return [source.file, ...(source.keyFile ? [source.keyFile] : []), ...(source.passwordFile ? [source.passwordFile] : [])];
  }
}

/**
 * After Entra refuses the credential, polls its files (every `everyMs`) until their content
 * changes — kubelet has swapped in the rotated Secret — and then calls `changed` once, so the
 * failed targets retry at once instead of waiting out the 60 s backoff. Idle (no timer at all)
 * while the credential works.
 *
 * @example
 * const watch = new CredentialChangeWatch(files, () => store.retryFailedNow());
 * watch.arm(); // after a refusal
 */
export class CredentialChangeWatch {
  private timer: NodeJS.Timeout | undefined;
  private baseline: Promise<string> | undefined;

  constructor(
    private readonly files: string[],
    private readonly changed: () => void,
    private readonly everyMs = 1_000,
  ) {}

  /** Starts watching (no-op when already watching or when there are no files). */
  arm(): void {
    if (this.timer || this.files.length === 0) return;
    this.baseline = this.fingerprint();
    const tick = async (): Promise<void> => {
      const [before, now] = await Promise.all([this.baseline, this.fingerprint()]);
      if (!this.timer) return;
      if (now !== before) {
        this.stop();
        this.changed();
        return;
      }
      this.timer = setTimeout(() => void tick(), this.everyMs).unref();
    };
    this.timer = setTimeout(() => void tick(), this.everyMs).unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async fingerprint(): Promise<string> {
    const h = createHash('sha256');
    for (const f of this.files) h.update(await readFile(f).catch(() => Buffer.from('\0missing'))).update('\0');
    return h.digest('hex');
  }
}
