#!/usr/bin/env bash
# Installs Prometheus and promtool from Debian's packages, for the chart's rule tests and the
# scrape end-to-end test. Idempotent: does nothing when both are already on PATH.
#
#   sudo scripts/install-prometheus.sh
#
# Other processes may be using apt at the same time: dpkg's lock is waited for (up to 10 minutes)
# and apt-get update is retried while its own lock is held. The package's service is not started:
# the tests start their own Prometheus on loopback.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-prometheus: run as root (apt-get install prometheus), or install Prometheus yourself" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)

retry() {
  local attempt
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if "$@"; then return 0; fi
    echo "install-prometheus: '$*' failed (attempt $attempt), retrying in 10 s (apt may be locked by another process)" >&2
    sleep 10
  done
  return 1
}

# Update the package lists only when apt does not know the package yet.
if ! apt-cache show prometheus >/dev/null 2>&1; then
  retry apt-get "${APT_OPTS[@]}" update -qq
fi

# Keep the package's init script from starting a system-wide Prometheus on port 9090.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

retry apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends prometheus >/dev/null

command -v prometheus >/dev/null && command -v promtool >/dev/null
echo "install-prometheus: $(prometheus --version 2>&1 | head -1)"
