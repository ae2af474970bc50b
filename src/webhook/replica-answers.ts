import { createHash } from 'node:crypto';
import { utf8Base64, type AdmissionReviewResponse } from './admission-review.js';
import type { AdmissionResult } from './metrics.js';

/**
 * Answers reused for the replicas of one pod template. A ReplicaSet, a Job or a DaemonSet creates
 * its pods from one template, and a pod made from `generateName` has no name yet when mutating
 * admission runs: the API server sends each replica's AdmissionReview with the same bytes except
 * `request.uid`. The decision is a pure function of those bytes, the ServiceAccount's annotations
 * and the webhook's settings, so the answer computed for the first replica is the answer for the
 * next — with the next one's uid and, where the webhook generated an identity-header secret, a new
 * secret spliced in (every pod still gets its own). A review that differs in any other byte, or a
 * ServiceAccount whose annotations changed, is decided afresh.
 *
 * An answer is kept when a review comes a second time (the first replica is remembered by its
 * key only). Bounded: at most `maxEntries` answers and `maxSeen` keys, for reviews of at most
 * `maxReviewBytes`; the oldest go first.
 *
 * @example
 * const key = answers.keyOf(body, request.uid); // undefined: not reusable, decide it
 * const hit = key && answers.get(key, saFingerprint);
 * if (hit) return hit.render(request.uid, newSecret);
 */
export class ReplicaAnswers {
  /** kept answers by review key, oldest first */
  private readonly entries = new Map<ReviewKey, ReplicaAnswer>();
  /** keys seen once, oldest first: an answer is kept when its review comes a second time */
  private readonly seen = new Set<ReviewKey>();

  constructor(
    readonly maxEntries = 128,
    readonly maxReviewBytes = 64 * 1024,
    readonly maxSeen = 4 * maxEntries,
  ) {}

  /**
   * The key of a review (its bytes as received): a SHA-256 digest of the uid's place and the bytes
   * around it. Undefined when the review is too large to keep or its uid does not occur exactly
   * once, as written, in the bytes (then where the uid was cannot be told from them alone). Two
   * reviews share a key only when they are the same bytes around one uid at the same place.
   */
  keyOf(review: Buffer, uid: string): ReviewKey | undefined {
    if (review.length > this.maxReviewBytes || uid === '') return undefined;
    const at = review.indexOf(uid, 0, 'utf8');
    if (at === -1 || review.indexOf(uid, at + 1, 'utf8') !== -1) return undefined;
    return digest(review, at, at + Buffer.byteLength(uid));
  }

  /**
   * The key of a review not parsed yet, and its uid: the value of the first `"uid":"` in its bytes
   * (where the API server writes request.uid), when that value is plain (letters, digits and `-`,
   * as the API server's UUIDs) and occurs once. It is the key keyOf() gives when that value is
   * the review's request.uid; whether it is, only an answer kept with `direct` says (see
   * unparsedReplica()). Undefined when the review is too large or has no such uid.
   */
  unparsedKey(review: Buffer): { uid: string; key: ReviewKey } | undefined {
    if (review.length > this.maxReviewBytes) return undefined;
    const at = uidPlace(review);
    if (at === -1) return undefined;
    const end = review.indexOf(QUOTE, at);
    if (end === -1 || end - at > MAX_PLAIN_UID) return undefined;
    const uid = review.toString('latin1', at, end);
    if (!PLAIN_UID.test(uid) || review.indexOf(uid, 0, 'latin1') !== at || review.indexOf(uid, end, 'latin1') !== -1) return undefined;
    return { uid, key: digest(review, at, end) };
  }

  /**
   * What a review not parsed yet tells from its bytes: its first `"uid":"` value and the key
   * (unparsedKey()), and the answer kept with `direct` (its review's first `"uid":"` value was
   * shown to be its request.uid) for the same bytes around such a value, if any: such a review is
   * that review with another plain request.uid; its ServiceAccount is still to be checked (get()).
   * Undefined when no answer is kept at all (the key is then left to keyOf(), once parsed) or the
   * review has no plain first uid value.
   */
  unparsedReplica(review: Buffer): { uid: string; key: ReviewKey; kept: { answer: ReplicaAnswer; context: ReplicaContext } | undefined } | undefined {
    if (this.entries.size === 0) return undefined;
    const found = this.unparsedKey(review);
    if (!found) return undefined;
    const answer = this.entries.get(found.key);
    return { uid: found.uid, key: found.key, kept: answer?.direct ? { answer, context: answer.direct } : undefined };
  }

  /**
   * Whether a review's first `"uid":"` value is its request.uid (`uid`, at the place keyOf()
   * found it): the review with a plain marker in that place must parse to a request whose uid is
   * the marker. Then the same bytes around any other plain value are the same review with that
   * request.uid, and a replica's answer may be found before its review is parsed.
   */
  uidIsFirstMember(review: Buffer, uid: string): boolean {
    const at = uidPlace(review);
    const end = at + Buffer.byteLength(uid);
    if (at === -1 || review.toString('utf8', at, end) !== uid || review[end] !== QUOTE) return false;
    const marker = uid === '0'.repeat(uid.length) ? '1'.repeat(uid.length) : '0'.repeat(uid.length);
    try {
      const text = `${review.toString('utf8', 0, at)}${marker}${review.toString('utf8', end)}`;
      return JSON.parse(text)?.request?.uid === marker;
    } catch {
      return false;
    }
  }

