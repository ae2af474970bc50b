import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import { collectProcessMetrics } from '../process-metrics.js';
import { VERSION } from '../version.js';
import { FLAVOURS } from '../contract/flavours.js';
import { EndpointTally, tallyHistogram } from './endpoint-tally.js';

/** The label used for scopes asked for on demand, so label values stay bounded. */
export const ON_DEMAND_TARGET = '_on_demand';

/**
 * Every metric the sidecar exposes, defined once, on its own registry. Base units, `_total`
 * counters, `_seconds` durations; labels are bounded (configured target names, flavours, status
 * codes, AADSTS codes).
 */
export class SidecarMetrics {
  readonly registry = new Registry();
  readonly refreshes = new Counter({
    name: 'entra_sidecar_refreshes_total',
    help: 'Token exchanges with Entra by target and result (success or failure).',
    labelNames: ['target', 'result'] as const,
    registers: [this.registry],
  });
  readonly refreshDuration = new Histogram({
    name: 'entra_sidecar_refresh_duration_seconds',
    help: 'Duration of token exchanges with Entra.',
    labelNames: ['target'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly tokenExpiry = new Gauge({
    name: 'entra_sidecar_token_expiry_timestamp_seconds',
    help: 'Expiry of the token held for each target, as a unix timestamp.',
    labelNames: ['target'] as const,
    registers: [this.registry],
  });
  readonly exchangeErrors = new Counter({
    name: 'entra_sidecar_exchange_errors_total',
    help: 'Failed exchanges by target and reason: an AADSTS code, http_<status>, network, timeout, tls, malformed_response or federated_token.',
    labelNames: ['target', 'reason'] as const,
    registers: [this.registry],
  });
  /** token requests by flavour (index into FLAVOURS), status and duration: recorded here, read by the two metrics below at scrape time */
  readonly endpoint = new EndpointTally(FLAVOURS, [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]);
  readonly endpointRequests: Counter<'flavour' | 'code'> = new Counter({
    name: 'entra_sidecar_endpoint_requests_total',
    help: 'Token endpoint requests by protocol flavour and HTTP status code.',
    labelNames: ['flavour', 'code'] as const,
    registers: [this.registry],
    collect: () => this.endpoint.drainCounts(this.endpointRequests),
  });
  readonly endpointDuration = register(
    this.registry,
    tallyHistogram(this.endpoint, 'entra_sidecar_endpoint_request_duration_seconds', 'Token endpoint latency by protocol flavour.'),
  );
  readonly federatedTokenExpiry = new Gauge({
    name: 'entra_sidecar_federated_token_expiry_timestamp_seconds',
    help: 'Expiry of the projected service-account token last read, as a unix timestamp.',
    registers: [this.registry],
  });
  readonly tokensHeld = new Gauge({
    name: 'entra_sidecar_tokens_held',
    help: 'Scopes currently holding a valid token (configured targets and on-demand scopes).',
    registers: [this.registry],
  });
  readonly fileWriteErrors = new Counter({
    name: 'entra_sidecar_token_file_write_errors_total',
    help: 'Failed writes of token files by target.',
    labelNames: ['target'] as const,
    registers: [this.registry],
  });
  readonly renderFailures = new Counter({
    name: 'entra_sidecar_render_failures_total',
    help: 'Rendered files (entra-sidecar.io/file.<name>) not rewritten after a token changed, by file and reason (render: the token cannot be written in that format; write: a file system error). The previous file stays.',
    labelNames: ['file', 'reason'] as const,
    registers: [this.registry],
  });
  readonly ready = new Gauge({
    name: 'entra_sidecar_ready',
    help: '1 when every configured target holds a valid token and its files (rendered files included) are written, else 0.',
    registers: [this.registry],
  });
  readonly credentialInfo = new Gauge({
    name: 'entra_sidecar_credential_info',
    help: 'The credential source the sidecar authenticates to Entra with (federated, client_secret, client_certificate); always 1.',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly credentialExpiry = new Gauge({
    name: 'entra_sidecar_credential_expiry_timestamp_seconds',
    help: 'notAfter of the client certificate last read, as a unix timestamp (client certificates only).',
    registers: [this.registry],
  });
  readonly newScopesRefused = new Counter({
    name: 'entra_sidecar_new_scopes_refused_total',
    help: 'Requests for a scope the sidecar does not hold, refused with 503 without asking Entra because the new-scope budget (ENTRA_SIDECAR_NEW_SCOPE_BURST, ENTRA_SIDECAR_NEW_SCOPES_PER_MINUTE) was used up.',
    registers: [this.registry],
  });
  readonly connectionsShed = new Counter({
    name: 'entra_sidecar_listener_connections_shed_total',
    help: 'Connections a listener (endpoint or health) dropped at its limits: evicted (the oldest slow or idle one, to make room), refused (503, no room) or body_budget (503, too many request bodies held).',
    labelNames: ['listener', 'reason'] as const,
    registers: [this.registry],
  });
  readonly buildInfo = new Gauge({
    name: 'entra_sidecar_build_info',
    help: 'Build information; always 1.',
    labelNames: ['version'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectProcessMetrics(this.registry);
    this.buildInfo.labels(VERSION).set(1);
  }
}

function register(registry: Registry, metric: Metric<string>): Metric<string> {
  registry.registerMetric(metric);
  return metric;
}
