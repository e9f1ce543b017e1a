#!/usr/bin/env bash
# Builds the local cluster's binaries from the Go module proxy into a cache outside the repo:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (Kubernetes), etcd, kwok.
# Reused when present and complete (each binary answers --version); a lock keeps two runs from
# building at once. Prints the bin directory on the last line of stdout.
#
#   build-binaries.sh [--node] [VERSION]
#   VERSION                 a Kubernetes release (v1.32.13 or 1.32.13); default SAFE_DRAIN_K8S_VERSION,
#                           else v1.37.2. Each version has its own cache dir.
#   SAFE_DRAIN_CACHE        cache root (default: $XDG_CACHE_HOME/safe-drain or ~/.cache/safe-drain)
#
# The build module's go.mod is derived from that release's own go.mod (k8s_module below): its go
# and godebug lines, and one replace per staging module. The Go toolchain is the local one when its
# minor is the release's (.go-version in the release), else that exact toolchain, fetched by Go
# itself (GOTOOLCHAIN) from the module proxy: Kubernetes 1.32 is built with Go 1.24, as upstream.
#
# With --node it builds instead the node binaries of the real-nodes backend (cluster/src/real-nodes):
# kubelet and kube-proxy, same go.mod and flags, into their own cache dir (so adding them does not
# invalidate the control plane's cache); it prints that bin dir on the last line.
set -euo pipefail
DEFAULT_K8S_VERSION=v1.37.2
mode=control-plane
k8s_version=${SAFE_DRAIN_K8S_VERSION:-}
for arg in "$@"; do
  case $arg in
    --node) mode=node ;;
    v[0-9]* | [0-9]*) k8s_version=$arg ;;
    *) echo "usage: $0 [--node] [VERSION]   (VERSION: a Kubernetes release such as v1.32.13)" >&2; exit 2 ;;
  esac
done
k8s_version=${k8s_version:-$DEFAULT_K8S_VERSION}
[[ $k8s_version == v* ]] || k8s_version=v$k8s_version
if ! [[ $k8s_version =~ ^v1\.[0-9]+\.[0-9]+$ ]]; then
  echo "build-binaries: \"$k8s_version\" is not a Kubernetes release (expected v1.MINOR.PATCH, e.g. v1.32.13)" >&2
  exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
etcd_version=$(awk '/^require go.etcd.io\/etcd\/server\/v3 /{print $3}' "$here/etcd/go.mod")
kwok_version=v0.8.0
go_min=1.26.0

cache_root=${SAFE_DRAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/safe-drain}
dest="$cache_root/k8s-$k8s_version-etcd-$etcd_version-kwok-$kwok_version"
bin="$dest/bin"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)

