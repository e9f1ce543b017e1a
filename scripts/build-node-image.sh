#!/usr/bin/env bash
# Builds the images of the real-nodes backend (cluster/src/real-nodes) offline, cached by content
# hash (docker image label safe-drain.content-hash); nothing is ever pulled:
#   safe-drain.local/node-base:<hash>  debootstrap --variant=minbase of Debian bookworm with
#                                      containerd, runc, CNI plugins, iptables, ... (Debian's mirror
#                                      from /etc/apt), `docker import`ed
#   safe-drain.local/node:<hash>       + kubelet, kube-proxy (cluster/build/build-binaries.sh --node),
#                                      the node's entrypoint/configs (cluster/build/node/) and the pod
#                                      images as tars (imported into containerd at node start)
#   safe-drain.local/pause:<hash>      FROM scratch: a static pause (cluster/build/node/pause)
#   safe-drain.local/web:<hash>        FROM scratch: static busybox httpd behind a wrapper that
#                                      shuts down gracefully on SIGTERM
# Prints three lines on stdout: node=<image> pause=<image> web=<image>.
# Run as root (debootstrap, apt-get). Slow steps run under `nice -n 19`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
nodedir="$repo/cluster/build/node"
cache_root=${SAFE_DRAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/safe-drain}
suite=bookworm
packages=containerd,runc,containernetworking-plugins,iptables,conntrack,iproute2,procps,ca-certificates,kmod,util-linux,mount

log() { printf '[build-node-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
hash_of() { sha256sum | cut -c1-16; }
# The image carrying this content hash, if built before.
cached_image() { docker images --filter "label=safe-drain.content-hash=$1" --format '{{.Repository}}:{{.Tag}}' | grep -v '<none>' | head -n1; }
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@" >&2
}

mkdir -p "$cache_root"
exec 9>"$cache_root/node-image.lock"
flock 9

