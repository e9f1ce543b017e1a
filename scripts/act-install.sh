#!/usr/bin/env bash
# Makes nektos/act (a real GitHub Actions runner implementation) available for
# test/integration/act-self-test.test.ts: built from the Go module proxy with `go install` into a
# cache outside the repo, reused when present. Prints the binary's path on the last line of stdout.
# Exits non-zero, saying why, when it cannot (no Go, no module proxy): the test then fails; it
# never skips. scripts/test.sh starts it beside the Go build of the cluster binaries; a lock makes
# the test wait for that build instead of starting a second one.
#   SAFE_DRAIN_CACHE  cache root (default: $XDG_CACHE_HOME/safe-drain or ~/.cache/safe-drain)
set -euo pipefail

act_version=v0.2.89
cache_root=${SAFE_DRAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/safe-drain}
bin_dir="$cache_root/act/bin"
act="$bin_dir/act"

log() { printf '[act-install %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cached() { [ -x "$act" ] && "$act" --version 2>/dev/null | grep -q "${act_version#v}"; }

if cached; then
  log "act $act_version (cached: $act)"
  echo "$act"
  exit 0
fi
mkdir -p "$bin_dir"
exec 9>"$cache_root/act.lock"
flock 9
if cached; then
  log "act $act_version (built by another process: $act)"
  echo "$act"
  exit 0
fi
command -v go >/dev/null 2>&1 || { log "Go is needed to build act (go install github.com/nektos/act@$act_version)"; exit 1; }
log "building act $act_version into $bin_dir (a few minutes on a cold Go cache)"
start=$(date +%s)
# nice: the build shares the machine with the cluster binaries' build and running tests.
GOBIN="$bin_dir" GOFLAGS="" nice -n 10 go install "github.com/nektos/act@$act_version" >&2
"$act" --version >&2
log "done in $(( $(date +%s) - start ))s"
echo "$act"
