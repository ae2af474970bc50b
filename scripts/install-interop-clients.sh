#!/usr/bin/env bash
# Installs the Azure SDK clients of the cross-language interop suite (test/interop/) into a cache
# outside the repo, pinned, once per version; later runs find them and do nothing:
#
#   python   a venv (Debian's /usr/bin/python3) with azure-identity, azure-storage-blob, aiohttp from PyPI
#   go       two builds of test/interop/clients/go/main.go: azidentity (newest) and azidentity v1.8.x (before MSAL Go)
#   java     azure-identity through azure-sdk-bom (+ slf4j-nop) from Maven Central, Probe.java compiled against it
#   storage  Azure Storage's emulator (Azurite) and @azure/storage-blob + @azure/identity from npm, as
#            test/interop/clients/storage/package.json pins them (--engine-strict: all run on Node 20)
#
#   scripts/install-interop-clients.sh [python] [go] [java] [storage]     (none: all of them)
#
# Prints one line per component: `<component> <folder>`. The cache is
# ${ENTRA_SIDECAR_CACHE:-$HOME/.cache/entra-sidecar}/interop/<component>-<versions>-<source hash>;
# a folder counts only when its `.complete` stamp exists, so an interrupted install starts over.
# Parallel callers (vitest runs test files in parallel) take a lock per component and wait.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE="${ENTRA_SIDECAR_CACHE:-$HOME/.cache/entra-sidecar}/interop"
CLIENTS="$ROOT/test/interop/clients"

# --- pinned versions (the README's flavour table names these) ---
PY_AZURE_IDENTITY=1.27.0
PY_AZURE_STORAGE_BLOB=12.31.1
PY_AIOHTTP=3.14.5
GO_AZIDENTITY_NEW=v1.15.0
GO_AZIDENTITY_OLD=v1.8.2
JAVA_SDK_BOM=1.3.8

mkdir -p "$CACHE"
log() { echo "install-interop-clients: $*" >&2; }
hash_of() { cat "$@" | sha256sum | cut -c1-12; }

# with_lock NAME DIR FUNCTION: runs FUNCTION DIR under a lock unless DIR/.complete exists.
with_lock() {
  local name=$1 dir=$2 fn=$3
  if [ ! -e "$dir/.complete" ]; then
    exec 9>"$CACHE/$name.lock"
    flock -w 1500 9 || { log "$name: another install held the lock for 25 minutes"; exit 1; }
    if [ ! -e "$dir/.complete" ]; then
      local started=$SECONDS
      rm -rf "$dir" && mkdir -p "$dir"
      "$fn" "$dir"
      touch "$dir/.complete"
      log "$name: installed into $dir in $((SECONDS - started)) s"
    fi
    exec 9>&-
  fi
  echo "$name $dir"
}

install_python() {
  local dir=$1
  if ! /usr/bin/python3 -m venv "$dir/venv" >/dev/null 2>&1; then
    log "python: /usr/bin/python3 -m venv failed; installing Debian's python3-venv"
    [ "$(id -u)" -eq 0 ] || { log "python: run as root, or apt-get install python3-venv yourself"; exit 1; }
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends python3-venv >/dev/null ||
      { apt-get -o DPkg::Lock::Timeout=600 update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends python3-venv >/dev/null; }
    rm -rf "$dir/venv"
    /usr/bin/python3 -m venv "$dir/venv"
  fi
  "$dir/venv/bin/pip" install -q --disable-pip-version-check --retries 5 \
    "azure-identity==$PY_AZURE_IDENTITY" "azure-storage-blob==$PY_AZURE_STORAGE_BLOB" "aiohttp==$PY_AIOHTTP" >&2
}

# build_go DIR VERSION: a module requiring azidentity@VERSION, main.go built into DIR/azidentity-probe.
build_go() {
  local dir=$1 version=$2
  cp "$CLIENTS/go/main.go" "$dir/main.go"
  (
    cd "$dir"
    export GOFLAGS=-mod=mod GOTOOLCHAIN=local
    go mod init interop-probe >/dev/null 2>&1
    go get "github.com/Azure/azure-sdk-for-go/sdk/azidentity@$version" >&2
    go mod tidy >&2
    nice go build -trimpath -o azidentity-probe . >&2
  )
}
install_go_new() { build_go "$1" "$GO_AZIDENTITY_NEW"; }
install_go_old() { build_go "$1" "$GO_AZIDENTITY_OLD"; }

install_java() {
  local dir=$1
  cp "$CLIENTS/java/pom.xml" "$CLIENTS/java/Probe.java" "$dir/"
  (
    cd "$dir"
    mvn -B -q -Dmaven.repo.local="${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}" dependency:copy-dependencies -DoutputDirectory=lib -DincludeScope=runtime >&2
    mkdir -p classes
    javac -d classes -cp 'lib/*' Probe.java >&2
  )
}

install_storage() {
  local dir=$1
  cp "$CLIENTS/storage/package.json" "$dir/"
  (cd "$dir" && npm install --engine-strict --no-audit --no-fund --loglevel=error >&2)
}

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(python go java storage)
for c in "${components[@]}"; do
  case "$c" in
    python) with_lock python "$CACHE/python-identity$PY_AZURE_IDENTITY-blob$PY_AZURE_STORAGE_BLOB-aiohttp$PY_AIOHTTP" install_python ;;
    go)
      command -v go >/dev/null || { log "go: the go command is not on PATH"; exit 1; }
      src=$(hash_of "$CLIENTS/go/main.go")
      with_lock go-new "$CACHE/go-azidentity-$GO_AZIDENTITY_NEW-$src" install_go_new
      with_lock go-old "$CACHE/go-azidentity-$GO_AZIDENTITY_OLD-$src" install_go_old
      ;;
    java)
      command -v mvn >/dev/null && command -v javac >/dev/null || { log "java: mvn and javac must be on PATH (Debian: maven, openjdk-17-jdk-headless)"; exit 1; }
      with_lock java "$CACHE/java-sdk-bom$JAVA_SDK_BOM-$(hash_of "$CLIENTS/java/pom.xml" "$CLIENTS/java/Probe.java")" install_java
      ;;
    storage) with_lock storage "$CACHE/storage-$(hash_of "$CLIENTS/storage/package.json")" install_storage ;;
    *) log "unknown component $c: use python, go, java or storage"; exit 1 ;;
  esac
done
