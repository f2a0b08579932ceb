#!/usr/bin/env bash
# Builds (once per pin) the multi-call binary closedpaw-kube (kube-apiserver, etcd,
# kubectl, kube-controller-manager, kube-scheduler, kubelet, kube-proxy) from hack/kube and
# helm, caching both under ${CLOSEDPAW_CACHE:-~/.cache/closedpaw}; then links
# hack/bin/{closedpaw-kube,kubectl,helm} to the cached binaries.
# Prints nothing but progress on stderr; fails loudly with what to install.
set -euo pipefail
HACK="$(cd "$(dirname "$0")" && pwd)"
CACHE="${CLOSEDPAW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/closedpaw}"
LOCK="${CLOSEDPAW_BUILD_LOCK:-/tmp/closedpaw-heavy-build.lock}"
HELM_VERSION="v3.22.0"
HELM_LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"

log() { echo "[build-kube] $*" >&2; }
command -v go >/dev/null || { log "Go is missing: install Go >= 1.26 (https://go.dev/doc/install) and retry"; exit 1; }

kube_version="$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$HACK/kube/go.mod")"
# Bump KUBE_RECIPE when the build flags below change, so cached binaries are rebuilt.
KUBE_RECIPE=1
source_hash="$( (cat "$HACK/kube/go.mod" "$HACK/kube/go.sum" "$HACK/kube/main.go"; echo "$KUBE_RECIPE") | sha256sum | cut -c1-12)"
kube_bin="$CACHE/kube-$kube_version-$source_hash/closedpaw-kube"
helm_bin="$CACHE/helm-$HELM_VERSION-$(echo "$HELM_LDFLAGS" | sha256sum | cut -c1-8)/helm"

export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly"

build_kube() {
  local minor="${kube_version#v1.}"; minor="${minor%%.*}"
  local build_date
  build_date="$(cd "$HACK/kube" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)"
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done
  log "building kube-apiserver, etcd, kubectl, kube-controller-manager, kube-scheduler, kubelet, kube-proxy $kube_version (cold: several minutes on 2 cores)"
  mkdir -p "$(dirname "$kube_bin")"
  (cd "$HACK/kube" && go build -trimpath -ldflags "$ldflags" -o "$kube_bin.tmp.$$" .)
  mv "$kube_bin.tmp.$$" "$kube_bin"
}

build_helm() {
  log "building helm $HELM_VERSION"
  mkdir -p "$(dirname "$helm_bin")"
  GOBIN="$(dirname "$helm_bin")" go install -trimpath -ldflags "$HELM_LDFLAGS" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

if [ ! -x "$kube_bin" ] || [ ! -x "$helm_bin" ]; then
  # One heavy build at a time on this machine (the lock is shared with hack/node
  # and other builders); whoever waited re-checks, so a binary is built once.
  exec 9>>"$LOCK"
  flock 9
  [ -x "$kube_bin" ] || build_kube
  [ -x "$helm_bin" ] || build_helm
  flock -u 9
fi

mkdir -p "$HACK/bin"
ln -sfn "$kube_bin" "$HACK/bin/closedpaw-kube"
ln -sfn "$kube_bin" "$HACK/bin/kubectl"
ln -sfn "$helm_bin" "$HACK/bin/helm"
