import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import {
  allowPatchJson,
  allowResponse,
  denyResponse,
  isPodCreate,
  serializeReview,
  type AdmissionRequest,
  type AdmissionReviewResponse,
} from './admission-review.js';
import type { AdmissionResult } from './metrics.js';
import { mutatePod, needsServiceAccount } from './mutate.js';
import { serializePatch } from './patch.js';
import { checkPodShape, podDisplayName, serviceAccountNameOf, type Pod } from './pod.js';
import { ReplicaAnswer, ReplicaAnswers, type ReplicaContext, type ReviewKey } from './replica-answers.js';
import { ServiceAccountLookupError, type ServiceAccountLookup } from './service-accounts.js';
import type { MutationSettings } from './settings.js';
import type { ServiceAccountRef } from './annotations.js';

export interface AdmitDeps {
  settings: MutationSettings;
  serviceAccounts: ServiceAccountLookup;
  log: Logger;
  /** the per-pod identity-header secret; default 32 random bytes, hex */
  newSecret?: () => string;
  /** answers kept for the replicas of one pod template (default: a new ReplicaAnswers) */
  replicaAnswers?: ReplicaAnswers;
}

/** An AdmissionReview answered: the response as sent, and how the admission ended. */
export interface Answered {
  /** the AdmissionReview response, JSON */
  body: string;
  result: AdmissionResult;
  /** true when the answer is the one decided for an earlier replica (same review bytes but the uid) */
  reused: boolean;
}

/** An admission decided afresh: the answer, and the response it was serialised from. */
export interface Admission extends Answered {
  review: AdmissionReviewResponse;
}

/**
 * Decides AdmissionRequests. Given the review's bytes too, an answer may be the one decided for an
 * earlier replica of the same pod template (ReplicaAnswers); without them, every request is decided
 * afresh and the response object is returned as well.
 */
