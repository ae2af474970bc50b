#!/usr/bin/env bash
# Installs Prometheus and promtool from Debian's packages, for the chart's rule tests and the
# scrape end-to-end test. Idempotent: does nothing when both are already on PATH.
#
#   sudo scripts/install-prometheus.sh
#
# Through scripts/apt-install.sh (locks, retries). The package's service is not started: the tests
# start their own Prometheus on loopback.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-prometheus: run as root (apt-get install prometheus), or install Prometheus yourself" >&2
  exit 1
fi

"$(dirname "$0")/apt-install.sh" --no-start-services prometheus
command -v prometheus >/dev/null && command -v promtool >/dev/null
echo "install-prometheus: $(prometheus --version 2>&1 | head -1)"