  /** The answer kept for this key, if the ServiceAccount it was decided with is unchanged. */
  get(key: ReviewKey, serviceAccount: string): ReplicaAnswer | undefined {
    const hit = this.entries.get(key);
    if (hit && hit.serviceAccount !== serviceAccount) {
      this.entries.delete(key);
      return undefined;
    }
    return hit;
  }

  /**
   * True when a review with this key was decided before (a second replica: its answer is worth
   * keeping); otherwise remembers the key and says false. A stream of pods that are all different
   * then costs a digest each, not a kept answer each.
   */
  seenBefore(key: ReviewKey): boolean {
    if (this.seen.delete(key)) return true;
    this.seen.add(key);
    if (this.seen.size > this.maxSeen) this.seen.delete(this.seen.values().next().value as ReviewKey);
    return false;
  }

  /** Keeps an answer for the replicas that follow; past `maxEntries`, the oldest kept goes. */
  set(key: ReviewKey, answer: ReplicaAnswer): void {
    this.entries.delete(key);
    this.entries.set(key, answer);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as ReviewKey);
  }

  /** Answers kept (for tests). */
  size(): number {
    return this.entries.size;
  }
}

/** A SHA-256 digest (base64) of a review's bytes without its uid, and of the uid's place. */
export type ReviewKey = string;

const QUOTE = 0x22;
const UID_MEMBER = Buffer.from('"uid":"');
const PLAIN_UID = /^[0-9A-Za-z-]+$/;
const MAX_PLAIN_UID = 256;

/** Where the value of the first `"uid":"` member starts in a review's bytes, or -1. */
function uidPlace(review: Buffer): number {
  const member = review.indexOf(UID_MEMBER);
  return member === -1 ? -1 : member + UID_MEMBER.length;
}

/** The key: a SHA-256 digest of the uid's place (`at`) and the bytes before `at` and from `end` on. */
function digest(review: Buffer, at: number, end: number): ReviewKey {
  return createHash('sha256').update(`${at}:`).update(review.subarray(0, at)).update(review.subarray(end)).digest('base64');
}

/** Who a kept answer was decided for: what a replica's answer found before parsing needs for its ServiceAccount check and its log line. */
export interface ReplicaContext {
  namespace: string;
  pod: string;
  /** the ServiceAccount read for the decision, if one was */
  serviceAccount: string | undefined;
}

/**
 * One kept answer: the AdmissionReview response as text around the uid, with the base64 patch's
 * JSON split where the generated secret was (no secret is kept).
 */
export class ReplicaAnswer {
  /** set once kept: the answer may be found before a replica's review is parsed (unparsedReplica()), for this request */
  direct: ReplicaContext | undefined = undefined;

  private constructor(
    readonly result: AdmissionResult,
    readonly serviceAccount: string,
    private readonly head: string,
    private readonly middle: string,
    private readonly patchParts: readonly string[] | undefined,
    private readonly tail: string,
  ) {}

  /**
   * Keeps `body`, the response serialised for `review` (serializeReview: the base64 patch last), for
   * later replicas. `patchJson` is the JSON of its JSONPatch and
   * `secret` the identity-header secret generated for it, if any: the secret is cut out of the
   * patch and never kept. Undefined when the body is not shaped as expected (then nothing is kept).
   */
  static keep(
    result: AdmissionResult,
    serviceAccount: string,
    review: AdmissionReviewResponse,
    body: string,
    patchJson: string | undefined,
    secret: string | undefined,
  ): ReplicaAnswer | undefined {
    const uidJson = JSON.stringify(review.response.uid);
    const at = body.indexOf(uidJson);
    if (at === -1) return undefined;
    const head = body.slice(0, at);
    const base64 = review.response.patch;
    if (patchJson === undefined || base64 === undefined) {
      if (secret !== undefined || patchJson !== undefined || base64 !== undefined) return undefined;
      return new ReplicaAnswer(result, serviceAccount, head, body.slice(at + uidJson.length), undefined, '');
    }
    const tail = '"}}';
    const patchAt = body.length - tail.length - base64.length;
    if (!body.endsWith(tail) || !body.startsWith(base64, patchAt) || !body.startsWith('"patch":"', patchAt - 9)) return undefined;
    const patchParts = secret === undefined ? [patchJson] : patchJson.split(secret);
    return new ReplicaAnswer(result, serviceAccount, head, body.slice(at + uidJson.length, patchAt), patchParts, tail);
  }

  /** The response for another replica: its uid, and `secret()` where the kept answer's secret was. */
  render(uid: string, secret: () => string): string {
    const uidJson = JSON.stringify(uid);
    if (!this.patchParts) return `${this.head}${uidJson}${this.middle}`;
    const patch = this.patchParts.length === 1 ? this.patchParts[0] : this.patchParts.join(secret());
    return `${this.head}${uidJson}${this.middle}${utf8Base64(patch)}${this.tail}`;
  }
}
