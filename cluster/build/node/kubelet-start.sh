#!/bin/bash
# Starts the kubelet detached (a new session, reparented to the container's init), its pid in
# /run/kubelet.pid. Used by the entrypoint and by `start-kubelet` (docker exec). No-op when running.
set -euo pipefail
source /etc/safe-drain/node.env
if [ -f /run/kubelet.pid ] && kill -0 "$(cat /run/kubelet.pid)" 2>/dev/null; then
  echo "kubelet already running (pid $(cat /run/kubelet.pid))"
  exit 0
fi
node_ip=$(ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1 | head -n1)
echo "--- kubelet start $(date -u +%FT%TZ)" >>/var/log/kubelet.log
setsid kubelet --config=/etc/safe-drain/kubelet-config.yaml --kubeconfig=/etc/safe-drain/kubelet.kubeconfig \
  --hostname-override="$NODE_NAME" --node-ip="$node_ip" --v="${KUBELET_VERBOSITY:-1}" \
  >>/var/log/kubelet.log 2>&1 </dev/null &
echo $! >/run/kubelet.pid
echo "kubelet started (pid $!)"
