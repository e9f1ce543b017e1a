#!/usr/bin/env bash
# The compatibility stage of scripts/test.sh (.ci/run): the compatibility subset of the
# integration suite on the oldest supported Kubernetes release (compat/versions.json "oldest").
#   scripts/compat.sh build    build (or find) that release's binaries; test.sh starts it in the
#                              background early, so the Go build overlaps the other stages
#   scripts/compat.sh run      npm run compat -- --only oldest: the table, compat-results/summary.json;
#                              last line "P passed, F failed" (a missing summary counts one failure)
set -uo pipefail
cd "$(dirname "$0")/.."
oldest=$(node -p 'require("./compat/versions.json").oldest') || exit 1

case "${1:-}" in
  build)
    start=$(date +%s)
    # Niced: it compiles while the integration tests run, and their timings come first.
    nice -n 10 bash cluster/build/build-binaries.sh "$oldest" || exit 1
    echo "Kubernetes $oldest binaries ready in $(( $(date +%s) - start )) s"
    ;;
  run)
    rm -f compat-results/summary.json
    npx tsx compat/run.ts --only oldest
    rc=$?
    if [ -f compat-results/summary.json ]; then
      node -e 'const r=require(process.argv[1]);console.log(`${r.reduce((n,x)=>n+x.passed,0)} passed, ${r.reduce((n,x)=>n+x.failed,0)} failed`)' "$PWD/compat-results/summary.json"
    else
      echo "0 passed, 1 failed"
    fi
    exit "$rc"
    ;;
  *)
    echo "usage: $0 build|run" >&2
    exit 2
    ;;
esac
