/**
 * Node.js flags the injected sidecar runs with (as NODE_OPTIONS). Left alone, V8 grows its reserved
 * heap to ~50 MiB around a live heap of ~11 MiB under sustained load, and RSS with it (the 10-minute
 * soak saw +12–29 %, near the 96 Mi limit); capped young and old generations keep RSS flat with
 * ample headroom over the live heap. One V8 worker thread instead of four (`--v8-pool-size=1`: a
 * sidecar has a fraction of a core) leaves fewer per-thread malloc arenas behind: 2.1–2.2 MiB less
 * RSS after 90 000 requests in paired runs (README, Performance). Only flags Node accepts in
 * NODE_OPTIONS can be injected (`--lite-mode`, `--max-lazy` cannot). The webhook injects exactly
 * this; the bench, the soak and the tests run the sidecar with it.
 */
export const SIDECAR_NODE_OPTIONS = '--max-old-space-size=48 --max-semi-space-size=1 --v8-pool-size=1';

/**
 * V8 flags the sidecar sets on itself at start (`v8.setFlagsFromString`), before its modules load:
 * flags Node does not accept in NODE_OPTIONS. `--optimize-for-size` makes V8 grow the old generation
 * in smaller steps and compile less eagerly: after 200 000 requests RSS stayed at ~61 MiB instead of
 * ~65 (+1.8 % growth instead of +6.9 %). Its throughput cost (~10 % at 10 connections in session
 * 4's paired runs) did not show beyond noise in session 6's (README, Performance; a sidecar's apps
 * ask for a token about once an hour per scope, so memory is what a fleet pays for). The bench, the
 * soak and the tests run the sidecar as built, so with it.
 */
export const SIDECAR_V8_FLAGS = '--optimize-for-size';
