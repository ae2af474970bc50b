import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import { allowResponse, denyResponse, isPodCreate, type AdmissionRequest, type AdmissionReviewResponse } from './admission-review.js';
import type { AdmissionResult } from './metrics.js';
import { mutatePod, needsServiceAccount } from './mutate.js';
import { createJsonPatch } from './patch.js';
import { checkPodShape, podDisplayName, serviceAccountNameOf, type Pod } from './pod.js';
import { ServiceAccountLookupError, type ServiceAccountLookup } from './service-accounts.js';
import type { MutationSettings } from './settings.js';

export interface AdmitDeps {
  settings: MutationSettings;
  serviceAccounts: ServiceAccountLookup;
  log: Logger;
  /** the per-pod identity-header secret; default 32 random bytes, hex */
  newSecret?: () => string;
}

export interface Admission {
  review: AdmissionReviewResponse;
  result: AdmissionResult;
}

const SECRET_BYTES = 32;
let pool = Buffer.alloc(0);
let offset = 0;

/**
 * A fresh identity-header secret: 32 random bytes as hex. Bytes come from a small pool of CSPRNG
 * output (one `randomBytes` call per 256 secrets); each slice is used once and zeroed.
 */
export function newIdentityHeader(): string {
  if (offset + SECRET_BYTES > pool.length) {
    pool = randomBytes(SECRET_BYTES * 256);
    offset = 0;
  }
  const secret = pool.toString('hex', offset, offset + SECRET_BYTES);
  pool.fill(0, offset, offset + SECRET_BYTES);
  offset += SECRET_BYTES;
  return secret;
}

/**
 * Decides one AdmissionRequest: only Pod CREATE is mutated; the ServiceAccount is read when the
 * pod needs it; the answer is an allowing response with a JSONPatch, without one, or a denial.
 * Never throws. (`dryRun` needs nothing special: the webhook has no side effects.)
 *
 * @example
 * const admit = createAdmitter({ settings, serviceAccounts, log });
 * const { review, result } = await admit(request);
 */
export function createAdmitter(deps: AdmitDeps): (request: AdmissionRequest) => Promise<Admission> {
  const newSecret = deps.newSecret ?? newIdentityHeader;
  return async (request) => {
    const { uid } = request;
    if (!isPodCreate(request)) return { review: allowResponse(uid), result: 'skipped' };
    const shapeProblem = checkPodShape(request.object);
    if (shapeProblem) {
      deps.log.warn({ uid, problem: shapeProblem }, 'request.object is not a Pod');
      return { review: denyResponse(uid, 400, `request.object is not a valid Pod: ${shapeProblem}`), result: 'error' };
    }
    const pod = request.object as Pod;
    const namespace = request.namespace || pod.metadata?.namespace || 'default';
    const podName = podDisplayName(pod, request.name);
    const ctx = { namespace, pod: podName, uid };
    try {
      let serviceAccount;
      if (needsServiceAccount(pod)) {
        const saName = serviceAccountNameOf(pod);
        try {
          serviceAccount = await deps.serviceAccounts.get(namespace, saName);
        } catch (err) {
          const message = err instanceof ServiceAccountLookupError ? err.message : `could not read ServiceAccount ${namespace}/${saName}`;
          deps.log.warn({ ...ctx, serviceAccount: saName, reason: err instanceof ServiceAccountLookupError ? err.reason : 'other' }, message);
          return { review: denyResponse(uid, 500, `entra-sidecar: ${message}; try again`), result: 'error' };
        }
        if (serviceAccount === null) {
          const message = `entra-sidecar cannot inject this pod: ServiceAccount ${namespace}/${saName} was not found (waited 2 s); create it before the pod, or fix spec.serviceAccountName`;
          deps.log.info({ ...ctx, serviceAccount: saName }, 'denied: ServiceAccount not found');
          return { review: denyResponse(uid, 400, message), result: 'denied' };
        }
      }
      const outcome = mutatePod(pod, serviceAccount ?? undefined, deps.settings, newSecret);
      if (outcome.kind === 'skipped') {
        deps.log.debug({ ...ctx, reason: outcome.reason }, 'skipped');
        return { review: allowResponse(uid), result: 'skipped' };
      }
      if (outcome.kind === 'denied') {
        deps.log.info({ ...ctx, reason: outcome.message }, 'denied');
        return { review: denyResponse(uid, 400, outcome.message), result: 'denied' };
      }
      const patch = createJsonPatch(pod, outcome.pod);
      if (patch.length === 0) {
        deps.log.debug(ctx, 'already injected; nothing to add');
        return { review: allowResponse(uid, undefined, outcome.warnings), result: 'skipped' };
      }
      deps.log.debug({ ...ctx, operations: patch.length, dryRun: request.dryRun }, 'injected');
      return { review: allowResponse(uid, patch, outcome.warnings), result: 'injected' };
    } catch (err) {
      deps.log.error({ ...ctx, err: err instanceof Error ? err.message : String(err) }, 'internal error while mutating');
      return { review: denyResponse(uid, 500, 'entra-sidecar: internal error while mutating the pod; see the webhook log'), result: 'error' };
    }
  };
}
