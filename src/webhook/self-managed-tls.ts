import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import {
  caProblem,
  createCertificateAuthority,
  isUnexpired,
  issueServingCertificate,
  serviceDnsNames,
  servingCertificateProblem,
  splitPemBundle,
  type CertificateAuthority,
} from './certificates.js';
import { kubeErrorReason, requestTimeoutOptions } from './kube-client.js';
import type { KeyPair, TlsSource } from './tls.js';

const DAY_MS = 86_400_000;
const KEYS = { caCert: 'ca.crt', caKey: 'ca.key', cert: 'tls.crt', key: 'tls.key' } as const;

export interface SelfManagedTlsOptions {
  namespace: string;
  secretName: string;
  webhookConfigName: string;
  serviceName: string;
  log: Logger;
  caValidityDays?: number;
  certValidityDays?: number;
  /** issue a new serving certificate when less than this remains (default 90 days) */
  renewCertBeforeDays?: number;
  /** make a new CA when less than this remains (default 365 days; the old CA stays in the bundle) */
  renewCaBeforeDays?: number;
  /** how often the Secret and caBundle are re-checked (default 60 s) */
  checkIntervalMs?: number;
  now?: () => Date;
  /** aborts the initial wait for the Secret and caBundle */
  signal?: AbortSignal;
}

/** What the webhook serves and what the API server must trust. */
export interface ServingMaterial {
  /** PEM bundle of every unexpired CA, newest first */
  caBundle: string;
  pair: KeyPair;
}

/** The Kubernetes objects self-managed TLS reads and writes; real client-node calls. */
export class TlsObjects {
  private readonly core: CoreV1Api;
  private readonly admission: AdmissionregistrationV1Api;
  constructor(
    kc: KubeConfig,
    private readonly opts: Pick<SelfManagedTlsOptions, 'namespace' | 'secretName' | 'webhookConfigName' | 'serviceName'>,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.admission = kc.makeApiClient(AdmissionregistrationV1Api);
  }

  private get secretRef(): string {
    return `Secret ${this.opts.namespace}/${this.opts.secretName}`;
  }

  /** The Secret's decoded data and resourceVersion, or null when it does not exist. */
  async readSecret(): Promise<{ data: Record<string, string>; resourceVersion: string } | null> {
    try {
      const s = await this.core.readNamespacedSecret({ name: this.opts.secretName, namespace: this.opts.namespace }, requestTimeoutOptions(5000));
      const data: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
      return { data, resourceVersion: s.metadata?.resourceVersion ?? '' };
    } catch (err) {
      if (kubeErrorReason(err) === 'not_found') return null;
      throw explain(err, `read ${this.secretRef}`);
    }
  }

