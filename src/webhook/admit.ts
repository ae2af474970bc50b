import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import {
  allowPatchJson,
  allowResponse,
  denyResponse,
  isPodCreate,
  parseAdmissionReview,
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

/** A body that is not an AdmissionReview: what is wrong with it (the server answers 400). */
export interface UnreadableReview {
  problem: string;
}

/** Decides admissions: an AdmissionReview from the bytes received, or a request already parsed. */
export interface Admitter {
  /**
   * Decides an AdmissionReview from its bytes as received. A replica of a pod template whose
   * answer was kept (ReplicaAnswers) may be answered before the bytes are parsed; every other
   * review is parsed and decided, and its answer may be kept for the replicas that follow.
   */
  review(bytes: Buffer): Promise<Answered | UnreadableReview>;
  /** Decides one parsed AdmissionRequest afresh (no answer is kept or reused). */
  request(request: AdmissionRequest): Promise<Admission>;
}

/** What the server knows of a review's bytes when it decides the request they carry. */
interface ReviewBytes {
  bytes: Buffer;
  /** the bytes' key (ReplicaAnswers.keyOf()), when already computed for this request's uid */
  key: ReviewKey | undefined;
  /** a ServiceAccount lookup made for these bytes before they were parsed, to be used instead of a second one */
  lookup: ServiceAccountLookupMade | undefined;
}

interface ServiceAccountLookupMade {
  namespace: string;
  name: string;
  result: Promise<ServiceAccountRef | null>;
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
 * Decides admissions: only Pod CREATE is mutated; the ServiceAccount is read when the pod needs it;
 * the answer is an allowing response with a JSONPatch, without one, or a denial. Never rejects.
 * (`dryRun` needs nothing special: the webhook has no side effects.)
 *
 * @example
 * const admitter = createAdmitter({ settings, serviceAccounts, log });
 * const answered = await admitter.review(body); // { body, result, reused } or { problem }
 */
export function createAdmitter(deps: AdmitDeps): Admitter {
  const newSecret = deps.newSecret ?? newIdentityHeader;
  const replicas = deps.replicaAnswers ?? new ReplicaAnswers();
  const fresh = (review: AdmissionReviewResponse, result: AdmissionResult): Admission => ({ review, result, body: serializeReview(review), reused: false });

  async function review(bytes: Buffer): Promise<Answered | UnreadableReview> {
    // a replica of a pod template whose answer was kept: answered before its review is parsed
    const unparsed = replicas.unparsedReplica(bytes);
    let lookup: ServiceAccountLookupMade | undefined;
    if (unparsed?.kept) {
      // a kept answer that cannot be given (its lookup threw, say): decided afresh, as any review
      const replica = await answerReplica(unparsed.uid, unparsed.key, unparsed.kept.answer, unparsed.kept.context).catch(() => ({ lookup: undefined }));
      if ('body' in replica) return replica;
      lookup = replica.lookup;
    }
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      return { problem: `the body is not valid JSON: ${(err as Error).message.slice(0, 120)}` };
    }
    const parsed = parseAdmissionReview(json);
    if (!parsed.ok) return { problem: parsed.problem };
    // the key found before parsing is this request's when the value it was found at is its uid
    const key = unparsed !== undefined && unparsed.uid === parsed.request.uid ? unparsed.key : undefined;
    return decide(parsed.request, { bytes, key, lookup });
  }

  function decide(request: AdmissionRequest, review: undefined): Promise<Admission>;
  function decide(request: AdmissionRequest, review: ReviewBytes): Promise<Answered>;
  async function decide(request: AdmissionRequest, review: ReviewBytes | undefined): Promise<Admission | Answered> {
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
        const made = review?.lookup;
        try {
          serviceAccount = await (made && made.namespace === namespace && made.name === saName ? made.result : deps.serviceAccounts.get(namespace, saName));
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
      const key = review === undefined ? undefined : (review.key ?? replicas.keyOf(review.bytes, uid));
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
      const bytes = review?.bytes;
      if (outcome.kind === 'skipped') {
        deps.log.debug({ ...ctx, reason: outcome.reason }, 'skipped');
        return keep(key, saFingerprint, fresh(allowResponse(uid), 'skipped'), undefined, secrets, bytes, context);
      }
      if (outcome.kind === 'denied') {
        deps.log.info({ ...ctx, reason: outcome.message }, 'denied');
        return fresh(denyResponse(uid, 400, outcome.message), 'denied');
      }
      const { patch } = outcome;
      if (patch.length === 0) {
        deps.log.debug(ctx, 'already injected; nothing to add');
        return keep(key, saFingerprint, fresh(allowResponse(uid, undefined, outcome.warnings), 'skipped'), undefined, secrets, bytes, context);
      }
      deps.log.debug({ ...ctx, operations: patch.length, dryRun: request.dryRun }, 'injected');
      const patchJson = serializePatch(patch);
      return keep(key, saFingerprint, fresh(allowPatchJson(uid, patchJson, outcome.warnings), 'injected'), patchJson, secrets, bytes, context);
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
    bytes: Buffer | undefined,
    context: ReplicaContext,
  ): Admission {
    if (key === undefined || bytes === undefined || secrets.length > 1 || !replicas.seenBefore(key)) return admission;
    const kept = ReplicaAnswer.keep(admission.result, saFingerprint, admission.review, admission.body, patchJson, secrets[0]);
    if (kept) {
      if (replicas.uidIsFirstMember(bytes, admission.review.response.uid)) kept.direct = context;
      replicas.set(key, kept);
    }
    return admission;
  }

  /**
   * A kept answer for a replica whose review is not parsed yet, once its ServiceAccount is checked:
   * the answer, or — the ServiceAccount gone, unreadable or changed — the lookup made, for the
   * review's decision afresh to use (a missing ServiceAccount is waited for once, not twice).
   */
  async function answerReplica(
    uid: string,
    key: ReviewKey,
    answer: ReplicaAnswer,
    context: ReplicaContext,
  ): Promise<Answered | { lookup: ServiceAccountLookupMade | undefined }> {
    let saFingerprint = '';
    let lookup: ServiceAccountLookupMade | undefined;
    if (context.serviceAccount !== undefined) {
      lookup = { namespace: context.namespace, name: context.serviceAccount, result: deps.serviceAccounts.get(context.namespace, context.serviceAccount) };
      let serviceAccount;
      try {
        serviceAccount = await lookup.result;
      } catch {
        return { lookup };
      }
      if (!serviceAccount) return { lookup };
      saFingerprint = JSON.stringify(serviceAccount.annotations);
    }
    // the ServiceAccount's annotations changed since: decided afresh (get() drops the answer)
    if (replicas.get(key, saFingerprint) !== answer) return { lookup };
    deps.log.debug({ namespace: context.namespace, pod: context.pod, uid, result: answer.result }, 'answered as an earlier replica of this pod template');
    return { body: answer.render(uid, newSecret), result: answer.result, reused: true };
  }

  return { review, request: (request) => decide(request, undefined) };
}
