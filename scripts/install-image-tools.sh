#!/usr/bin/env bash
# Installs what building and running the container image without a daemon needs, from Debian's
# packages: buildah (builds the Dockerfile), runc (runs the image as a pod would), skopeo and umoci
# (move the image into an OCI layout and unpack it), debootstrap (the local base image's Debian
# root). Idempotent: does nothing when all of them are already on PATH.
#
#   sudo scripts/install-image-tools.sh
#
# Other processes may be using apt at the same time: dpkg's lock is waited for (up to 10 minutes)
# and apt-get is retried while its own lock is held.
set -euo pipefail

TOOLS=(buildah runc skopeo umoci debootstrap)
missing=()
for t in "${TOOLS[@]}"; do
  command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || missing+=("$t")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-image-tools: ${missing[*]} missing; run as root (apt-get install ${missing[*]}), or install them yourself" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)

retry() {
  local attempt
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if "$@"; then return 0; fi
    echo "install-image-tools: '$*' failed (attempt $attempt), retrying in 10 s (apt may be locked by another process)" >&2
    sleep 10
  done
  return 1
}

# Update the package lists only when apt does not know a package yet.
for t in "${missing[@]}"; do
  if ! apt-cache show "$t" >/dev/null 2>&1; then
    retry apt-get "${APT_OPTS[@]}" update -qq
    break
  fi
done

retry apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for t in "${TOOLS[@]}"; do
  command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ]
done
echo "install-image-tools: $(buildah --version | head -1); $(runc --version | head -1)"
