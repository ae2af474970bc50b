#!/usr/bin/env bash
# Runs the cluster suite (test/cluster/): a real kube-apiserver and etcd built from source, real
# helm and kubectl, the webhook and the sidecar as processes. Expects `npm run build` done.
#
#   scripts/test-cluster.sh [vitest args...]
#
# Without Go the control plane cannot be built: the suite is skipped with the reason printed, or,
# with CI=true, the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; fi
if ! command -v go >/dev/null 2>&1; then
  reason="Go is not installed, so kube-apiserver, etcd and kubectl cannot be built from source (install Go >= 1.24, then run npm run test:cluster)"
  if [ "${CI:-}" = "true" ]; then
    echo "test:cluster: $reason (CI=true: a missing toolchain fails the run)" >&2
    exit 1
  fi
  echo "SKIPPED the cluster suite (test/cluster/): $reason"
  exit 0
fi

started=$(date +%s)
bin="$(bash scripts/install-control-plane.sh)"
echo "test:cluster: control plane in $bin (ready after $(( $(date +%s) - started )) s)"
export ENTRA_SIDECAR_CONTROL_PLANE_BIN="$bin"
exec npx vitest run --config vitest.cluster.config.ts "$@"
