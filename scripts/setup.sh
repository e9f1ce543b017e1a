#!/usr/bin/env bash
# Sets a checkout up to run safe-drain and the local cluster: Node 24 (installed when the
# machine's node is older), the npm packages, and the cluster's binaries (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, built once from the Go module
# proxy into ~/.cache/safe-drain: about 10 minutes cold on 2 cores, instant when cached).
# Progress goes to stderr; the last line of stdout is the binaries' directory.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-node24.sh
if ! { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; }; then
  npm ci --no-audit --no-fund >&2
fi
bash cluster/build/build-binaries.sh | tail -n 1
