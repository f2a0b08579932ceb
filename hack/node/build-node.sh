#!/usr/bin/env bash
# Builds (once per pin) the node's components from the Go module proxy and caches
# them under ${CLOSEDPAW_CACHE:-~/.cache/closedpaw}, keyed by version + recipe hash:
#   containerd + ctr            github.com/containerd/containerd/v2 (hack/node/modules/containerd)
#   runsc + containerd-shim-runsc-v1   gvisor.dev/gvisor at one pseudo-version, with
#                               hack/node/gvisor-oom-score.patch applied (see hack/node/README.md)
#   kube-router                 github.com/cloudnativelabs/kube-router/v2 (hack/node/modules/kube-router)
#   kubelet + kube-proxy        inside closedpaw-kube (hack/build-kube.sh)
# then links them into hack/bin/. Every Go build runs under the shared heavy-build lock.
# Progress on stderr; fails loudly naming what to install.
set -euo pipefail
NODE="$(cd "$(dirname "$0")" && pwd)"
HACK="$(dirname "$NODE")"
CACHE="${CLOSEDPAW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/closedpaw}"
LOCK="${CLOSEDPAW_BUILD_LOCK:-/tmp/closedpaw-heavy-build.lock}"
# Bump when the build flags below change, so cached binaries are rebuilt.
RECIPE=1

log() { echo "[build-node] $*" >&2; }
command -v go >/dev/null || { log "Go is missing: install Go >= 1.26 (https://go.dev/doc/install) and retry"; exit 1; }
command -v patch >/dev/null || { log "patch is missing: apt-get install patch"; exit 1; }
command -v flock >/dev/null || { log "flock is missing: apt-get install util-linux"; exit 1; }

export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly"

module_version() { awk -v m="$2" '$1==m{print $2; exit}' "$1/go.mod"; }
recipe_hash() { (cat "$@"; echo "$RECIPE") | sha256sum | cut -c1-12; }
# Runs a command under the shared heavy-build lock, saying how long it waited for it.
heavy() {
  flock "$LOCK" bash -c 'echo "[build-node] waited $(($(date +%s) - $1)) s for the build lock" >&2; shift; exec "$@"' \
    _ "$(date +%s)" "$@"
}

containerd_version="$(module_version "$NODE/modules/containerd" github.com/containerd/containerd/v2)"
containerd_dir="$CACHE/containerd-$containerd_version-$(recipe_hash "$NODE/modules/containerd/go.mod" "$NODE/modules/containerd/go.sum")"
gvisor_version="$(module_version "$NODE/modules/gvisor" gvisor.dev/gvisor)"
gvisor_dir="$CACHE/gvisor-$gvisor_version-$(recipe_hash "$NODE/modules/gvisor/go.mod" "$NODE/modules/gvisor/go.sum" "$NODE/gvisor-oom-score.patch")"
kube_router_version="$(module_version "$NODE/modules/kube-router" github.com/cloudnativelabs/kube-router/v2)"
kube_router_dir="$CACHE/kube-router-$kube_router_version-$(recipe_hash "$NODE/modules/kube-router/go.mod" "$NODE/modules/kube-router/go.sum")"

timed() {
  local what="$1"; shift
  local started=$SECONDS
  "$@"
  log "$what built in $((SECONDS - started)) s"
}

build_containerd() {
  log "building containerd + ctr $containerd_version (cold: ~3 min on 2 cores)"
  mkdir -p "$containerd_dir.tmp"
  local ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=$containerd_version"
  for cmd in containerd ctr; do
    (cd "$NODE/modules/containerd" &&
      heavy go build -trimpath -tags no_btrfs -ldflags "$ldflags" -o "$containerd_dir.tmp/$cmd" \
        "github.com/containerd/containerd/v2/cmd/$cmd")
  done
  rm -rf "$containerd_dir" && mv "$containerd_dir.tmp" "$containerd_dir"
}

# gVisor is built from a patched copy of the module: Go refuses to build a module
# in the module cache with local edits, so the copy is `replace`d in a scratch
# copy of hack/node/modules/gvisor.
build_gvisor() {
  log "building runsc + containerd-shim-runsc-v1 $gvisor_version with gvisor-oom-score.patch (cold: ~2 min)"
  local src work
  src="$(cd "$NODE/modules/gvisor" && go mod download -json gvisor.dev/gvisor | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$src" ] || { log "go mod download gvisor.dev/gvisor@$gvisor_version gave no source directory"; exit 1; }
  work="$gvisor_dir.tmp"
  rm -rf "$work" && mkdir -p "$work/out"
  cp -r "$src" "$work/gvisor" && chmod -R u+w "$work/gvisor"
  patch -s -p1 -d "$work/gvisor" <"$NODE/gvisor-oom-score.patch"
  mkdir "$work/module"
  cp "$NODE/modules/gvisor/go.mod" "$NODE/modules/gvisor/go.sum" "$work/module/"
  (cd "$work/module" && go mod edit -replace="gvisor.dev/gvisor=$work/gvisor")
  local ldflags="-s -w -X gvisor.dev/gvisor/runsc/version.version=$gvisor_version+closedpaw-oom-score"
  (cd "$work/module" &&
    heavy go build -trimpath -ldflags "$ldflags" -o "$work/out/runsc" gvisor.dev/gvisor/runsc &&
    heavy go build -trimpath -ldflags "$ldflags" -o "$work/out/containerd-shim-runsc-v1" gvisor.dev/gvisor/shim)
  rm -rf "$gvisor_dir" && mv "$work/out" "$gvisor_dir" && rm -rf "$work"
}

build_kube_router() {
  log "building kube-router $kube_router_version (cold: ~4 min)"
  mkdir -p "$kube_router_dir.tmp"
  local ldflags="-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$kube_router_version"
  (cd "$NODE/modules/kube-router" &&
    heavy go build -trimpath -ldflags "$ldflags" -o "$kube_router_dir.tmp/kube-router" \
      github.com/cloudnativelabs/kube-router/v2/cmd/kube-router)
  rm -rf "$kube_router_dir" && mv "$kube_router_dir.tmp" "$kube_router_dir"
}

[ -x "$containerd_dir/ctr" ] || timed containerd build_containerd
[ -x "$gvisor_dir/containerd-shim-runsc-v1" ] || timed "runsc + shim" build_gvisor
[ -x "$kube_router_dir/kube-router" ] || timed kube-router build_kube_router
bash "$HACK/build-kube.sh" # takes the same lock itself

mkdir -p "$HACK/bin"
for bin in containerd ctr; do ln -sfn "$containerd_dir/$bin" "$HACK/bin/$bin"; done
for bin in runsc containerd-shim-runsc-v1; do ln -sfn "$gvisor_dir/$bin" "$HACK/bin/$bin"; done
ln -sfn "$kube_router_dir/kube-router" "$HACK/bin/kube-router"
