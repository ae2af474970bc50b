import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../process-metrics.js';
import { LOOKUP_ERROR_REASONS, type LookupErrorReason } from './service-accounts.js';

/** How an admission ended. */
export type AdmissionResult = 'injected' | 'skipped' | 'denied' | 'error';
export const ADMISSION_RESULTS: readonly AdmissionResult[] = ['injected', 'skipped', 'denied', 'error'];

/**
 * The webhook's metrics on their own registry, in the sidecar's style (a class whose fields are the
 * metrics): admissions by result, admission latency, ServiceAccount lookup errors by reason,
 * connections shed, build info, and the process default metrics. Every label value starts at 0.
 *
 * @example
 * const metrics = new WebhookMetrics(VERSION);
 * res.end(await metrics.registry.metrics());
 */
export class WebhookMetrics {
  readonly registry = new Registry();
  readonly admissions = new Counter({
    name: 'entra_sidecar_webhook_admissions_total',
    help: 'Pod admissions answered by the webhook, by result (injected, skipped, denied, error).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly admissionDuration = new Histogram({
    name: 'entra_sidecar_webhook_admission_duration_seconds',
    help: 'Time from receiving an AdmissionReview to answering it.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly replicaAnswers = new Counter({
    name: 'entra_sidecar_webhook_replica_answers_total',
    help: 'Admissions answered with the decision made for an earlier replica of the same pod template (the same AdmissionReview but for its uid; each pod still gets its own identity-header secret).',
    registers: [this.registry],
  });
  readonly lookupErrors = new Counter({
    name: 'entra_sidecar_webhook_serviceaccount_lookup_errors_total',
    help: 'ServiceAccount reads that failed after retries, by reason (not_found, forbidden, timeout, ...).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  /** connections a listener (admission or health) dropped at its limits, by reason */
  readonly connectionsShed = new Counter({
    name: 'entra_sidecar_webhook_connections_shed_total',
    help: 'Connections a listener (admission or health) dropped at its limits: evicted (the oldest slow or idle one, to make room), refused (no room) or body_budget (too many request bodies held).',
    labelNames: ['listener', 'reason'] as const,
    registers: [this.registry],
  });
  readonly buildInfo = new Gauge({
    name: 'entra_sidecar_webhook_build_info',
    help: 'Always 1; the version label carries the webhook version.',
    labelNames: ['version'] as const,
    registers: [this.registry],
  });

  constructor(version: string) {
    collectProcessMetrics(this.registry);
    this.buildInfo.set({ version }, 1);
    for (const result of ADMISSION_RESULTS) this.admissions.inc({ result }, 0);
    for (const reason of LOOKUP_ERROR_REASONS) this.lookupErrors.inc({ reason }, 0);
  }

  /** Counts one admission and its duration. */
  observeAdmission(result: AdmissionResult, seconds: number): void {
    this.admissions.inc({ result });
    this.admissionDuration.observe(seconds);
  }

  lookupError(reason: LookupErrorReason): void {
    this.lookupErrors.inc({ reason });
  }
}