  /** Creates the Secret; false when another replica created it first. */
  async createSecret(data: Record<string, string>): Promise<boolean> {
    try {
      await this.core.createNamespacedSecret(
        {
          namespace: this.opts.namespace,
          body: {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: this.opts.secretName, namespace: this.opts.namespace, labels: { 'app.kubernetes.io/managed-by': 'entra-sidecar-webhook' } },
            type: 'Opaque',
            data: encode(data),
          },
        },
        requestTimeoutOptions(5000),
      );
      return true;
    } catch (err) {
      if (kubeErrorReason(err) === 'conflict') return false;
      if (kubeErrorReason(err) === 'forbidden') {
        throw new Error(`${this.secretRef} does not exist and the webhook may not create it: create it empty (the Helm chart does) or grant create on secrets`);
      }
      throw explain(err, `create ${this.secretRef}`);
    }
  }

  /** Replaces the Secret's data if it is still at `resourceVersion`; false on a conflict. */
  async updateSecret(data: Record<string, string>, resourceVersion: string): Promise<boolean> {
    try {
      await this.core.patchNamespacedSecret(
        {
          name: this.opts.secretName,
          namespace: this.opts.namespace,
          body: [
            { op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion },
            { op: 'add', path: '/data', value: encode(data) },
          ],
        },
        requestTimeoutOptions(5000),
      );
      return true;
    } catch (err) {
      if (kubeErrorReason(err) === 'conflict') return false;
      throw explain(err, `update ${this.secretRef}`);
    }
  }

  /**
   * Sets `caBundle` (base64 of the PEM bundle) on every webhook of the configuration that calls
   * this Service. Returns 'unchanged', 'patched', or 'conflict' (someone else wrote meanwhile).
   */
  async setCaBundle(caBundlePem: string): Promise<'unchanged' | 'patched' | 'conflict'> {
    const name = this.opts.webhookConfigName;
    let config;
    try {
      config = await this.admission.readMutatingWebhookConfiguration({ name }, requestTimeoutOptions(5000));
    } catch (err) {
      if (kubeErrorReason(err) === 'not_found')
        throw new Error(`MutatingWebhookConfiguration ${name} not found: install it (the Helm chart does) or fix --webhook-config-name`);
      throw explain(err, `read MutatingWebhookConfiguration ${name}`);
    }
    const want = Buffer.from(caBundlePem).toString('base64');
    const webhooks = config.webhooks ?? [];
    const ours = webhooks
      .map((w, i) => ({ w, i }))
      .filter(({ w }) => w.clientConfig?.service?.name === this.opts.serviceName && w.clientConfig?.service?.namespace === this.opts.namespace);
    if (ours.length === 0) {
      throw new Error(`no webhook in MutatingWebhookConfiguration ${name} calls Service ${this.opts.namespace}/${this.opts.serviceName}: fix --service-name`);
    }
    const stale = ours.filter(({ w }) => w.clientConfig.caBundle !== want);
    if (stale.length === 0) return 'unchanged';
    try {
      await this.admission.patchMutatingWebhookConfiguration(
        {
          name,
          body: [
            { op: 'replace', path: '/metadata/resourceVersion', value: config.metadata?.resourceVersion ?? '' },
            ...stale.map(({ i }) => ({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: want })),
          ],
        },
        requestTimeoutOptions(5000),
      );
      return 'patched';
    } catch (err) {
      if (kubeErrorReason(err) === 'conflict') return 'conflict';
      throw explain(err, `patch MutatingWebhookConfiguration ${name}`);
    }
  }
}

function encode(data: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) out[k] = Buffer.from(v).toString('base64');
  return out;
}

function explain(err: unknown, what: string): Error {
  const reason = kubeErrorReason(err);
  const hint = reason === 'forbidden' ? ' (check the webhook RBAC)' : '';
  return new Error(`could not ${what}: ${reason}${hint}`);
}

type Decision =
  | { kind: 'use'; material: ServingMaterial }
  | { kind: 'new-cert'; ca: CertificateAuthority; caBundle: string; why: string }
  | { kind: 'new-ca'; keep: string[]; why: string };

/**
 * Pure: decides from the Secret's data whether its CA and serving certificate can be used as they
 * are, need a new serving certificate, or a new CA.
 */
export function assessTlsSecret(
  data: Record<string, string> | undefined,
  dnsNames: string[],
  now: Date,
  renew: { certBeforeMs: number; caBeforeMs: number },
): Decision {
  const caPem = data?.[KEYS.caCert] ?? '';
  const caKey = data?.[KEYS.caKey] ?? '';
  const cas = splitPemBundle(caPem);
  if (cas.length === 0 || !caKey) return { kind: 'new-ca', keep: [], why: 'no CA yet' };
  const ca = { cert: cas[0] as string, key: caKey };
  const keep = cas.filter((c) => isUnexpired(c, now));
  const caIssue = caProblem(ca, now, renew.caBeforeMs);
  if (caIssue) return { kind: 'new-ca', keep, why: `CA ${caIssue}` };
  const pair = { cert: data?.[KEYS.cert] ?? '', key: data?.[KEYS.key] ?? '' };
  const caBundle = keep.join('');
  const certIssue = pair.cert && pair.key ? servingCertificateProblem(pair, ca.cert, dnsNames, now, renew.certBeforeMs) : 'missing';
  if (certIssue) return { kind: 'new-cert', ca, caBundle, why: `serving certificate ${certIssue}` };
  return { kind: 'use', material: { caBundle, pair } };
}

/**
 * Makes sure the Secret holds a usable CA and serving certificate and returns them. Safe with
 * several replicas: writes are conditional (create, or update at the read resourceVersion), and a
 * replica that loses the race reads and uses the winner's certificate instead of its own.
 */
