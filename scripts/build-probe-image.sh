#!/usr/bin/env bash
# Builds a tiny local image for the probe tests (test/docker) without pulling anything:
# Debian's static busybox (package busybox-static, installed if missing) in an empty rootfs,
# every applet linked into /bin, imported with `docker import`. Idempotent: an existing image
# is kept unless --force. Prints the image name on the last line of stdout.
#
#   PROBE_IMAGE   image name (default safe-drain/busybox:local)
set -euo pipefail

image=${PROBE_IMAGE:-safe-drain/busybox:local}
force=false
[ "${1:-}" = "--force" ] && force=true

log() { printf '[build-probe-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if ! $force && docker image inspect "$image" >/dev/null 2>&1; then
  log "image $image already present"
  echo "$image"
  exit 0
fi

busybox=""
for candidate in /usr/bin/busybox /bin/busybox; do
  if [ -x "$candidate" ]; then busybox=$candidate; break; fi
done
# Only a statically linked busybox runs in an empty rootfs.
if [ -z "$busybox" ] || ! "$busybox" --list >/dev/null 2>&1 || ldd "$busybox" >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    log "no static busybox and not root: install Debian's busybox-static first"
    exit 1
  fi
  log "installing Debian's busybox-static"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq busybox-static >&2
  busybox=/bin/busybox
  [ -x "$busybox" ] || busybox=/usr/bin/busybox
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/www" "$root/etc" "$root/root"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
tar -C "$root" -cf "$root.tar" .
docker import --change 'ENV PATH=/bin' --change 'CMD ["sh"]' "$root.tar" "$image" >/dev/null
rm -f "$root.tar"
log "imported $image from $busybox ($("$busybox" | head -n1))"
echo "$image"
