import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log.js';
import type { AdmissionRequest } from '../../src/webhook/admission-review.js';
import { createAdmitter, type Admitter, type Answered, type UnreadableReview } from '../../src/webhook/admit.js';
import type { ServiceAccountRef } from '../../src/webhook/annotations.js';
import type { Pod } from '../../src/webhook/pod.js';
import { ReplicaAnswers } from '../../src/webhook/replica-answers.js';
import type { ServiceAccountLookup } from '../../src/webhook/service-accounts.js';
import { applyJsonPatch, byName, env, loadPod, settings, workloadIdentitySa } from './pod-checks.js';

const log = createLogger('error', 'webhook');

/** The review text the API server sends for one replica: the same pod, its own uid. */
function reviewText(pod: Pod, uid: string, namespace = 'shop'): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace, object: pod },
  });
}
/** A uid as the API server makes them (a UUID), from a short name. */
const uid = (n: string) => `${n.padEnd(8, '0')}-0000-4000-8000-000000000000`;
const requestOf = (text: string): AdmissionRequest => {
  const r = JSON.parse(text).request;
  return { uid: r.uid, kind: r.kind, operation: r.operation, namespace: r.namespace, object: r.object, dryRun: false };
};

/** A ServiceAccount lookup whose answer the test changes. */
function saLookup(initial: ServiceAccountRef): ServiceAccountLookup & { sa: ServiceAccountRef; gets: number } {
  const l = {
    sa: initial,
    gets: 0,
    get: async () => {
      l.gets++;
      return l.sa;
    },
  };
  return l;
}

function answered(a: Answered | UnreadableReview): Answered {
  if ('problem' in a) throw new Error(`unreadable review: ${a.problem}`);
  return a;
}
/** The admitter's answer to these bytes, and whether it parsed them (JSON.parse of their text) to give it. */
async function reviewed(admit: Admitter, bytes: Buffer): Promise<{ answer: Answered; parsed: boolean }> {
  const text = bytes.toString('utf8');
  const parse = vi.spyOn(JSON, 'parse');
  try {
    const answer = answered(await admit.review(bytes));
    return { answer, parsed: parse.mock.calls.some(([t]) => t === text) };
  } finally {
    parse.mockRestore();
  }
}
const response = (a: Answered) => JSON.parse(a.body).response as { uid: string; allowed: boolean; patch?: string; warnings?: string[] };
const patchOf = (a: Answered) => JSON.parse(Buffer.from(response(a).patch as string, 'base64').toString()) as unknown[];

function setup(pod: Pod, replicaAnswers = new ReplicaAnswers()) {
  const serviceAccounts = saLookup(workloadIdentitySa(pod));
  let n = 0;
  const newSecret = () => (++n).toString(16).padStart(64, 'c');
  const admit = createAdmitter({ settings: settings(), serviceAccounts, log, newSecret, replicaAnswers });
  /** one replica's review, as the server hands it over: its bytes */
  const replica = async (p: Pod, name: string, namespace?: string) => answered(await admit.review(Buffer.from(reviewText(p, uid(name), namespace))));
  return { admit, replica, serviceAccounts, replicaAnswers };
}
const secret = (n: number) => n.toString(16).padStart(64, 'c');