export async function ensureServingSecret(objects: TlsObjects, options: SelfManagedTlsOptions): Promise<ServingMaterial> {
  const now = options.now ?? (() => new Date());
  const dnsNames = serviceDnsNames(options.serviceName, options.namespace);
  const renew = { certBeforeMs: (options.renewCertBeforeDays ?? 90) * DAY_MS, caBeforeMs: (options.renewCaBeforeDays ?? 365) * DAY_MS };
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await objects.readSecret();
    const decision = assessTlsSecret(current?.data, dnsNames, now(), renew);
    if (decision.kind === 'use') return decision.material;
    let ca: CertificateAuthority;
    let caBundle: string;
    if (decision.kind === 'new-ca') {
      ca = await createCertificateAuthority(`${options.serviceName}-ca`, options.caValidityDays ?? 3650, now());
      caBundle = ca.cert + decision.keep.join('');
    } else {
      ca = decision.ca;
      caBundle = decision.caBundle;
    }
    const pair = await issueServingCertificate(ca, dnsNames, options.certValidityDays ?? 365, now());
    const data = { [KEYS.caCert]: caBundle, [KEYS.caKey]: ca.key, [KEYS.cert]: pair.cert, [KEYS.key]: pair.key };
    const written = current ? await objects.updateSecret(data, current.resourceVersion) : await objects.createSecret(data);
    if (written) {
      options.log.info(
        { secret: `${options.namespace}/${options.secretName}`, why: decision.why },
        decision.kind === 'new-ca' ? 'created a CA and serving certificate' : 'issued a new serving certificate',
      );
      return { caBundle, pair };
    }
    options.log.info({ secret: `${options.namespace}/${options.secretName}` }, 'another replica wrote the TLS Secret first; using its certificate');
  }
  throw new Error(`could not store the TLS Secret ${options.namespace}/${options.secretName}: it kept changing (5 conflicts)`);
}

/** Makes sure the webhook configuration trusts `caBundle`, retrying on conflicts. */
export async function ensureCaBundle(objects: TlsObjects, caBundle: string, log: Logger): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = await objects.setCaBundle(caBundle);
    if (r === 'patched') log.info('caBundle written into the MutatingWebhookConfiguration');
    if (r !== 'conflict') return;
  }
  throw new Error('could not write caBundle: the MutatingWebhookConfiguration kept changing');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A TlsSource that also exposes its periodic check, for tests. */
export interface SelfManagedTlsSource extends TlsSource {
  /** re-reads the Secret (renewing when due), re-asserts caBundle, swaps the certificate if it changed */
  refresh(): Promise<void>;
  caBundle(): string;
}

/**
 * Self-managed TLS: waits (retrying with backoff, logging each failure) until the Secret holds a
 * CA and serving certificate and the webhook configuration trusts the CA, then re-checks every
 * `checkIntervalMs` — renewing before expiry, picking up another replica's renewal, and restoring a
 * caBundle that a `helm upgrade` reset.
 *
 * @example
 * const tls = await startSelfManagedTls(kc, { namespace, secretName, webhookConfigName, serviceName, log });
 */
export async function startSelfManagedTls(kc: KubeConfig, options: SelfManagedTlsOptions): Promise<SelfManagedTlsSource> {
  const objects = new TlsObjects(kc, options);
  const log = options.log;
  let material: ServingMaterial | undefined;
  for (let delay = 1000; ; delay = Math.min(delay * 2, 30_000)) {
    try {
      const m = await ensureServingSecret(objects, options);
      await ensureCaBundle(objects, m.caBundle, log);
      material = m;
      break;
    } catch (err) {
      log.warn({ err: (err as Error).message, retryInMs: delay }, 'self-managed TLS is not ready yet');
      await sleep(delay, options.signal);
    }
  }
  let current: ServingMaterial = material;
  const listeners: Array<(p: KeyPair) => void> = [];
  let running: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    running ??= (async () => {
      try {
        const m = await ensureServingSecret(objects, options);
        await ensureCaBundle(objects, m.caBundle, log);
        if (m.pair.cert !== current.pair.cert || m.pair.key !== current.pair.key) {
          current = m;
          log.info('serving certificate replaced');
          for (const l of listeners) l(m.pair);
        } else current = m;
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'self-managed TLS check failed; will retry');
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void refresh(), options.checkIntervalMs ?? 60_000);
  timer.unref();
  return {
    current: () => current.pair,
    caBundle: () => current.caBundle,
    onChange: (l) => void listeners.push(l),
    refresh,
    close: () => clearInterval(timer),
  };
}
