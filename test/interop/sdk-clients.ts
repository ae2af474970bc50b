/**
 * The Azure SDK clients of the cross-language interop matrix, each run the way an app runs it: a
 * child process with only the app container's environment. The Go, Java and current-Python
 * clients are installed (pinned, once, into a cache outside the repo) by
 * scripts/install-interop-clients.sh; the JavaScript ones come from package.json and Debian's
 * Python from scripts/install-interop-deps.sh.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { auditLog } from '../helpers/audit.js';
import { CLIENTS, PYTHON, requireClients, runClient, type ClientRun } from './setup.js';

const INSTALL = join(process.cwd(), 'scripts', 'install-interop-clients.sh');

export type Component = 'python' | 'go' | 'java' | 'storage';

/** What the install script printed: component (go-new, go-old, python, java, storage) → folder. */
export type Installed = Record<string, string>;

/**
 * Installs (or finds) the cached clients. Resolves to their folders, or to a reason to skip; with
 * CI=true a failed install rejects: CI never skips interop.
 */
export async function requireInstalled(...components: Component[]): Promise<{ dirs: Installed; skip?: undefined } | { skip: string; dirs?: undefined }> {
  const log = auditLog(`install-interop-clients-${components.join('-')}`);
  try {
    const { stdout, stderr } = await promisify(execFile)('bash', [INSTALL, ...components], {
      encoding: 'utf8',
      timeout: 25 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    log?.write(stderr);
    const dirs: Installed = {};
    for (const line of stdout.trim().split('\n')) {
      const [name, dir] = line.split(' ');
      if (name && dir) dirs[name] = dir;
    }
    return { dirs };
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    log?.write(`${e.stderr ?? ''}${e.message ?? ''}`);
    const why = `scripts/install-interop-clients.sh ${components.join(' ')} failed: ${(e.stderr ?? e.message ?? '').trim().split('\n').slice(-3).join(' | ')}`;
    if (process.env.CI === 'true') throw new Error(`interop client missing in CI: ${why}`);
    console.warn(`interop: skipping: ${why}`);
    return { skip: why };
  } finally {
    log?.end();
  }
}

/** The credential a probe builds (see the probes under clients/). */
export type Kind = 'default' | 'managed' | 'workload';

/** One client of the matrix. */
export interface SdkClient {
  /** short id, used in test names and logs */
  id: string;
  /** the package and version, as the README's table names it */
  label: string;
  /** the version the probe reports (undefined for probes that do not report one) */
  version?: string;
  /** runs the probe */
  run(kind: Kind, env: Record<string, string>, scopes: string[], timeoutMs?: number): Promise<ClientRun>;
  /** how this client reaches the IMDS flavour of a sidecar at `endpoint` */
  imdsEnv(endpoint: string): Record<string, string>;
}

const podIdentityHost = (endpoint: string): Record<string, string> => ({ AZURE_POD_IDENTITY_AUTHORITY_HOST: endpoint });

export function pythonCurrent(dirs: Installed, aio = false): SdkClient {
  const python = join(dirs.python as string, 'venv', 'bin', 'python');
  return {
    id: aio ? 'python-aio' : 'python',
    label: `Python azure-identity 1.27.0${aio ? ' (azure.identity.aio)' : ''}`,
    version: '1.27.0',
    run: (kind, env, scopes, timeoutMs) =>
      runClient(`python-current-${kind}`, python, [join(CLIENTS, 'azure_identity.py'), ...(aio ? ['--aio'] : []), kind, ...scopes], env, timeoutMs),
    imdsEnv: podIdentityHost,
  };
}

export function pythonDebian(): SdkClient {
  return {
    id: 'python-1.13',
    label: 'Python azure-identity 1.13 (Debian python3-azure)',
    run: (kind, env, scopes, timeoutMs) => runClient(`python-debian-${kind}`, PYTHON, [join(CLIENTS, 'azure_identity.py'), kind, ...scopes], env, timeoutMs),
    imdsEnv: podIdentityHost,
  };
}

export function go(dirs: Installed, which: 'new' | 'old'): SdkClient {
  const version = which === 'new' ? 'v1.15.0' : 'v1.8.2';
  const binary = join(dirs[`go-${which}`] as string, 'azidentity-probe');
  return {
    id: `go-${version}`,
    label: `Go azidentity ${version}`,
    version,
    run: (kind, env, scopes, timeoutMs) => runClient(`go-${version}-${kind}`, binary, [kind, ...scopes], env, timeoutMs),
    // azidentity has no IMDS override: the probe's transport rewrites 169.254.169.254 to the sidecar
    imdsEnv: (endpoint) => ({ INTEROP_IMDS_REWRITE: endpoint }),
  };
}

export function java(dirs: Installed, legacy = false): SdkClient {
  const dir = dirs.java as string;
  return {
    id: legacy ? 'java-legacy' : 'java',
    label: `Java azure-identity 1.18.4 (azure-sdk-bom 1.3.8)${legacy ? ', legacy managed identity' : ''}`,
    version: '1.18.4',
    run: (kind, env, scopes, timeoutMs) => {
      const result = join(mkdtempSync(join(tmpdir(), 'interop-java-')), 'result.json');
      return runClient(
        `java-${legacy ? 'legacy-' : ''}${kind}`,
        'java',
        [`-Dprobe.result=${result}`, '-cp', `${dir}/classes:${dir}/lib/*`, 'Probe', kind, ...scopes],
        { ...env, ...(legacy ? legacyEnv(env) : {}) },
        timeoutMs ?? 90_000,
        result,
      );
    },
    imdsEnv: podIdentityHost,
  };
}

/**
 * The legacy path: USE_AZURE_IDENTITY_CLIENT_LIBRARY_LEGACY_MI=true, and MSI_ENDPOINT beside
 * IDENTITY_ENDPOINT (the webhook sets it, same URL, with the msi-endpoint annotation): azure-identity
 * then checks MSI_ENDPOINT first and uses its own App Service client instead of MSAL4J.
 */
function legacyEnv(env: Record<string, string>): Record<string, string> {
  return { USE_AZURE_IDENTITY_CLIENT_LIBRARY_LEGACY_MI: 'true', ...(env.IDENTITY_ENDPOINT ? { MSI_ENDPOINT: env.IDENTITY_ENDPOINT } : {}) };
}

export function javascript(pkg: 'azure-identity-4-0' | 'azure-identity-latest'): SdkClient {
  const version = pkg === 'azure-identity-4-0' ? '4.0.1' : '4.13.1';
  return {
    id: `js-${version}`,
    label: `JavaScript @azure/identity ${version}`,
    // the probe reports no version: azure-identity-js.test.ts checks the installed package's
    run: (kind, env, scopes, timeoutMs) =>
      runClient(`${pkg}-${kind}`, process.execPath, [join(CLIENTS, 'azure-identity.mjs'), pkg, kind, ...scopes], env, timeoutMs),
    imdsEnv: podIdentityHost,
  };
}

export { requireClients };

export function msalNode(): SdkClient {
  return {
    id: 'msal-node',
    label: '@azure/msal-node ManagedIdentityApplication',
    // the probe takes resources (msal-node's acquireToken({ resource })), not scopes
    run: (_kind, env, scopes, timeoutMs) =>
      runClient('msal-node', process.execPath, [join(CLIENTS, 'msal-node.mjs'), ...scopes.map((s) => s.replace(/\/\.default$/, ''))], env, timeoutMs),
    imdsEnv: podIdentityHost,
  };
}
