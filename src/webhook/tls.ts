import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../config/errors.js';
import type { Logger } from '../log.js';

/** A PEM certificate (chain) and its private key. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** Where the HTTPS server gets its certificate; it swaps contexts when the source changes. */
export interface TlsSource {
  current(): KeyPair;
  onChange(listener: (pair: KeyPair) => void): void;
  close(): void;
}

/** Throws when the certificate and key are unusable or do not belong together. */
export function checkKeyPair(pair: KeyPair): void {
  createSecureContext({ cert: pair.cert, key: pair.key });
}

async function readPair(certFile: string, keyFile: string): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { cert, key };
}

export interface FileWatchOptions {
  log: Logger;
  /** a safety-net re-read interval besides file-system events (default 10 s) */
  pollIntervalMs?: number;
}

/**
 * Serves the certificate and key from files and reloads them when they change (cert-manager and
 * kubelet swap a Secret volume's files atomically), without a restart. A half-updated or broken
 * pair is ignored until it becomes valid; the previous certificate keeps being served.
 *
 * @example
 * const tls = await watchCertificateFiles('/tls/tls.crt', '/tls/tls.key', { log });
 * tls.onChange((pair) => server.setSecureContext(pair));
 */
export async function watchCertificateFiles(certFile: string, keyFile: string, options: FileWatchOptions): Promise<TlsSource> {
  let pair: KeyPair;
  try {
    pair = await readPair(certFile, keyFile);
  } catch (err) {
    throw new ConfigError(
      'ENTRA_WEBHOOK_TLS_CERT_FILE / ENTRA_WEBHOOK_TLS_KEY_FILE (--tls-cert-file, --tls-key-file)',
      `could not be read: ${(err as Error).message}`,
    );
  }
  try {
    checkKeyPair(pair);
  } catch (err) {
    throw new ConfigError(
      'ENTRA_WEBHOOK_TLS_CERT_FILE / ENTRA_WEBHOOK_TLS_KEY_FILE (--tls-cert-file, --tls-key-file)',
      `are not a usable PEM certificate and matching key: ${(err as Error).message}`,
    );
  }
  const listeners: Array<(p: KeyPair) => void> = [];
  let lastRejected = '';
  let reloading = false;
  let again = false;

  const reload = async (): Promise<void> => {
    if (reloading) {
      again = true;
      return;
    }
    reloading = true;
    try {
      do {
        again = false;
        let next: KeyPair;
        try {
          next = await readPair(certFile, keyFile);
        } catch (err) {
          options.log.warn({ err: (err as Error).message }, 'TLS files could not be read; keeping the current certificate');
          continue;
        }
        if (next.cert === pair.cert && next.key === pair.key) continue;
        try {
          checkKeyPair(next);
        } catch (err) {
          const fingerprint = `${next.cert.length}:${next.key.length}:${next.cert.slice(-80)}`;
          if (fingerprint !== lastRejected)
            options.log.warn({ err: (err as Error).message }, 'new TLS files are not a valid pair yet; keeping the current certificate');
          lastRejected = fingerprint;
          continue;
        }
        pair = next;
        options.log.info({ certFile }, 'TLS certificate reloaded');
        for (const l of listeners) l(pair);
      } while (again);
    } finally {
      reloading = false;
    }
  };

  let debounce: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => void reload(), 50);
    debounce.unref();
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set([dirname(certFile), dirname(keyFile)])) {
    try {
      const w = watch(dir, { persistent: false }, schedule);
      w.on('error', () => undefined);
      watchers.push(w);
    } catch {
      // polling below still picks up changes
    }
  }
  const poll = setInterval(() => void reload(), options.pollIntervalMs ?? 10_000);
  poll.unref();

  return {
    current: () => pair,
    onChange: (l) => void listeners.push(l),
    close: () => {
      clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      for (const w of watchers) w.close();
    },
  };
}