describe('ReplicaAnswers: replicas of one pod template answered once', () => {
  it('answers a third replica (same review, its own uid) with the decision kept for the second, its uid and a new secret', async () => {
    const pod = loadPod('deployment-pod');
    const { replica, replicaAnswers } = setup(pod);
    const first = await replica(pod, 'uid-1');
    expect(replicaAnswers.size()).toBe(0); // the first of a template is only remembered by its key
    const second = await replica(pod, 'uid-2');
    const third = await replica(pod, 'uid-3');
    expect([first.reused, second.reused, third.reused]).toEqual([false, false, true]);
    expect(third.result).toBe('injected');
    expect(replicaAnswers.size()).toBe(1);
    expect(response(third).uid).toBe(uid('uid-3'));
    // the same patch but for the secret: every pod its own
    expect(JSON.stringify(patchOf(third))).toBe(JSON.stringify(patchOf(second)).replaceAll(secret(2), secret(3)));
    expect(JSON.stringify(patchOf(third))).not.toContain(secret(2));
    const injected = applyJsonPatch(pod, patchOf(third));
    expect(env(byName(injected, 'entra-sidecar')).ENTRA_SIDECAR_IDENTITY_HEADER).toBe(secret(3));
    expect(env(byName(injected, pod.spec.containers[0].name)).IDENTITY_HEADER).toBe(secret(3));
    // and it is what deciding afresh gives
    const fresh = setup(pod);
    await fresh.admit.request(requestOf(reviewText(pod, uid('x'))));
    await fresh.admit.request(requestOf(reviewText(pod, uid('y'))));
    expect(third.body).toBe((await fresh.admit.request(requestOf(reviewText(pod, uid('uid-3'))))).body);
  });

  it('decides afresh when the review differs in any other byte, or the ServiceAccount changed', async () => {
    const pod = loadPod('deployment-pod');
    const { replica, serviceAccounts } = setup(pod);
    await replica(pod, 'a1');
    await replica(pod, 'a2');
    expect((await replica(pod, 'a3')).reused).toBe(true);
    const other = structuredClone(pod);
    other.metadata!.annotations!['entra-sidecar.io/tokens'] = 'storage=https://storage.azure.com/.default';
    await replica(other, 'b1');
    const changed = await replica(other, 'b2');
    expect(changed.reused).toBe(false);
    expect(JSON.stringify(patchOf(changed))).toContain('storage=https://storage.azure.com/.default');
    // another namespace: another byte
    await replica(pod, 'c1', 'other');
    expect((await replica(pod, 'c2', 'other')).reused).toBe(false);
    // the ServiceAccount names another client id now
    serviceAccounts.sa = {
      ...serviceAccounts.sa,
      annotations: { ...serviceAccounts.sa.annotations, 'azure.workload.identity/client-id': 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa' },
    };
    const afterSa = await replica(pod, 'd1');
    expect(afterSa.reused).toBe(false);
    expect(env(byName(applyJsonPatch(pod, patchOf(afterSa)), 'entra-sidecar')).AZURE_CLIENT_ID).toBe('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa');
    expect((await replica(pod, 'd2')).reused).toBe(false);
    const reusedAgain = await replica(pod, 'd3');
    expect(reusedAgain.reused).toBe(true);
    expect(env(byName(applyJsonPatch(pod, patchOf(reusedAgain)), 'entra-sidecar')).AZURE_CLIENT_ID).toBe('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa');
  });

  it('keeps no answer for a review whose uid occurs more than once in its text, nor for denials', async () => {
    const pod = loadPod('deployment-pod');
    const { replica, replicaAnswers } = setup(pod);
    for (const n of ['u1', 'u2', 'u3']) {
      const twice = structuredClone(pod);
      twice.metadata!.annotations!.note = uid(n);
      expect((await replica(twice, n)).reused).toBe(false);
    }
    const denied = structuredClone(pod);
    denied.metadata!.annotations!['entra-sidecar.io/port'] = '80';
    const outcomes = [await replica(denied, 'd1'), await replica(denied, 'd2'), await replica(denied, 'd3')];
    expect(outcomes.map((o) => [o.result, o.reused])).toEqual([
      ['denied', false],
      ['denied', false],
      ['denied', false],
    ]);
    expect(replicaAnswers.size()).toBe(0);
  });

  it('keys by the bytes around the uid and its place, bounded in size', () => {
    const answers = new ReplicaAnswers(2, 100);
    const key = (text: string, uid: string) => answers.keyOf(Buffer.from(text), uid);
    expect(key('{"uid":"u1","x":1}', 'u1')).toBe(key('{"uid":"u2","x":1}', 'u2'));
    expect(key('{"uid":"u1","x":1}', 'u1')).not.toBe(key('{"uid":"u1","x":2}', 'u1'));
    // the same characters around another place are another key
    expect(key('abU1c', 'U1')).not.toBe(key('aU2bc', 'U2'));
    expect(key('x'.repeat(101), 'x')).toBeUndefined();
    expect(key('{"uid":"u1","y":"u1"}', 'u1')).toBeUndefined();
    expect(key('{"uid":"u\\u0031"}', 'u1')).toBeUndefined();
    // the digest is SHA-256 of the place, a colon, and the bytes before and after the uid
    const sha = (text: string) => createHash('sha256').update(text).digest('base64');
    expect(key('{"uid":"u1","x":1}', 'u1')).toBe(sha('8:{"uid":"","x":1}'));
    expect(new ReplicaAnswers(2, 70_000).keyOf(Buffer.from(`{"uid":"u1","x":"${'y'.repeat(66_000)}"}`), 'u1')).toBe(
      sha(`8:{"uid":"","x":"${'y'.repeat(66_000)}"}`),
    );
  });

  it('keeps at most maxEntries answers, the oldest out first', async () => {
    const pods = [0, 1, 2].map((n) => {
      const p = loadPod('deployment-pod');
      p.metadata!.labels!.replica = `template-${n}`;
      return p;
    });
    const { replica, replicaAnswers } = setup(pods[0], new ReplicaAnswers(2));
    for (const [n, p] of pods.entries()) for (const r of ['a', 'b']) await replica(p, `${r}${n}`);
    expect(replicaAnswers.size()).toBe(2);
    expect((await replica(pods[2], 'c2')).reused).toBe(true);
    expect((await replica(pods[0], 'c0')).reused).toBe(false);
  });

  it('a reinvocation (the webhook’s containers already there) is reused too, keeping the pod’s own secret', async () => {
    const pod = loadPod('deployment-pod');
    const { replica } = setup(pod);
    const first = await replica(pod, 'f');
    const injected = applyJsonPatch(pod, patchOf(first));
    injected.spec.containers.push({ name: 'late', image: 'busybox' });
    const again = [await replica(injected, 'g'), await replica(injected, 'h'), await replica(injected, 'i')];
    expect(again.map((r) => r.reused)).toEqual([false, false, true]);
    const late = byName(applyJsonPatch(injected, patchOf(again[2])), 'late');
    expect(env(late).IDENTITY_HEADER).toBe(secret(1));
  });

  describe('answered before the review is parsed (Admitter.review)', () => {
    /** the bytes of one replica's review */
    const bytes = (p: Pod, name: string) => Buffer.from(reviewText(p, uid(name)));

    it('gives the answer deciding afresh gives: the replica’s uid and a new secret, once an answer is kept', async () => {
      const pod = loadPod('deployment-pod');
      const { admit, replica, serviceAccounts, replicaAnswers } = setup(pod);
      expect(replicaAnswers.unparsedReplica(bytes(pod, 'e0'))).toBeUndefined(); // nothing kept yet
      await replica(pod, 'e1');
      const second = await replica(pod, 'e2');
      const gets = serviceAccounts.gets;
      const { answer: third, parsed } = await reviewed(admit, bytes(pod, 'e3'));
      expect([parsed, third.reused, third.result]).toEqual([false, true, 'injected']);
      expect(serviceAccounts.gets).toBe(gets + 1); // the ServiceAccount is still checked
      expect(response(third).uid).toBe(uid('e3'));
      expect(JSON.stringify(patchOf(third))).toBe(JSON.stringify(patchOf(second)).replaceAll(secret(2), secret(3)));
      const fresh = setup(pod);
      await fresh.admit.request(requestOf(reviewText(pod, uid('x'))));
      await fresh.admit.request(requestOf(reviewText(pod, uid('y'))));
      expect(third.body).toBe((await fresh.admit.request(requestOf(reviewText(pod, uid('e3'))))).body);
      // any other byte, or a uid that is not plain: parsed
      const other = structuredClone(pod);
      other.metadata!.labels!.extra = 'x';
      for (const b of [
        bytes(other, 'e4'),
        Buffer.from(reviewText(pod, 'e5_0000-0000-4000-8000-000000000000')),
        Buffer.from(reviewText(pod, `${uid('e6')}\\u0030`)),
      ]) {
        expect(replicaAnswers.unparsedReplica(b)?.kept).toBeUndefined();
        expect((await reviewed(admit, b)).parsed).toBe(true);
      }
    });

    it('only where the first "uid" member is the request’s uid: another member with that value first is not reused unparsed', async () => {
      const pod = loadPod('deployment-pod');
      const { admit, replicaAnswers } = setup(pod);
      // request.uid written with an escape, and the same value, plain, in a member named uid before it
      const crafted = (first: string, name: string) =>
        Buffer.from(
          `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","before":{"uid":"${first}"},"request":{"uid":"\\u00${uid(name).charCodeAt(0).toString(16)}${uid(name).slice(1)}","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"shop","object":${JSON.stringify(pod)}}}`,
        );
      // three replicas, the same bytes: the second's answer is kept
      for (let i = 0; i < 3; i++) {
        const text = crafted(uid('k1'), 'k1');
        expect(requestOf(text.toString()).uid).toBe(uid('k1'));
        answered(await admit.review(text));
      }
      expect(replicaAnswers.size()).toBe(1);
      // the same bytes but the first member's value: another review, whose request.uid is still k1's
      const attempt = crafted(uid('evil'), 'k1');
      expect(replicaAnswers.unparsedReplica(attempt)?.kept).toBeUndefined();
      const decided = await reviewed(admit, attempt);
      expect([decided.parsed, response(decided.answer).uid]).toEqual([true, uid('k1')]);
      // (keyed by the member that names the uid as written, the kept answer is found once parsed, and is right)
      const again = await reviewed(admit, crafted(uid('k1'), 'k1'));
      expect([again.parsed, again.answer.reused, response(again.answer).uid]).toEqual([true, true, uid('k1')]);
    });

    it('a kept answer that cannot be given (its ServiceAccount lookup throws) is decided afresh: an answer, never a rejection', async () => {
      const pod = loadPod('deployment-pod');
      const { admit, replica, serviceAccounts } = setup(pod);
      await replica(pod, 't1');
      await replica(pod, 't2');
      serviceAccounts.get = () => {
        serviceAccounts.gets++;
        throw new Error('API client broke');
      };
      const decided = await reviewed(admit, bytes(pod, 't3'));
      expect([decided.parsed, decided.answer.result, response(decided.answer).allowed, response(decided.answer).uid]).toEqual([
        true,
        'error',
        false,
        uid('t3'),
      ]);
    });

    it('a ServiceAccount changed or gone: parsed and decided afresh, with one lookup', async () => {
      const pod = loadPod('deployment-pod');
      const { admit, replica, serviceAccounts, replicaAnswers } = setup(pod);
      await replica(pod, 's1');
      await replica(pod, 's2');
      serviceAccounts.sa = {
        ...serviceAccounts.sa,
        annotations: { ...serviceAccounts.sa.annotations, 'azure.workload.identity/client-id': 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa' },
      };
      const changedGets = serviceAccounts.gets;
      const afresh = await reviewed(admit, bytes(pod, 's3'));
      expect([afresh.parsed, afresh.answer.reused]).toEqual([true, false]);
      expect(serviceAccounts.gets).toBe(changedGets + 1);
      expect(replicaAnswers.size()).toBe(0);
      expect(env(byName(applyJsonPatch(pod, patchOf(afresh.answer)), 'entra-sidecar')).AZURE_CLIENT_ID).toBe('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa');
      // gone: the denial comes from the lookup already made, not a second wait for it
      const missing = setup(pod);
      await missing.replica(pod, 'm1');
      await missing.replica(pod, 'm2');
      missing.serviceAccounts.get = async () => {
        missing.serviceAccounts.gets++;
        return null;
      };
      const gets = missing.serviceAccounts.gets;
      const denied = await reviewed(missing.admit, bytes(pod, 'm3'));
      expect([denied.parsed, denied.answer.result]).toEqual([true, 'denied']);
      expect(missing.serviceAccounts.gets).toBe(gets + 1);
    });
  });
});
