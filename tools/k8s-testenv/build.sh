#!/usr/bin/env bash
# Build the k8s test control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok) from the Go module proxy, once, into a cache
# outside the repo keyed by versions and go.mod/go.sum. Idempotent: a complete bin dir is reused.
# The last line printed is the bin dir.
#
#   GAMEDAY_CACHE   cache root (default /var/cache/gameday)
#   GO              go binary (default: go on PATH, else /usr/local/go/bin/go)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Versions come from the wrapper go.mod so there is one source of truth.
# Prints the required version of module $1 in go.mod $2 (block or one-line form).
mod_version() {
  awk -v m="$1" '$1=="require" && $2==m {print $3; exit} $1==m && $2 ~ /^v/ {print $2; exit}' "$2"
}
k8s_version="$(mod_version k8s.io/kubernetes "$here/go.mod")"
kwok_version="$(mod_version sigs.k8s.io/kwok "$here/go.mod")"
if [[ -z "$k8s_version" || -z "$kwok_version" ]]; then
  echo "build.sh: cannot read versions from go.mod files" >&2
  exit 1
fi

# keyed by the versions named and by the whole module graph (a bumped etcd or library rebuilds too)
graph="$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-12)"
bin_dir="${GAMEDAY_CACHE:-/var/cache/gameday}/k8s-testenv/${k8s_version}-${kwok_version}-${graph}/bin"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

complete=1
for b in "${binaries[@]}"; do
  [[ -x "$bin_dir/$b" ]] || complete=0
done
if [[ "$complete" == 1 ]]; then
  echo "build.sh: cached binaries present, nothing to do" >&2
  echo "$bin_dir"
  exit 0
fi

go_bin="${GO:-}"
if [[ -z "$go_bin" ]]; then
  go_bin="$(command -v go || true)"
  [[ -n "$go_bin" ]] || go_bin=/usr/local/go/bin/go
fi
if [[ ! -x "$go_bin" ]]; then
  echo "build.sh: Go toolchain not found (set GO or put go on PATH)" >&2
  exit 1
fi

export CGO_ENABLED=0
export GOFLAGS="-trimpath -mod=mod -buildvcs=false"
export GOTOOLCHAIN=local

major="${k8s_version#v}"; major="${major%%.*}"
minor="${k8s_version#v*.}"; minor="${minor%%.*}"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_version#v}"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X ${pkg}.gitVersion=${k8s_version}"
  ldflags+=" -X ${pkg}.gitMajor=${major}"
  ldflags+=" -X ${pkg}.gitMinor=${minor}"
  ldflags+=" -X ${pkg}.gitTreeState=clean"
  ldflags+=" -X ${pkg}.buildDate=${build_date}"
done

stage="$(mktemp -d "${bin_dir%/bin}.stage.XXXXXX" 2>/dev/null || true)"
if [[ -z "$stage" ]]; then
  mkdir -p "$(dirname "$bin_dir")"
  stage="$(mktemp -d "${bin_dir%/bin}.stage.XXXXXX")"
fi
trap 'rm -rf "$stage"' EXIT

start=$SECONDS
# One `go build` of all six: packages compile once and each link overlaps the remaining compiles.
echo "build.sh: building Kubernetes ${k8s_version}, etcd and kwok ${kwok_version} into $stage (2 parallel jobs)" >&2
(
  cd "$here"
  "$go_bin" build -p 2 -ldflags "$ldflags" -o "$stage/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl \
    go.etcd.io/etcd/server/v3 \
    sigs.k8s.io/kwok/cmd/kwok
)
mv -f "$stage/server" "$stage/etcd"  # go names the binary of go.etcd.io/etcd/server/v3 after "server"

mkdir -p "$bin_dir"
for b in "${binaries[@]}"; do
  mv -f "$stage/$b" "$bin_dir/$b"
done
echo "build.sh: built in $((SECONDS - start))s" >&2
echo "$bin_dir"
