import type { JsonPatchOperation } from './patch.js';

/**
 * `admission.k8s.io/v1` AdmissionReview in and out: parsing the request the API server sends and
 * shaping the response it expects. No HTTP here, no decisions.
 */

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface AdmissionRequest {
  uid: string;
  kind?: GroupVersionKind;
  subResource?: string;
  operation?: string;
  namespace?: string;
  name?: string;
  object?: unknown;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  patch?: string;
  status?: { code: number; message: string };
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a parsed AdmissionReview body and returns its request, or a problem for a 400.
 *
 * @example
 * const r = parseAdmissionReview(JSON.parse(body));
 * if (!r.ok) return send(400, { error: r.problem });
 */
export function parseAdmissionReview(value: unknown): { ok: true; request: AdmissionRequest } | { ok: false; problem: string } {
  if (!isObject(value)) return { ok: false, problem: 'the body must be a JSON AdmissionReview object' };
  if (value.kind !== 'AdmissionReview') return { ok: false, problem: `kind must be AdmissionReview, got ${describe(value.kind)}` };
  if (value.apiVersion !== ADMISSION_API_VERSION) {
    return {
      ok: false,
      problem: `apiVersion must be ${ADMISSION_API_VERSION} (set admissionReviewVersions: ["v1"] in the webhook configuration), got ${describe(value.apiVersion)}`,
    };
  }
  const req = value.request;
  if (!isObject(req)) return { ok: false, problem: 'request must be an object' };
  if (typeof req.uid !== 'string' || req.uid === '' || req.uid.length > 256) return { ok: false, problem: 'request.uid must be a non-empty string' };
  const kind = req.kind;
  const gvk =
    isObject(kind) && typeof kind.kind === 'string' ? { group: String(kind.group ?? ''), version: String(kind.version ?? ''), kind: kind.kind } : undefined;
  return {
    ok: true,
    request: {
      uid: req.uid,
      kind: gvk,
      subResource: typeof req.subResource === 'string' ? req.subResource : undefined,
      operation: typeof req.operation === 'string' ? req.operation : undefined,
      namespace: typeof req.namespace === 'string' ? req.namespace : undefined,
      name: typeof req.name === 'string' ? req.name : undefined,
      object: req.object,
      dryRun: req.dryRun === true,
    },
  };
}

/** True for the only requests the webhook mutates: CREATE of a core/v1 Pod (not a subresource). */
export function isPodCreate(request: AdmissionRequest): boolean {
  const k = request.kind;
  return request.operation === 'CREATE' && !request.subResource && k !== undefined && k.group === '' && k.version === 'v1' && k.kind === 'Pod';
}

/** An allowing response, with a JSONPatch when there is something to change. */
export function allowResponse(uid: string, patch?: JsonPatchOperation[], warnings?: string[]): AdmissionReviewResponse {
  return allowPatchJson(uid, patch && patch.length > 0 ? JSON.stringify(patch) : undefined, warnings);
}

/** An allowing response with a JSONPatch already serialised (`JSON.stringify` of the operations), if any. */
export function allowPatchJson(uid: string, patchJson?: string, warnings?: string[]): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (patchJson !== undefined) {
    response.patchType = 'JSONPatch';
    response.patch = utf8Base64(patchJson);
  }
  if (warnings && warnings.length > 0) response.warnings = warnings;
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

/** A scratch buffer for utf8Base64 (the patch of a typical pod is 2–10 KB). */
const scratch = Buffer.alloc(64 * 1024);

/**
 * Base64 of a string's UTF-8 bytes (what `Buffer.from(text).toString('base64')` gives), encoded
 * through one reused buffer instead of a new one per call; the bytes are zeroed after use (a patch
 * holds the pod's identity header).
 */
export function utf8Base64(text: string): string {
  // a UTF-16 unit is at most 3 UTF-8 bytes
  if (text.length * 3 > scratch.length) return Buffer.from(text).toString('base64');
  const n = scratch.write(text, 0, 'utf8');
  const base64 = scratch.toString('base64', 0, n);
  scratch.fill(0, 0, n);
  return base64;
}

/**
 * JSON of an AdmissionReview response. The base64 patch (the bulk of it) needs no escaping, so it
 * is spliced in rather than scanned again by JSON.stringify; it is the last member.
 */
export function serializeReview(review: AdmissionReviewResponse): string {
  const { patch, ...rest } = review.response;
  if (patch === undefined) return JSON.stringify(review);
  const head = JSON.stringify({ ...review, response: rest });
  return `${head.slice(0, -2)},"patch":"${patch}"}}`;
}

/** A denying response; the API server shows `message` to the user (`code` 400: fix the pod; 500: try again). */
export function denyResponse(uid: string, code: number, message: string): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response: { uid, allowed: false, status: { code, message } } };
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `"${v.slice(0, 60)}"`;
  return v === undefined ? 'nothing' : typeof v;
}
