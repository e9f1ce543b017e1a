#!/usr/bin/env bash
# Makes a Docker Engine reachable for the testcontainers tests (test/docker), idempotently:
#   1. `docker info` already answers            -> nothing to do.
#   2. no dockerd binary                        -> apt-get install docker.io (Debian's package).
#   3. dockerd not running                      -> start it in the background (log: $DOCKERD_LOG).
#   4. wait (up to $DOCKER_WAIT_SECONDS, default 120) until `docker info` answers.
#   5. if the daemon exits or never answers: stop it, clear its runtime state, start it once more;
#      if its log blames iptables, that second start is without iptables rules (the tests only
#      use networks they create and ports published on loopback).
# Prints what it did on stderr; exits non-zero (with the dockerd log tail) if the daemon never
# answers. Run as root (it installs packages and starts a daemon).
#
# This only starts an engine for unprivileged containers from local images: it does NOT make
# kind possible here (kind needs privileged containers and pulled images).
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/tmp/dockerd.log}
DOCKER_WAIT_SECONDS=${DOCKER_WAIT_SECONDS:-120}

log() { printf '[start-docker %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

docker_ok() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

# Retries a command that fails on a transient network or lock error (apt).
retry() {
  local attempt
  for attempt in 1 2 3; do
    "$@" && return 0
    log "attempt $attempt of 3 failed: $*"
    sleep $((attempt * 5))
  done
  return 1
}

install_engine() {
  if [ "$(id -u)" != 0 ]; then
    log "dockerd is not installed and this is not root: cannot apt-get install docker.io"
    exit 1
  fi
  log "dockerd not installed: apt-get install docker.io"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt run (a colleague's, unattended-upgrades) may hold the lock: wait for it.
  local apt_opts=(-o DPkg::Lock::Timeout=300)
  retry apt-get "${apt_opts[@]}" update -qq >&2
  retry apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends docker.io >&2
  log "installed: $(dockerd --version 2>/dev/null || echo '?')"
}

# A pid file left by a daemon that is gone (a machine restored from a snapshot, a killed daemon)
# makes dockerd refuse to start, or wait on a containerd that is not there, whenever some other
# process now has that pid. Only cleared when no dockerd or containerd runs.
clear_stale_state() {
  if pgrep -x dockerd >/dev/null 2>&1 || pgrep -x containerd >/dev/null 2>&1; then return 0; fi
  local f
  for f in /var/run/docker.pid /var/run/docker/containerd/containerd.pid /var/run/docker/containerd/containerd.sock; do
    if [ -e "$f" ]; then log "removing $f (left by a daemon that no longer runs)"; rm -f "$f"; fi
  done
}

start_daemon() {
  clear_stale_state
  log "starting dockerd $* in the background (log: $DOCKERD_LOG)"
  # setsid + nohup: the daemon outlives this script and its shell.
  setsid nohup dockerd "$@" >"$DOCKERD_LOG" 2>&1 </dev/null &
  log "dockerd started (pid $!)"
}

stop_daemon() {
  pkill -x dockerd 2>/dev/null || true
  local i
  for i in $(seq 1 20); do pgrep -x dockerd >/dev/null 2>&1 || break; sleep 0.5; done
  pkill -9 -x dockerd 2>/dev/null || true
  pkill -x containerd 2>/dev/null || true
  sleep 1
}

# Waits until the daemon answers; returns 1 (with the log tail) if it exits or the bound passes.
wait_for_daemon() {
  local deadline=$((SECONDS + DOCKER_WAIT_SECONDS))
  until docker_ok; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "docker daemon did not answer within ${DOCKER_WAIT_SECONDS}s; last lines of $DOCKERD_LOG:"
      tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || true
      return 1
    fi
    if ! pgrep -x dockerd >/dev/null 2>&1; then
      log "dockerd exited; last lines of $DOCKERD_LOG:"
      tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || true
      return 1
    fi
    sleep 1
  done
}

if docker_ok; then
  log "docker daemon already reachable ($(docker info --format '{{.ServerVersion}}' 2>/dev/null)); nothing to do"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v containerd >/dev/null 2>&1; then
  install_engine
else
  log "dockerd present: $(dockerd --version 2>/dev/null || echo '?')"
fi

if pgrep -x dockerd >/dev/null 2>&1; then
  log "dockerd already running (pid $(pgrep -x dockerd | head -n1)); waiting for it to answer"
else
  start_daemon
fi

if ! wait_for_daemon; then
  retry_args=()
  if grep -qi iptables "$DOCKERD_LOG" 2>/dev/null; then retry_args=(--iptables=false --ip6tables=false); fi
  cp "$DOCKERD_LOG" "$DOCKERD_LOG.first" 2>/dev/null || true
  log "second start (the first one's log: $DOCKERD_LOG.first)"
  stop_daemon
  start_daemon "${retry_args[@]}"
  wait_for_daemon || exit 1
fi
log "docker daemon reachable: server $(docker info --format '{{.ServerVersion}}'), storage driver $(docker info --format '{{.Driver}}'), cgroup $(docker info --format '{{.CgroupVersion}}')"
