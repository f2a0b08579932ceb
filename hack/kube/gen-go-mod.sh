#!/usr/bin/env bash
# Regenerates go.mod/go.sum for the pinned Kubernetes release: requires
# k8s.io/kubernetes at KUBE_VERSION and replaces every staging module (which
# upstream points at ./staging/src/...) with its published v0.<minor>.<patch>.
# Run by hand when changing the pin; the result is committed.
set -euo pipefail
cd "$(dirname "$0")"
KUBE_VERSION="${1:?usage: gen-go-mod.sh v1.36.3 [etcd-version]}"
ETCD_VERSION="${2:-}"
STAGING_VERSION="v0.${KUBE_VERSION#v1.}"
rm -f go.mod go.sum
go mod init closedpaw.dev/hack/kube >/dev/null 2>&1
upstream_mod="$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
go_directive="$(awk '/^go /{print $2; exit}' "$upstream_mod")"
go mod edit -go="$go_directive" -require="k8s.io/kubernetes@${KUBE_VERSION}"
grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$upstream_mod" | awk '{print $1}' | while read -r module; do
  go mod edit -replace="${module}=${module}@${STAGING_VERSION}"
done
if [ -n "$ETCD_VERSION" ]; then go mod edit -require="go.etcd.io/etcd/server/v3@${ETCD_VERSION}"; fi
go mod tidy