export interface Admitter {
  (request: AdmissionRequest): Promise<Admission>;
  (request: AdmissionRequest, review: Buffer): Promise<Answered>;
  /**
   * The answer for a replica from the review's bytes alone, before they are parsed: only for the
   * same bytes but a plain request.uid as a review whose answer was kept (ReplicaAnswers
   * unparsedReplica()), and the same ServiceAccount. Undefined (or a promise of it): parse the
   * review and call the admitter.
   */
  replica?: (review: Buffer) => Promise<Answered | undefined> | undefined;
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
export function createAdmitter(deps: AdmitDeps): Admitter {
  const newSecret = deps.newSecret ?? newIdentityHeader;
  const replicas = deps.replicaAnswers ?? new ReplicaAnswers();
  const fresh = (review: AdmissionReviewResponse, result: AdmissionResult): Admission => ({ review, result, body: serializeReview(review), reused: false });
  async function admit(request: AdmissionRequest, review?: Buffer): Promise<Admission | Answered> {
    const { uid } = request;
    if (!isPodCreate(request)) return fresh(allowResponse(uid), 'skipped');
    const shapeProblem = checkPodShape(request.object);
    if (shapeProblem) {
      deps.log.warn({ uid, problem: shapeProblem }, 'request.object is not a Pod');
      return fresh(denyResponse(uid, 400, `request.object is not a valid Pod: ${shapeProblem}`), 'error');
    }
    const pod = request.object as Pod;
    const namespace = request.namespace || pod.metadata?.namespace || 'default';
    const podName = podDisplayName(pod, request.name);
    const ctx = { namespace, pod: podName, uid };
    const context: ReplicaContext = { namespace, pod: podName, serviceAccount: undefined };
    try {
      let serviceAccount;
      if (needsServiceAccount(pod)) {
        const saName = serviceAccountNameOf(pod);
        context.serviceAccount = saName;
        try {
          serviceAccount = await lookupServiceAccount(namespace, saName, review);
        } catch (err) {
          const message = err instanceof ServiceAccountLookupError ? err.message : `could not read ServiceAccount ${namespace}/${saName}`;
          deps.log.warn({ ...ctx, serviceAccount: saName, reason: err instanceof ServiceAccountLookupError ? err.reason : 'other' }, message);
          return fresh(denyResponse(uid, 500, `entra-sidecar: ${message}; try again`), 'error');
        }
        if (serviceAccount === null) {
          const message = `entra-sidecar cannot inject this pod: ServiceAccount ${namespace}/${saName} was not found (waited 2 s); create it before the pod, or fix spec.serviceAccountName`;
          deps.log.info({ ...ctx, serviceAccount: saName }, 'denied: ServiceAccount not found');
          return fresh(denyResponse(uid, 400, message), 'denied');
        }
      }
      // the decision depends on the review's bytes, the ServiceAccount's annotations and the settings
      const key = review === undefined ? undefined : replicas.keyOf(review, uid);
      const saFingerprint = serviceAccount ? JSON.stringify(serviceAccount.annotations) : '';
      const kept = key === undefined ? undefined : replicas.get(key, saFingerprint);
      if (kept) {
        deps.log.debug({ ...ctx, result: kept.result }, 'answered as an earlier replica of this pod template');
        return { body: kept.render(uid, newSecret), result: kept.result, reused: true };
      }
      const secrets: string[] = [];
      const outcome = mutatePod(pod, serviceAccount ?? undefined, deps.settings, () => {
        const s = newSecret();
        secrets.push(s);
        return s;
      });
      if (outcome.kind === 'skipped') {
        deps.log.debug({ ...ctx, reason: outcome.reason }, 'skipped');
        return keep(key, saFingerprint, fresh(allowResponse(uid), 'skipped'), undefined, secrets, review, context);
      }
      if (outcome.kind === 'denied') {
        deps.log.info({ ...ctx, reason: outcome.message }, 'denied');
        return fresh(denyResponse(uid, 400, outcome.message), 'denied');
      }
      const { patch } = outcome;
      if (patch.length === 0) {
        deps.log.debug(ctx, 'already injected; nothing to add');
        return keep(key, saFingerprint, fresh(allowResponse(uid, undefined, outcome.warnings), 'skipped'), undefined, secrets, review, context);
      }
      deps.log.debug({ ...ctx, operations: patch.length, dryRun: request.dryRun }, 'injected');
      const patchJson = serializePatch(patch);
      return keep(key, saFingerprint, fresh(allowPatchJson(uid, patchJson, outcome.warnings), 'injected'), patchJson, secrets, review, context);
    } catch (err) {
      deps.log.error({ ...ctx, err: err instanceof Error ? err.message : String(err) }, 'internal error while mutating');
      return fresh(denyResponse(uid, 500, 'entra-sidecar: internal error while mutating the pod; see the webhook log'), 'error');
    }
  }

  /**
   * Keeps an answer for later replicas (at most one generated secret, cut out), and returns it.
   * Marked direct when the review's first `"uid":"` is its request.uid: later replicas are then
   * answered before their reviews are parsed.
   */
  function keep(
    key: ReviewKey | undefined,
    saFingerprint: string,
    admission: Admission,
    patchJson: string | undefined,
    secrets: string[],
    review: Buffer | undefined,
    context: ReplicaContext,
  ): Admission {
    if (key === undefined || review === undefined || secrets.length > 1 || !replicas.seenBefore(key)) return admission;
    const kept = ReplicaAnswer.keep(admission.result, saFingerprint, admission.review, admission.body, patchJson, secrets[0]);
    if (kept) {
      if (replicas.uidIsFirstMember(review, admission.review.response.uid)) kept.direct = context;
      replicas.set(key, kept);
    }
    return admission;
  }

  /** See Admitter.replica. */
  function replica(review: Buffer): Promise<Answered | undefined> | undefined {
    const found = replicas.unparsedReplica(review);
    return found && answerReplica(review, found.uid, found.key, found.answer, found.context);
  }

  /** A ServiceAccount lookup that answerReplica() made for these bytes before giving up on them. */
  const earlierLookups = new WeakMap<Buffer, { namespace: string; name: string; result: Promise<ServiceAccountRef | null> }>();

  function lookupServiceAccount(namespace: string, name: string, review: Buffer | undefined): Promise<ServiceAccountRef | null> {
    const earlier = review && earlierLookups.get(review);
    if (earlier) {
      earlierLookups.delete(review);
      if (earlier.namespace === namespace && earlier.name === name) return earlier.result;
    }
    return deps.serviceAccounts.get(namespace, name);
  }

  async function answerReplica(review: Buffer, uid: string, key: ReviewKey, answer: ReplicaAnswer, context: ReplicaContext): Promise<Answered | undefined> {
    let saFingerprint = '';
    if (context.serviceAccount !== undefined) {
      const lookup = deps.serviceAccounts.get(context.namespace, context.serviceAccount);
      let serviceAccount;
      try {
        serviceAccount = await lookup;
      } catch {
        serviceAccount = null;
      }
      if (!serviceAccount) {
        // decided afresh, with this lookup's outcome (not a second wait for a missing ServiceAccount)
        earlierLookups.set(review, { namespace: context.namespace, name: context.serviceAccount, result: lookup });
        return undefined;
      }
      saFingerprint = JSON.stringify(serviceAccount.annotations);
    }
    // the ServiceAccount's annotations changed since: decided afresh (get() drops the answer)
    if (replicas.get(key, saFingerprint) !== answer) return undefined;
    deps.log.debug({ namespace: context.namespace, pod: context.pod, uid, result: answer.result }, 'answered as an earlier replica of this pod template');
    return { body: answer.render(uid, newSecret), result: answer.result, reused: true };
  }

  (admit as Admitter).replica = replica;
  return admit as Admitter;
}
