#!/usr/bin/env bash
# Installs what building and running the container image without a daemon needs, from Debian's
# packages: buildah (builds the Dockerfile), runc (runs the image as a pod would), skopeo and umoci
# (move the image into an OCI layout and unpack it), debootstrap (the local base image's Debian
# root). Idempotent: does nothing when all of them are already on PATH.
#
#   sudo scripts/install-image-tools.sh
#
# Through scripts/apt-install.sh (the project's one apt helper: dpkg lock waits, flock, retries).
set -euo pipefail

TOOLS=(buildah runc skopeo umoci debootstrap)
on_path() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
missing=()
for t in "${TOOLS[@]}"; do
  on_path "$t" || missing+=("$t")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-image-tools: ${missing[*]} missing; run as root (apt-get install ${missing[*]}), or install them yourself" >&2
  exit 1
fi

# Each tool's Debian package has the tool's name.
"$(dirname "$0")/apt-install.sh" "${missing[@]}"
for t in "${TOOLS[@]}"; do
  on_path "$t" || { echo "install-image-tools: $t is still not on PATH after installing its package" >&2; exit 1; }
done
echo "install-image-tools: $(buildah --version | head -1); $(runc --version | head -1)"
