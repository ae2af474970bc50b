import { join } from 'node:path';
import { fileModeOf, targetsUsed, type FileSpec } from '../contract/rendered-files.js';
import type { AccessToken } from '../identity/access-token.js';
import type { Logger } from '../log.js';
import type { SidecarMetrics } from './metrics.js';
import { renderFile, type TokenFacts } from './render.js';
import { writeFileAtomic } from './token-files.js';

/** One rendered file's state for /readyz, without tokens. */
export interface FileReadiness {
  name: string;
  kind: FileSpec['kind'];
  ready: boolean;
  /** the earliest expiry among the tokens in the file on disk */
  expiresOn?: string;
  lastError?: string;
}

export interface RenderedFilesOptions {
  dir: string;
  files: readonly FileSpec[];
  /** the token files' mode (password files are always 0600) */
  fileMode: number;
  /** absent for `--once`, which serves no metrics */
  metrics?: SidecarMetrics;
  log: Logger;
}

/**
 * Keeps the rendered files (`entra-sidecar.io/file.<name>`) in step with the tokens: each file is
 * rendered from the newest token of every target it reads and written atomically, whenever one of
 * them changes. A file whose render or write fails keeps its previous content whole; the failure is
 * counted and logged without the token.
 */
export class RenderedFiles {
  private readonly latest = new Map<string, TokenFacts>();
  /** per file: the earliest expiry among the tokens it was last written with */
  private readonly written = new Map<string, number>();
  private readonly lastError = new Map<string, string>();
  /** per file: writes run one after another, each with the tokens current when it starts */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly o: RenderedFilesOptions) {}

  /** The files that read a target. */
  usersOf(target: string): FileSpec[] {
    return this.o.files.filter((f) => targetsUsed(f).includes(target));
  }

  /**
   * Records a target's new token and rewrites every file that reads it (once all of that file's
   * targets hold a token). Resolves when those writes are done, failed ones included.
   */
  tokenChanged(target: string, token: AccessToken): Promise<void> {
    this.latest.set(target, { token: token.token, expiresOnMs: token.expiresOnMs, scope: token.scope });
    return Promise.all(this.usersOf(target).map((f) => this.queue(f))).then(() => undefined);
  }

  /** Problems of the last attempt per file (for `--once`), empty when every file is written. */
  failures(): string[] {
    return this.o.files
      .filter((f) => !this.written.has(f.name))
      .map((f) => `${f.name}: ${this.lastError.get(f.name) ?? 'not rendered: a target it reads has no token'}`);
  }

  readiness(nowMs: number): FileReadiness[] {
    return this.o.files.map((f) => {
      const until = this.written.get(f.name);
      return {
        name: f.name,
        kind: f.kind,
        ready: until !== undefined && until > nowMs,
        expiresOn: until !== undefined ? new Date(until).toISOString() : undefined,
        lastError: this.lastError.get(f.name),
      };
    });
  }

  /** Resolves when every write queued so far is done. */
  settled(): Promise<void> {
    return Promise.all(this.chains.values()).then(() => undefined);
  }

  private queue(spec: FileSpec): Promise<void> {
    const next = (this.chains.get(spec.name) ?? Promise.resolve()).then(() => this.write(spec));
    this.chains.set(spec.name, next);
    return next;
  }

  private async write(spec: FileSpec): Promise<void> {
    const targets = targetsUsed(spec);
    if (targets.some((t) => !this.latest.has(t))) return;
    const snapshot = new Map(targets.map((t) => [t, this.latest.get(t) as TokenFacts]));
    const rendered = renderFile(spec, snapshot);
    if (!rendered.ok) {
      this.fail(spec, 'render', rendered.problem, `cannot render ${spec.name}: it ${rendered.problem}; the previous file stays as it was`);
      return;
    }
    try {
      await writeFileAtomic(join(this.o.dir, spec.name), rendered.content, fileModeOf(spec, this.o.fileMode));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      this.fail(spec, 'write', `cannot write it (${code})`, `cannot write ${spec.name} in ${this.o.dir} (${code}); the previous file stays as it was`);
      return;
    }
    this.written.set(spec.name, Math.min(...[...snapshot.values()].map((t) => t.expiresOnMs)));
    this.lastError.delete(spec.name);
  }

  private fail(spec: FileSpec, reason: 'render' | 'write', problem: string, message: string): void {
    this.o.metrics?.renderFailures.labels(spec.name, reason).inc();
    this.lastError.set(spec.name, problem);
    this.o.log.error({ file: spec.name, kind: spec.kind, targets: targetsUsed(spec), reason }, message);
  }
}
