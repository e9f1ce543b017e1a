#!/usr/bin/env bash
# Lints the GitHub Actions files:
#   1. every workflow in .github/workflows with actionlint (installed from the Go module proxy
#      into a cache outside the repo, reused when present; it runs shellcheck on `run:` scripts
#      when shellcheck is on PATH, and says so below);
#   2. the example workflows in examples/workflows, each with its `uses: your-org/safe-drain@v1`
#      read as `uses: ./`, so actionlint checks their inputs and outputs against action.yml;
#   3. action.yml with scripts/check-action-yml.mjs (actionlint does not check action metadata).
# Exits non-zero on any problem.
#   SAFE_DRAIN_CACHE  cache root (default: $XDG_CACHE_HOME/safe-drain or ~/.cache/safe-drain)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

actionlint_version=v1.7.12
cache_root=${SAFE_DRAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/safe-drain}
tools="$cache_root/tools/actionlint-$actionlint_version"
actionlint="$tools/actionlint"

log() { printf '[lint-workflows] %s\n' "$*" >&2; }

if [ -x "$actionlint" ] && "$actionlint" -version >/dev/null 2>&1; then
  log "actionlint $actionlint_version (cached: $actionlint)"
else
  command -v go >/dev/null 2>&1 || { log "Go is needed to install actionlint (go install github.com/rhysd/actionlint/cmd/actionlint@$actionlint_version)"; exit 1; }
  log "installing actionlint $actionlint_version into $tools"
  mkdir -p "$tools"
  GOBIN="$tools" GOFLAGS="" go install "github.com/rhysd/actionlint/cmd/actionlint@$actionlint_version" >&2
fi

status=0
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [ ${#workflows[@]} -eq 0 ]; then
  log "no workflow files in .github/workflows"
  status=1
else
  # actionlint runs shellcheck on every run: script when it is on PATH (GitHub's ubuntu runners
  # have it): install Debian's package where we can, so every machine lints the same way.
  if ! command -v shellcheck >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's shellcheck"
    (apt-get -o DPkg::Lock::Timeout=300 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq shellcheck) >&2 ||
      log "could not install shellcheck"
  fi
  if command -v shellcheck >/dev/null 2>&1; then
    log "shellcheck $(shellcheck --version | awk '/^version:/{print $2}') found: actionlint checks run: scripts with it"
  else
    log "WARNING: shellcheck not installed: actionlint skips the shell checks of run: scripts"
  fi
  if "$actionlint" -no-color "${workflows[@]}"; then
    log "actionlint: ${#workflows[@]} workflows OK (${workflows[*]})"
  else
    log "actionlint found problems"
    status=1
  fi
fi

# The examples name the action as a user would (`your-org/safe-drain@v1`), which actionlint cannot
# look up; as `./` it checks every `with:` key and `outputs.*` against this repository's action.yml.
examples=(examples/workflows/*.yml examples/workflows/*.yaml)
if [ ${#examples[@]} -eq 0 ]; then
  log "no example workflows in examples/workflows"
  status=1
else
  for example in "${examples[@]}"; do
    if ! grep -q 'uses: your-org/safe-drain@v1' "$example"; then
      log "$example does not use the action as your-org/safe-drain@v1: its inputs would go unchecked"
      status=1
    fi
    if sed 's#uses: your-org/safe-drain@v1#uses: ./#' "$example" | "$actionlint" -no-color -stdin-filename "$example" -; then :; else status=1; fi
  done
  [ "$status" -ne 0 ] || log "actionlint: ${#examples[@]} example workflows OK (${examples[*]})"
fi

if node scripts/check-action-yml.mjs action.yml; then :; else status=1; fi
exit "$status"