# Host tools the backend and its tests use: nsenter (a route inside the ClusterIP probe's own
# network namespace), ip and iptables (the leftovers check).
missing=()
command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
[ ${#missing[@]} -eq 0 ] || { log "installing ${missing[*]}"; apt_install "${missing[@]}"; }

# ---- node base: debootstrap ---------------------------------------------------------------------
# On Debian, the machine's own mirror; elsewhere (an Ubuntu runner) debootstrap's default Debian
# mirror, or SAFE_DRAIN_DEBIAN_MIRROR.
mirror=${SAFE_DRAIN_DEBIAN_MIRROR:-}
if [ -z "$mirror" ] && grep -qx 'ID=debian' /etc/os-release 2>/dev/null; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || { log "no Debian mirror configured in /etc/apt"; exit 1; }
fi
base_hash=$(printf 'v1 %s %s\n' "$suite" "$packages" | hash_of)
base=$(cached_image "$base_hash" || true)
if [ -z "$base" ]; then
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  rootfs=$(mktemp -d /var/tmp/safe-drain-node-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  start=$(date +%s)
  log "debootstrap $suite (minbase + $packages) from ${mirror:-the default mirror of debootstrap}; takes a minute or two"
  # shellcheck disable=SC2086 # $mirror is one word or nothing
  nice -n 19 debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" $mirror >"$rootfs.log" 2>&1 \
    || { tail -n 30 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
  rm -f "$rootfs.log"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  base="safe-drain.local/node-base:$base_hash"
  tar -C "$rootfs" -c . | docker import --change "LABEL safe-drain.content-hash=$base_hash" - "$base" >/dev/null
  rm -rf "$rootfs"; trap - EXIT
  log "built $base in $(( $(date +%s) - start ))s"
else
  log "cached: $base"
fi
echo "base=$base"

# ---- pod images: FROM scratch ---------------------------------------------------------------------
ctx=$(mktemp -d /var/tmp/safe-drain-node-ctx.XXXXXX)
trap 'rm -rf "$ctx"' EXIT

# Imports directory $2 as image repo $1, tagged and labelled with the hash of $3 (content).
import_dir() {
  local repo=$1 dir=$2 hash=$3 entrypoint=$4
  local image="$repo:$hash"
  tar -C "$dir" -c . | docker import --change "LABEL safe-drain.content-hash=$hash" --change "ENTRYPOINT $entrypoint" - "$image" >/dev/null
  echo "$image"
}

busybox=""
for c in /bin/busybox /usr/bin/busybox; do [ -x "$c" ] && { busybox=$c; break; }; done
if [ -z "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
  log "installing Debian's busybox-static"; apt_install busybox-static; busybox=/bin/busybox
fi

# pause: a static Go binary (CGO_ENABLED=0).
go_src_hash=$(cat "$nodedir/pause/main.go" "$nodedir/pause/go.mod" | hash_of)
pause_hash=$(printf 'pause v2 %s\n' "$go_src_hash" | hash_of)
pause=$(cached_image "$pause_hash" || true)
if [ -z "$pause" ]; then
  mkdir -p "$ctx/pause-root"
  (cd "$nodedir/pause" && CGO_ENABLED=0 GOFLAGS='' nice -n 19 go build -trimpath -ldflags '-s -w' -o "$ctx/pause-root/pause" .)
  pause=$(import_dir safe-drain.local/pause "$ctx/pause-root" "$pause_hash" '["/pause"]')
  log "built $pause"
fi

# web: static busybox (httpd, sh, ...) and the wrapper.
web_hash=$( (sha256sum "$busybox" "$nodedir/web.sh" | cut -d' ' -f1; echo 'web v2') | hash_of)
web=$(cached_image "$web_hash" || true)
if [ -z "$web" ]; then
  r="$ctx/web-root"
  mkdir -p "$r/bin" "$r/tmp" "$r/www" "$r/etc"
  cp "$busybox" "$r/bin/busybox"
  for applet in sh httpd hostname sleep kill wait mkdir cat wget echo; do ln -sf busybox "$r/bin/$applet"; done
  install -m 0755 "$nodedir/web.sh" "$r/web"
  printf 'root:x:0:0:root:/:/bin/sh\n' >"$r/etc/passwd"
  printf 'root:x:0:\n' >"$r/etc/group"
  web=$(import_dir safe-drain.local/web "$r" "$web_hash" '["/web"]')
  log "built $web"
fi

# ---- node image -----------------------------------------------------------------------------------
nodebin=$(bash "$repo/cluster/build/build-binaries.sh" --node | tail -n1)
node_hash=$( (echo "node v1 $base $pause $web"; sha256sum "$nodebin/kubelet" "$nodebin/kube-proxy" \
  "$nodedir/entrypoint.sh" "$nodedir/kubelet-start.sh" "$nodedir/kubelet-stop.sh" "$nodedir/containerd-config.toml" \
  "$nodedir/Dockerfile" | cut -d' ' -f1) | hash_of)
node=$(cached_image "$node_hash" || true)
if [ -z "$node" ]; then
  start=$(date +%s)
  mkdir -p "$ctx/node/bin" "$ctx/node/images"
  cp "$nodebin/kubelet" "$nodebin/kube-proxy" "$ctx/node/bin/"
  install -m 0755 "$nodedir/entrypoint.sh" "$ctx/node/bin/node-entrypoint"
  install -m 0755 "$nodedir/kubelet-start.sh" "$ctx/node/bin/kubelet-start"
  install -m 0755 "$nodedir/kubelet-stop.sh" "$ctx/node/bin/kubelet-stop"
  sed "s|@PAUSE_IMAGE@|$pause|" "$nodedir/containerd-config.toml" >"$ctx/node/containerd-config.toml"
  cp "$nodedir/Dockerfile" "$ctx/node/Dockerfile"
  docker save -o "$ctx/node/images/pause.tar" "$pause"
  docker save -o "$ctx/node/images/web.tar" "$web"
  node="safe-drain.local/node:$node_hash"
  # The classic builder: FROM a local image, never a pull.
  DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$base" --label "safe-drain.content-hash=$node_hash" -t "$node" "$ctx/node" >/dev/null
  log "built $node in $(( $(date +%s) - start ))s"
else
  log "cached: $node"
fi
# Older builds of these images are garbage now (an image a running node still uses stays: rmi fails).
for img in "$base" "$node" "$pause" "$web"; do
  docker images --format '{{.Repository}}:{{.Tag}}' "${img%%:*}" | grep -vx "$img" | xargs -r docker rmi >/dev/null 2>&1 || true
done
echo "node=$node"
echo "pause=$pause"
echo "web=$web"