log() { printf '[build-binaries %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

complete() {
  [ -f "$dest/.complete" ] || return 1
  local b
  for b in "${binaries[@]}"; do
    [ -x "$bin/$b" ] || return 1
  done
  # Output captured first: `cmd | grep -q` under pipefail fails at random when grep exits
  # before cmd has written everything (SIGPIPE).
  local out
  out=$("$bin/kube-apiserver" --version 2>/dev/null) && [[ $out == *"$k8s_version"* ]] || return 1
  out=$("$bin/kubectl" version --client 2>/dev/null) && [[ $out == *"$k8s_version"* ]] || return 1
  out=$("$bin/etcd" --version 2>/dev/null) && [[ $out == *"${etcd_version#v}"* ]] || return 1
  "$bin/kwok" --version >/dev/null 2>&1 || return 1
}

if [ "$mode" = node ]; then
  # Kept out of the control plane's dir and list: those binaries stay valid without these.
  dest="$cache_root/k8s-$k8s_version-node"
  bin="$dest/bin"
  binaries=(kubelet kube-proxy)
  complete() {
    [ -f "$dest/.complete" ] || return 1
    local b out
    for b in "${binaries[@]}"; do
      [ -x "$bin/$b" ] || return 1
      out=$("$bin/$b" --version 2>/dev/null) && [[ $out == *"$k8s_version"* ]] || return 1
    done
  }
fi

mkdir -p "$cache_root"
if complete; then
  log "cached: $bin"
  echo "$bin"
  exit 0
fi

# One build at a time, across processes (a test run and `npm run cluster` may race).
exec 9>"$cache_root/build.lock"
log "waiting for the build lock $cache_root/build.lock"
flock 9
if complete; then
  log "built by another process: $bin"
  echo "$bin"
  exit 0
fi

# A Go toolchain new enough for Kubernetes $k8s_version.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
if ! command -v go >/dev/null 2>&1; then
  log "no Go toolchain: installing Debian's golang-go"
  (apt-get -o DPkg::Lock::Timeout=300 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq golang-go) >&2
fi
have_go=$(go env GOVERSION | sed 's/^go//')
if ! version_ge "$have_go" "$go_min"; then
  # Go >= 1.21 fetches a newer toolchain itself (a module on the Go module proxy).
  if version_ge "$have_go" 1.21; then
    export GOTOOLCHAIN="go$go_min"
    log "Go $have_go is older than $go_min: using GOTOOLCHAIN=$GOTOOLCHAIN"
  else
    log "Go $have_go is too old (need >= $go_min, or >= 1.21 to fetch it); install a newer Go"
    exit 1
  fi
fi

work="$cache_root/work"
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp/bin" "$work"
# No DWARF from the compiler: -ldflags -s -w strips it from the binaries anyway, and generating it
# is compile time on the critical path of a cold .ci/run.
export GOFLAGS='-mod=mod -gcflags=all=-dwarf=false' CGO_ENABLED=0

# Writes the build module for Kubernetes $k8s_version into dir $1, for packages $2...; sets
# k8s_toolchain. Upstream's go.mod replaces its staging modules (k8s.io/api, client-go, ...) with
# ./staging paths; from the module proxy they come as the matching v0.MINOR.PATCH releases, one
# replace each.
k8s_module() {
  local dir=$1 info upstream src go_version
  shift
  info=$(cd "$work" && GOFLAGS= go mod download -json "k8s.io/kubernetes@$k8s_version") || {
    log "k8s.io/kubernetes@$k8s_version is not on the Go module proxy"; return 1; }
  upstream=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  src=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$upstream" ] && [ -d "$src" ] || { log "go mod download gave no go.mod/source for $k8s_version"; return 1; }
  rm -rf "$dir" && mkdir -p "$dir"
  {
    echo "module safe-drain.local/k8s-binaries"
    echo
    awk '$1 == "go" || $1 == "godebug" { print }' "$upstream"
    echo
    echo "require k8s.io/kubernetes $k8s_version"
    echo
    echo "replace ("
    awk -v staging="v0.${k8s_version#v1.}" '$2 == "=>" && $3 ~ /^\.\/staging\// { printf "\t%s => %s %s\n", $1, $1, staging }' "$upstream"
    echo ")"
  } >"$dir/go.mod"
  grep -q '=> k8s.io/api ' "$dir/go.mod" || { log "no staging modules found in $upstream"; return 1; }
  # The toolchain upstream built this release with, unless the local Go is of the same minor.
  go_version=$(tr -d '[:space:]' <"$src/.go-version" 2>/dev/null || true)
  k8s_toolchain=${GOTOOLCHAIN:-local}
  if [ -n "$go_version" ] && [ "$(minor_of "$go_version")" != "$(minor_of "$(go env GOVERSION | sed 's/^go//')")" ]; then
    k8s_toolchain=go$go_version
  fi
  resolve_missing_staging "$dir" "$@"
}
minor_of() { echo "$1" | cut -d. -f1,2; }

# A staging release the module proxy cannot serve (seen: k8s.io/endpointslice v0.32.13, "not
# available") is replaced by the newest earlier patch of the same minor it serves, and said so.
# Only modules the packages import matter (go list -deps names the ones it could not fetch).
resolve_missing_staging() {
  local dir=$1 round missing m v candidate
  shift
  for round in 1 2 3 4 5; do
    missing=$(cd "$dir" && GOTOOLCHAIN=$k8s_toolchain go list -deps "$@" 2>&1 >/dev/null |
      sed -n 's/.*\(k8s\.io\/[a-z0-9-]*\)@\(v0\.[0-9]*\.[0-9]*\): reading .*/\1 \2/p' | sort -u || true)
    [ -n "$missing" ] || return 0
    while read -r m v; do
      candidate=$(GOFLAGS= go list -m -versions "$m" | tr ' ' '\n' | grep -E "^${v%.*}\.[0-9]+$" |
        { cat; echo "$v"; } | sort -V | awk -v v="$v" '$0 == v { print prev; exit } { prev = $0 }' || true)
      [ -n "$candidate" ] || { log "$m $v is not on the Go module proxy, nor any earlier patch of it"; return 1; }
      log "$m $v is not on the Go module proxy: using $candidate, the newest earlier patch it has"
      sed -i "s|^\t$m => $m $v\$|\t$m => $m $candidate|" "$dir/go.mod"
    done <<<"$missing"
  done
  log "staging modules still missing after 5 rounds"; return 1
}

# Prints one line per 100 packages compiled, so a person can follow a long cold build; every other
# line of go's output (an error, a download) is passed through.
progress() { awk -v what="$1" '!/^[A-Za-z0-9._~\/-]+$/ { print; fflush(); next } { n++ } n % 100 == 0 { printf "[build-binaries] %s: %d packages compiled\n", what, n; fflush() } END { printf "[build-binaries] %s: %d packages compiled\n", what, n }' >&2; }

minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version"
start=$(date +%s)

if [ "$mode" = node ]; then
  log "building Kubernetes $k8s_version node binaries (kubelet, kube-proxy)"
  k8s_module "$work/k8s-node" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
  (cd "$work/k8s-node" && export GOTOOLCHAIN=$k8s_toolchain && go build -v -trimpath -ldflags "$ldflags" -o "$dest.tmp/bin/" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy 2>&1 | progress kubernetes-node)
  date -u +%FT%TZ > "$dest.tmp/.complete"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  if ! complete; then
    log "built node binaries failed their --version check in $bin"
    exit 1
  fi
  log "done in $(( $(date +%s) - start ))s: $bin"
  echo "$bin"
  exit 0
fi

log "building Kubernetes $k8s_version (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl); a cold build takes a long time on 2 cores"
k8s_module "$work/k8s" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
log "Go toolchain for Kubernetes $k8s_version: $k8s_toolchain ($(cd "$work/k8s" && GOTOOLCHAIN=$k8s_toolchain go version))"
(cd "$work/k8s" && export GOTOOLCHAIN=$k8s_toolchain && go build -v -trimpath -ldflags "$ldflags" -o "$dest.tmp/bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl 2>&1 | progress kubernetes)
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [ -x "$dest.tmp/bin/$b" ] || { log "go build did not produce $b (see the output above)"; exit 1; }
done

log "building etcd $etcd_version"
rm -rf "$work/etcd" && mkdir -p "$work/etcd" && cp "$here/etcd/go.mod" "$here/etcd/main.go" "$work/etcd/"
(cd "$work/etcd" && go build -v -trimpath -ldflags "-s -w" -o "$dest.tmp/bin/etcd" . 2>&1 | progress etcd)
[ -x "$dest.tmp/bin/etcd" ] || { log "etcd build failed"; exit 1; }

log "building kwok $kwok_version"
(GOBIN="$dest.tmp/bin" GOFLAGS= go install -v -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$kwok_version" 2>&1 | progress kwok)
[ -x "$dest.tmp/bin/kwok" ] || { log "kwok build failed"; exit 1; }

date -u +%FT%TZ > "$dest.tmp/.complete"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
if ! complete; then
  log "built binaries failed their --version check in $bin"
  exit 1
fi
log "done in $(( $(date +%s) - start ))s: $bin"
echo "$bin"
