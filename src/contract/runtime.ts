/**
 * Node.js flags the injected sidecar runs with (as NODE_OPTIONS). Left alone, V8 grows its reserved
 * heap to ~50 MiB around a live heap of ~11 MiB under sustained load, and RSS with it (the 10-minute
 * soak saw +12–29 %, near the 96 Mi limit); capped young and old generations keep RSS flat with
 * ample headroom over the live heap. The webhook injects exactly this; the bench, the soak and the
 * tests run the sidecar with it.
 */
export const SIDECAR_NODE_OPTIONS = '--max-old-space-size=48 --max-semi-space-size=1';
