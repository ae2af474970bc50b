#!/usr/bin/env bash
# The project's one apt helper: installs Debian packages that are missing, and nothing else.
#
#   scripts/apt-install.sh [--no-start-services] PACKAGE...
#
# - Does nothing (and needs no root) when every package is already installed.
# - Other processes may use apt at the same time (test files, other install scripts): dpkg's lock is
#   waited for (up to 10 minutes), concurrent callers of this script are serialised with flock, and
#   every apt-get call is retried while a lock is held.
# - `apt-get update` runs only when apt does not know one of the packages yet.
# - --no-start-services keeps packages' init scripts from starting system-wide daemons (the tests
#   start their own servers on loopback).
set -euo pipefail

start_services=1
if [ "${1:-}" = "--no-start-services" ]; then start_services=0; shift; fi
[ "$#" -gt 0 ] || { echo "usage: $0 [--no-start-services] PACKAGE..." >&2; exit 2; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing() { local p; for p in "$@"; do installed "$p" || echo "$p"; done; }

mapfile -t need < <(missing "$@")
[ "${#need[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "apt-install: run as root to install ${need[*]} (apt-get install ${need[*]}), or install them yourself" >&2
  exit 1
fi

exec 9>/var/lock/entra-sidecar-apt.lock
flock -w 1200 9 || { echo "apt-install: another install held the lock for 20 minutes" >&2; exit 1; }
mapfile -t need < <(missing "$@")
[ "${#need[@]}" -eq 0 ] && exit 0

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
retry() {
  local attempt
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if "$@"; then return 0; fi
    echo "apt-install: '$*' failed (attempt $attempt), retrying in 10 s (apt may be locked by another process)" >&2
    sleep 10
  done
  return 1
}

for p in "${need[@]}"; do
  if ! apt-cache show "$p" >/dev/null 2>&1; then retry apt-get "${APT_OPTS[@]}" update -qq; break; fi
done

policy=/usr/sbin/policy-rc.d
created_policy=0
if [ "$start_services" -eq 0 ] && [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

started=$(date +%s)
retry apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "apt-install: installed ${need[*]} in $(( $(date +%s) - started )) s"
