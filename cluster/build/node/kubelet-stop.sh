#!/bin/bash
# Kills the kubelet (SIGKILL, like a crashed or hung kubelet; pods keep running under containerd)
# and waits until it is gone (bounded: 10 s). Used by `stop-kubelet` (docker exec).
set -euo pipefail
[ -f /run/kubelet.pid ] || { echo "kubelet not running (no pid file)"; exit 0; }
pid=$(cat /run/kubelet.pid)
kill -KILL "$pid" 2>/dev/null || true
for _ in $(seq 1 100); do
  kill -0 "$pid" 2>/dev/null || { rm -f /run/kubelet.pid; echo "kubelet (pid $pid) killed"; exit 0; }
  sleep 0.1
done
echo "kubelet (pid $pid) still alive 10 s after SIGKILL" >&2
exit 1
