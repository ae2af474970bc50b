#!/usr/bin/env bash
# Builds a real Kubernetes control plane from source for the cluster tests (test/cluster/):
# kube-apiserver and kubectl from k8s.io/kubernetes at one pinned release, etcd from
# go.etcd.io/etcd/server/v3 at a pinned 3.6.x, all through the Go module proxy. The binaries go
# into a cache folder outside the repo keyed by version; a second run finds them and is instant.
#
#   scripts/install-control-plane.sh     # prints the folder holding kube-apiserver, kubectl, etcd
#
# k8s.io/kubernetes is not meant to be used as a dependency: its go.mod requires the staging
# modules (k8s.io/api, k8s.io/apiserver, ...) at v0.0.0 with `replace => ./staging/...`, which
# the go command ignores outside the main module. So a throw-away wrapper module replaces every
# staging module, read from that release's own go.mod through the proxy, with its published
# v0.<minor>.<patch>, and builds the commands from there.
#
# Environment:
#   ENTRA_SIDECAR_CONTROL_PLANE_CACHE  cache root (default $HOME/.cache/entra-sidecar/control-plane)
#   CONTROL_PLANE_BUILD_JOBS           go build -p (default 2; the build runs under nice)
# Safe to run from several processes at once: a lock serialises builds; the result is built aside
# and moved into place.
set -euo pipefail

K8S_VERSION="1.35.4"
ETCD_VERSION="3.6.16"

key="k8s-v${K8S_VERSION}-etcd-v${ETCD_VERSION}"
cache_root="${ENTRA_SIDECAR_CONTROL_PLANE_CACHE:-${HOME:-/root}/.cache/entra-sidecar/control-plane}"
dir="$cache_root/$key"
bin="$dir/bin"
stamp="$bin/.built"
log() { echo "install-control-plane: $*" >&2; }

cached() {
  [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kubectl" ] && [ -x "$bin/etcd" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]
}
if cached; then
  echo "$bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  for candidate in /usr/local/go/bin /usr/lib/go/bin; do
    if [ -x "$candidate/go" ]; then PATH="$candidate:$PATH"; break; fi
  done
fi
command -v go >/dev/null 2>&1 || {
  log "Go is needed to build kube-apiserver, kubectl and etcd from source (install Go >= 1.24 and put it on PATH)"
  exit 1
}

mkdir -p "$dir"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$dir/.lock"
  if ! flock -n 9; then
    log "another build of $key is running; waiting for it"
    flock 9
  fi
  if cached; then echo "$bin"; exit 0; fi
fi

work="$(mktemp -d "$dir/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0
export GOFLAGS="-p=${CONTROL_PLANE_BUILD_JOBS:-2} -buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

started=$(date +%s)
log "building kube-apiserver and kubectl v$K8S_VERSION, etcd v$ETCD_VERSION with $(go version | cut -d' ' -f3) into $bin (cold: tens of minutes on 2 cores)"

# --- kube-apiserver and kubectl -----------------------------------------------------------
minor="${K8S_VERSION#1.}"   # 35.4 -> staging modules are v0.35.4
mkdir -p "$work/k8s" "$work/bin"
# (no subshells: bash runs the EXIT trap, which removes $work, when a subshell exits)
cd "$work/k8s"
{
  gomod="$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  [ -s "$gomod" ] || { log "could not fetch the go.mod of k8s.io/kubernetes@v$K8S_VERSION"; exit 1; }
  go mod init local/k8sbin >/dev/null 2>&1
  staging="$(sed -n 's|^[[:space:]]*\(k8s.io/[^ ]*\) => \./staging/.*|\1|p' "$gomod")"
  [ -n "$staging" ] || { log "found no staging replaces in k8s.io/kubernetes@v$K8S_VERSION's go.mod"; exit 1; }
  count=0
  for module in $staging; do
    go mod edit -replace="$module=$module@v0.$minor"
    count=$((count + 1))
  done
  log "replaced $count staging modules with v0.$minor (from the release's go.mod)"
  go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@v$K8S_VERSION" >/dev/null
  ld="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*} -X k8s.io/component-base/version.gitTreeState=clean"
  t=$(date +%s)
  nice -n 10 go build -trimpath -ldflags "$ld" -o "$work/bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  log "kube-apiserver built in $(( $(date +%s) - t )) s"
  t=$(date +%s)
  nice -n 10 go build -trimpath -ldflags "$ld" -o "$work/bin/kubectl" k8s.io/kubernetes/cmd/kubectl
  log "kubectl built in $(( $(date +%s) - t )) s"
}

# --- etcd -----------------------------------------------------------------------------------
mkdir -p "$work/etcd"
cd "$work/etcd"
{
  go mod init local/etcdbin >/dev/null 2>&1
  go get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >/dev/null
  t=$(date +%s)
  nice -n 10 go build -trimpath -ldflags "-s -w" -o "$work/bin/etcd" go.etcd.io/etcd/server/v3
  log "etcd built in $(( $(date +%s) - t )) s"
}
cd /

"$work/bin/kube-apiserver" --version >&2
"$work/bin/kubectl" version --client=true >&2
"$work/bin/etcd" --version | head -1 >&2
echo "$key" >"$work/bin/.built"

if [ -d "$bin" ]; then rm -rf "$bin"; fi
mv "$work/bin" "$bin"
log "built $key in $(( $(date +%s) - started )) s"
echo "$bin"
