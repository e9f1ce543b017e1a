#!/bin/bash
# Entrypoint of a real-nodes node container (image safe-drain.local/node; started by
# cluster/src/real-nodes with an init as PID 1, so a killed kubelet is reaped). Per-node files are
# copied into /etc/safe-drain before start: node.env (NODE_NAME), ca.crt, kubelet.kubeconfig,
# kubelet-config.yaml, kube-proxy.kubeconfig, kube-proxy-config.yaml, and the CNI config in
# /etc/cni/net.d. Starts containerd, imports the local pod images, starts kube-proxy and the kubelet,
# prints "safe-drain node ready", then lives as long as containerd does.
set -euo pipefail
source /etc/safe-drain/node.env
log() { echo "[node $NODE_NAME $(date +%H:%M:%S)] $*"; }

# Docker mounts the cgroup hierarchies read-only in an unprivileged container; the kubelet creates
# kubepods/ under each (in the container's private cgroup namespace, i.e. below its own cgroup).
if [ -d /sys/fs/cgroup ]; then
  mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true
  for d in /sys/fs/cgroup/*; do
    [ -L "$d" ] && continue
    mount -o remount,bind,rw "$d" 2>/dev/null || true
  done
fi
# cgroup v2 (e.g. GitHub-hosted runners; NOT tried yet, our hosts are v1): a cgroup with processes
# cannot delegate controllers, so this node's processes move to a child cgroup first (as kind does).
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
  sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control || true
fi
# Pod volumes mounted by the kubelet must propagate into containers.
mount --make-rshared /

# Routing between pods (cni0) and nodes; bridged pod traffic must pass kube-proxy's iptables rules.
sysctl -qw net.ipv4.ip_forward=1
modprobe br_netfilter 2>/dev/null || true
sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || log "warning: net.bridge.bridge-nf-call-iptables not settable"

log "starting containerd"
containerd --config /etc/containerd/config.toml >>/var/log/containerd.log 2>&1 &
containerd_pid=$!
for _ in $(seq 1 150); do
  ctr version >/dev/null 2>&1 && break
  kill -0 "$containerd_pid" 2>/dev/null || { log "containerd exited:"; tail -n 30 /var/log/containerd.log; exit 1; }
  sleep 0.2
done
ctr version >/dev/null 2>&1 || { log "containerd did not answer within 30 s"; tail -n 30 /var/log/containerd.log; exit 1; }

for t in /opt/safe-drain/images/*.tar; do
  ctr -n k8s.io images import --no-unpack "$t" >/dev/null
done
log "imported pod images: $(ctr -n k8s.io images ls -q | grep -v '^sha256:' | tr '\n' ' ')"

node_ip=$(ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1 | head -n1)
log "starting kube-proxy ($node_ip)"
setsid kube-proxy --config=/etc/safe-drain/kube-proxy-config.yaml --hostname-override="$NODE_NAME" \
  >>/var/log/kube-proxy.log 2>&1 </dev/null &
/usr/local/bin/kubelet-start
log "safe-drain node ready"
wait "$containerd_pid"
log "containerd exited"
tail -n 30 /var/log/containerd.log
exit 1
